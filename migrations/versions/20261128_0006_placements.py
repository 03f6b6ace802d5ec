"""placements: notifications of AP placements, their reviews, and the read-only la_officer role

For placement notifications and the strategy's success measures (issue [6/6]). Written by hand:
- users.role may now be `la_officer` (a read-only LA role for the dashboard).
- notifications.kind may now be `placement_submitted` (the LA is told of each notification).
- placements: the Appendix A placement sheet, minimised (initials, year group, date of birth, the
  UPN only as a keyed hash). A partial unique index refuses a second notification of the same
  pupil, provider and dates (drafts excluded). CHECKs: end on/after start, hours 0-40, year group,
  attendance 0-100 %, enumerations.
- placement_reviews: half-termly reviews with a short progress record.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 20:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

OLD_ROLES = "'auditor', 'qoe_teacher', 'maintainer', 'school', 'admin'"
NEW_ROLES = OLD_ROLES + ", 'la_officer'"
OLD_KINDS = "'status_changed', 'placement_affected'"
NEW_KINDS = OLD_KINDS + ", 'placement_submitted'"
NOT_DRAFT = sa.text("status <> 'draft'")


def _replace_check(table: str, name: str, condition: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f(name), type_='check')
        batch_op.create_check_constraint(batch_op.f(name), condition)


def upgrade() -> None:
    _replace_check('users', 'ck_users_role_valid', f"role IN ({NEW_ROLES})")
    _replace_check('notifications', 'ck_notifications_kind_valid', f"kind IN ({NEW_KINDS})")

    op.create_table('placements',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('pupil_initials', sa.String(length=4), nullable=True),
    sa.Column('year_group', sa.Integer(), nullable=True),
    sa.Column('date_of_birth', sa.Date(), nullable=True),
    sa.Column('upn_sha256', sa.String(length=64), nullable=True),
    sa.Column('send_support', sa.Boolean(), nullable=False),
    sa.Column('has_ehcp', sa.Boolean(), nullable=False),
    sa.Column('health_needs', sa.Boolean(), nullable=False),
    sa.Column('sensitive_notes', sa.String(length=500), nullable=True),
    sa.Column('contact_name', sa.String(length=200), nullable=True),
    sa.Column('contact_role', sa.String(length=100), nullable=True),
    sa.Column('contact_email', sa.String(length=254), nullable=True),
    sa.Column('contact_phone', sa.String(length=40), nullable=True),
    sa.Column('attendance_at_referral', sa.Numeric(precision=5, scale=1), nullable=True),
    sa.Column('interventions', sa.Text(), nullable=True),
    sa.Column('family_support', sa.Text(), nullable=True),
    sa.Column('safety_information', sa.Text(), nullable=True),
    sa.Column('risk_assessment_ref', sa.String(length=100), nullable=True),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('conditions_acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hours_per_week', sa.Numeric(precision=4, scale=1), nullable=True),
    sa.Column('part_time', sa.Boolean(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('learning_outcomes', sa.Text(), nullable=True),
    sa.Column('success_measures', sa.Text(), nullable=True),
    sa.Column('exit_strategy', sa.Text(), nullable=True),
    sa.Column('child_voice', sa.Text(), nullable=True),
    sa.Column('family_voice', sa.Text(), nullable=True),
    sa.Column('other_ap', sa.Text(), nullable=True),
    sa.Column('attendance_code', sa.String(length=1), nullable=True),
    sa.Column('re_referral_of_id', sa.Uuid(), nullable=True),
    sa.Column('outcome', sa.String(length=30), nullable=True),
    sa.Column('outcome_note', sa.Text(), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'submitted', 'ended')", name=op.f('ck_placements_status_valid')),
    sa.CheckConstraint("outcome IN ('returned_full_time', 'moved_setting', 'post_16', 're_referred', 'other')",
                       name=op.f('ck_placements_outcome_valid')),
    sa.CheckConstraint("attendance_code IN ('B', 'K')", name=op.f('ck_placements_attendance_code_valid')),
    sa.CheckConstraint('end_date IS NULL OR start_date IS NULL OR end_date >= start_date',
                       name=op.f('ck_placements_ends_after_start')),
    sa.CheckConstraint('hours_per_week IS NULL OR (hours_per_week > 0 AND hours_per_week <= 40)',
                       name=op.f('ck_placements_hours_in_range')),
    sa.CheckConstraint('year_group IS NULL OR (year_group >= 0 AND year_group <= 14)',
                       name=op.f('ck_placements_year_group_in_range')),
    sa.CheckConstraint('attendance_at_referral IS NULL OR (attendance_at_referral >= 0 AND attendance_at_referral <= 100)',
                       name=op.f('ck_placements_attendance_is_a_percentage')),
    sa.CheckConstraint('upn_sha256 IS NULL OR length(upn_sha256) = 64', name=op.f('ck_placements_upn_hash_hex')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_placements_created_by_id_users')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_placements_provider_id_providers')),
    sa.ForeignKeyConstraint(['re_referral_of_id'], ['placements.id'], name=op.f('fk_placements_re_referral_of_id_placements')),
    sa.ForeignKeyConstraint(['school_id'], ['organisations.id'], name=op.f('fk_placements_school_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_placements'))
    )
    with op.batch_alter_table('placements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_placements_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_placements_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_placements_start_date'), ['start_date'], unique=False)
        batch_op.create_index('uq_placements_pupil_provider_dates', ['upn_sha256', 'provider_id', 'start_date', 'end_date'],
                              unique=True, postgresql_where=NOT_DRAFT)

    op.create_table('placement_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('placement_id', sa.Uuid(), nullable=False),
    sa.Column('review_date', sa.Date(), nullable=False),
    sa.Column('progress', sa.Text(), nullable=False),
    sa.Column('next_review_date', sa.Date(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("progress <> ''", name=op.f('ck_placement_reviews_progress_present')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_placement_reviews_created_by_id_users')),
    sa.ForeignKeyConstraint(['placement_id'], ['placements.id'], name=op.f('fk_placement_reviews_placement_id_placements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_placement_reviews'))
    )
    with op.batch_alter_table('placement_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_placement_reviews_placement_id'), ['placement_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('placement_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_placement_reviews_placement_id'))
    op.drop_table('placement_reviews')
    with op.batch_alter_table('placements', schema=None) as batch_op:
        batch_op.drop_index('uq_placements_pupil_provider_dates')
        batch_op.drop_index(batch_op.f('ix_placements_start_date'))
        batch_op.drop_index(batch_op.f('ix_placements_provider_id'))
        batch_op.drop_index(batch_op.f('ix_placements_school_id'))
    op.drop_table('placements')
    _replace_check('notifications', 'ck_notifications_kind_valid', f"kind IN ({OLD_KINDS})")
    _replace_check('users', 'ck_users_role_valid', f"role IN ({OLD_ROLES})")
