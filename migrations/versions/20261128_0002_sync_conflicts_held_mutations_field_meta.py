"""sync conflicts, held mutations, field meta

For offline sync (issue [2/6]): per-field change metadata on device-edited rows (so a stale edit of
an untouched field applies while a clash is kept as a conflict), the conflicts the reviewer
resolves, and mutations held until their parent audit arrives. Reviewed by hand: existing rows get
an empty field_meta through the server default. processed_mutations.version lets a replay of an
applied mutation be answered from plain columns, without reading its JSON result.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 16:47:33.787635
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('held_mutations',
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('mutation_id', sa.Uuid(), nullable=False),
    sa.Column('parent_audit_id', sa.Uuid(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('mutation', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_held_mutations_actor_id_users')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_held_mutations_device_id_devices')),
    sa.PrimaryKeyConstraint('device_id', 'mutation_id', name=op.f('pk_held_mutations'))
    )
    with op.batch_alter_table('held_mutations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_held_mutations_parent_audit_id'), ['parent_audit_id'], unique=False)

    op.create_table('sync_conflicts',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('audit_id', sa.Uuid(), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('field', sa.String(length=60), nullable=False),
    sa.Column('base_version', sa.Integer(), nullable=False),
    sa.Column('server_value', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('device_value', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('mutation_id', sa.Uuid(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_sync_conflicts_actor_id_users')),
    sa.ForeignKeyConstraint(['audit_id'], ['audits.id'], name=op.f('fk_sync_conflicts_audit_id_audits')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_sync_conflicts_resolved_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_conflicts'))
    )
    with op.batch_alter_table('sync_conflicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_conflicts_audit_id'), ['audit_id'], unique=False)

    with op.batch_alter_table('processed_mutations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=True))
        batch_op.alter_column('result', existing_type=postgresql.JSONB(astext_type=sa.Text()),
                              nullable=True)

    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('field_meta', postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default=sa.text("'{}'")))

    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('field_meta', postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default=sa.text("'{}'")))

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('field_meta', postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default=sa.text("'{}'")))

    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('field_meta', postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default=sa.text("'{}'")))

    with op.batch_alter_table('policy_checks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('field_meta', postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default=sa.text("'{}'")))




def downgrade() -> None:
    with op.batch_alter_table('processed_mutations', schema=None) as batch_op:
        batch_op.drop_column('version')
        batch_op.alter_column('result', existing_type=postgresql.JSONB(astext_type=sa.Text()),
                              nullable=False)

    with op.batch_alter_table('policy_checks', schema=None) as batch_op:
        batch_op.drop_column('field_meta')

    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_column('field_meta')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('field_meta')

    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_column('field_meta')

    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_column('field_meta')

    with op.batch_alter_table('sync_conflicts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_conflicts_audit_id'))

    op.drop_table('sync_conflicts')
    with op.batch_alter_table('held_mutations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_held_mutations_parent_audit_id'))

    op.drop_table('held_mutations')

