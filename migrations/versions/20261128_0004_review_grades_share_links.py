"""review: comments, QoE grades and moderation, share links, audit scores and snapshots

For scoring, review and moderation (issue [4/6]). Written by hand:
- audits: `returned_at`, `review_round` (times returned; existing rows 0), `section_rags` (server
  scores), `snapshot` (everything the reports need, frozen at finalisation).
- actions: who confirmed the action at review and when, when the provider reported it done (which
  never closes it), and the evidence a verifier relied on.
- sync_conflicts: the value the reviewer kept and why.
- review_comments: per item (or whole-audit) comments when an audit is returned.
- qoe_grades: one row per audit and judgement area (or "overall"); a moderator may never be the
  grader, and a changed grade needs a reason — both enforced by CHECKs as well as the services.
- share_links: expiring read-only links (provider action plans); only the token's SHA-256 is kept.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 19:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

JSON = postgresql.JSONB(astext_type=sa.Text())
GRADES = "'strong', 'secure', 'developing', 'weak'"


def upgrade() -> None:
    with op.batch_alter_table('audits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('review_round', sa.Integer(), nullable=False, server_default=sa.text('0')))
        batch_op.add_column(sa.Column('section_rags', JSON, nullable=True))
        batch_op.add_column(sa.Column('snapshot', JSON, nullable=True))
    with op.batch_alter_table('audits', schema=None) as batch_op:
        batch_op.alter_column('review_round', server_default=None)

    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verification_evidence_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('confirmed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('provider_reported_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_actions_verification_evidence_id_evidence'), 'evidence',
                                    ['verification_evidence_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_actions_confirmed_by_id_users'), 'users', ['confirmed_by_id'], ['id'])

    with op.batch_alter_table('sync_conflicts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chosen_value', JSON, nullable=True))
        batch_op.add_column(sa.Column('resolution_note', sa.Text(), nullable=True))

    op.create_table('review_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.Uuid(), nullable=False),
    sa.Column('item_key', sa.String(length=20), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('review_round', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('addressed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("body <> ''", name=op.f('ck_review_comments_body_present')),
    sa.ForeignKeyConstraint(['audit_id'], ['audits.id'], name=op.f('fk_review_comments_audit_id_audits')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_review_comments_author_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_comments'))
    )
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_comments_audit_id'), ['audit_id'], unique=False)

    op.create_table('qoe_grades',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.Uuid(), nullable=False),
    sa.Column('area', sa.String(length=40), nullable=False),
    sa.Column('grade', sa.String(length=20), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=True),
    sa.Column('graded_by_id', sa.Integer(), nullable=False),
    sa.Column('graded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('moderation', sa.String(length=20), nullable=True),
    sa.Column('moderated_grade', sa.String(length=20), nullable=True),
    sa.Column('moderation_reason', sa.Text(), nullable=True),
    sa.Column('moderated_by_id', sa.Integer(), nullable=True),
    sa.Column('moderated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint(f"grade IN ({GRADES})", name=op.f('ck_qoe_grades_grade_valid')),
    sa.CheckConstraint(f"moderated_grade IN ({GRADES})", name=op.f('ck_qoe_grades_moderated_grade_valid')),
    sa.CheckConstraint("moderation IN ('agreed', 'changed')", name=op.f('ck_qoe_grades_moderation_valid')),
    sa.CheckConstraint('moderated_by_id IS NULL OR moderated_by_id <> graded_by_id',
                       name=op.f('ck_qoe_grades_moderator_not_grader')),
    sa.CheckConstraint("moderation IS NULL OR moderation <> 'changed' OR "
                       "(moderation_reason IS NOT NULL AND length(moderation_reason) > 0)",
                       name=op.f('ck_qoe_grades_changed_grade_has_reason')),
    sa.ForeignKeyConstraint(['audit_id'], ['audits.id'], name=op.f('fk_qoe_grades_audit_id_audits')),
    sa.ForeignKeyConstraint(['graded_by_id'], ['users.id'], name=op.f('fk_qoe_grades_graded_by_id_users')),
    sa.ForeignKeyConstraint(['moderated_by_id'], ['users.id'], name=op.f('fk_qoe_grades_moderated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qoe_grades')),
    sa.UniqueConstraint('audit_id', 'area', name=op.f('uq_qoe_grades_audit_id_area'))
    )

    op.create_table('share_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=30), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("purpose IN ('action_plan')", name=op.f('ck_share_links_purpose_valid')),
    sa.CheckConstraint('length(token_sha256) = 64', name=op.f('ck_share_links_token_sha256_hex')),
    sa.ForeignKeyConstraint(['audit_id'], ['audits.id'], name=op.f('fk_share_links_audit_id_audits')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_share_links_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_share_links')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_share_links_token_sha256'))
    )
    with op.batch_alter_table('share_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_share_links_audit_id'), ['audit_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('share_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_share_links_audit_id'))
    op.drop_table('share_links')
    op.drop_table('qoe_grades')
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_comments_audit_id'))
    op.drop_table('review_comments')
    with op.batch_alter_table('sync_conflicts', schema=None) as batch_op:
        batch_op.drop_column('resolution_note')
        batch_op.drop_column('chosen_value')
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_actions_confirmed_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_actions_verification_evidence_id_evidence'), type_='foreignkey')
        for column in ('provider_reported_at', 'confirmed_at', 'confirmed_by_id', 'verification_evidence_id'):
            batch_op.drop_column(column)
    with op.batch_alter_table('audits', schema=None) as batch_op:
        for column in ('snapshot', 'section_rags', 'review_round', 'returned_at'):
            batch_op.drop_column(column)
