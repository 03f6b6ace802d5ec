"""held mutation outcomes and conflict notices in the pull feed; held mutations capped per user

For issue 14 (every mutation reaches a final outcome the device can read; held mutations capped
and expiring). Written by hand; the ChangeLogEntry and HeldMutation models declare the same:
- change_log.user_id: set on an entry meant for one user only, the final outcome of a mutation
  their device sent that was `held` (entity "mutation"). Pull shows such an entry to that user
  alone, whatever audits they may pull; it has no audit_id. Indexed like the table's other keys.
- change_log.data: the entry's payload when it is an event, not an entity's current state: a
  settled mutation's result never changes, so pull sends the snapshot and reads no other table.
  Null for every other entry (answers, audits, conflicts... are read from their own tables).
- ix_held_mutations_actor_id: the per-user cap on held mutations counts a user's rows on every push
  that holds something (the per-device count uses the primary key's first column).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 03:30:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('change_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_change_log_user_id_users'), 'users', ['user_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_change_log_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('held_mutations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_held_mutations_actor_id'), ['actor_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('held_mutations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_held_mutations_actor_id'))
    with op.batch_alter_table('change_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_change_log_user_id'))
        batch_op.drop_constraint(batch_op.f('fk_change_log_user_id_users'), type_='foreignkey')
        batch_op.drop_column('data')
        batch_op.drop_column('user_id')
