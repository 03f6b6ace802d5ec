"""directory: computed eligibility on providers, status history, re-audit triggers, watches, notifications

For the directory roll-up (issue [5/6]). Written by hand:
- providers: the computed status, its rule and reasons and when they were computed; valid_until and
  reaudit_due (the planner's dates); needs_decision + queue_urgency (the maintainers' queue,
  safeguarding first); closed_at; version (bumped on every change schools can see: API ETags and
  stale decision forms). Existing rows: computed_status starts equal to the published status,
  version 1, not in the queue — the first `audit-tools rollup` computes the rest.
- provider_status_changes: the history timeline (computed and published changes, with reasons and
  what caused them).
- provider_triggers: notified changes that call for a re-audit, until a visit resolves them.
- watches, notifications, outbound_emails: school users hear about status changes in the app and
  by e-mail; e-mails are queued in the same transaction as the change.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 19:30:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

JSON = postgresql.JSONB(astext_type=sa.Text())
STATUSES = "'pending', 'eligible', 'conditional', 'under_review', 'suspended', 'removed'"
CAUSES = "'finalise', 'action', 'concern', 'decision', 'rollup', 'provider_edit', 'trigger'"
TRIGGERS = "'new_premises', 'new_proprietor', 'new_dsl', 'new_activity', 'concern', 'serious_incident'"


def upgrade() -> None:
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('computed_status', sa.String(length=20), nullable=False,
                                      server_default=sa.text("'pending'")))
        batch_op.add_column(sa.Column('computed_rule', sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column('computed_reasons', JSON, nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('computed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('valid_until', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('reaudit_due', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('needs_decision', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('queue_urgency', sa.Integer(), nullable=False, server_default=sa.text('0')))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default=sa.text('1')))
        batch_op.create_check_constraint(batch_op.f('ck_providers_computed_status_valid'),
                                         f"computed_status IN ({STATUSES})")
        batch_op.create_index(batch_op.f('ix_providers_reaudit_due'), ['reaudit_due'], unique=False)
        batch_op.create_index(batch_op.f('ix_providers_needs_decision'), ['needs_decision'], unique=False)
    op.execute("UPDATE providers SET computed_status = directory_status")
    with op.batch_alter_table('providers', schema=None) as batch_op:
        for column in ('computed_status', 'computed_reasons', 'needs_decision', 'queue_urgency', 'version'):
            batch_op.alter_column(column, server_default=None)

    op.create_table('provider_status_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=False),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('reasons', JSON, nullable=False),
    sa.Column('cause', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('decision_id', sa.Integer(), nullable=True),
    sa.Column('audit_id', sa.Uuid(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('computed', 'published')", name=op.f('ck_provider_status_changes_kind_valid')),
    sa.CheckConstraint(f"from_status IN ({STATUSES})", name=op.f('ck_provider_status_changes_from_status_valid')),
    sa.CheckConstraint(f"to_status IN ({STATUSES})", name=op.f('ck_provider_status_changes_to_status_valid')),
    sa.CheckConstraint(f"cause IN ({CAUSES})", name=op.f('ck_provider_status_changes_cause_valid')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_provider_status_changes_actor_id_users')),
    sa.ForeignKeyConstraint(['audit_id'], ['audits.id'], name=op.f('fk_provider_status_changes_audit_id_audits')),
    sa.ForeignKeyConstraint(['decision_id'], ['directory_decisions.id'],
                            name=op.f('fk_provider_status_changes_decision_id_directory_decisions')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_provider_status_changes_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_status_changes'))
    )
    with op.batch_alter_table('provider_status_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_status_changes_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_provider_status_changes_changed_at'), ['changed_at'], unique=False)

    op.create_table('provider_triggers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('reported_by_id', sa.Integer(), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint(f"kind IN ({TRIGGERS})", name=op.f('ck_provider_triggers_kind_valid')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_provider_triggers_provider_id_providers')),
    sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_provider_triggers_reported_by_id_users')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_provider_triggers_resolved_by_id_users')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_provider_triggers_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_triggers'))
    )
    with op.batch_alter_table('provider_triggers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_triggers_provider_id'), ['provider_id'], unique=False)

    op.create_table('watches',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_watches_provider_id_providers')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_watches_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'provider_id', name=op.f('pk_watches'))
    )
    with op.batch_alter_table('watches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_watches_provider_id'), ['provider_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('status_changed', 'placement_affected')", name=op.f('ck_notifications_kind_valid')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_notifications_provider_id_providers')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_user_id'), ['user_id'], unique=False)

    op.create_table('outbound_emails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_emails'))
    )
    with op.batch_alter_table('outbound_emails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbound_emails_sent_at'), ['sent_at'], unique=False)


def downgrade() -> None:
    for table, indexes in (('outbound_emails', ['ix_outbound_emails_sent_at']),
                           ('notifications', ['ix_notifications_user_id']),
                           ('watches', ['ix_watches_provider_id']),
                           ('provider_triggers', ['ix_provider_triggers_provider_id']),
                           ('provider_status_changes', ['ix_provider_status_changes_changed_at',
                                                        'ix_provider_status_changes_provider_id'])):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for index in indexes:
                batch_op.drop_index(index)
        op.drop_table(table)
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_providers_needs_decision'))
        batch_op.drop_index(batch_op.f('ix_providers_reaudit_due'))
        batch_op.drop_constraint(batch_op.f('ck_providers_computed_status_valid'), type_='check')
        for column in ('version', 'closed_at', 'queue_urgency', 'needs_decision', 'status_changed_at', 'reaudit_due',
                       'valid_until', 'computed_at', 'computed_reasons', 'computed_rule', 'computed_status'):
            batch_op.drop_column(column)
