"""initial schema: organisations, users, providers, templates, visits, audits and their parts,
directory decisions, safeguarding concerns, the audit log and sync bookkeeping.

Reviewed by hand: CHECKs name every enum, device-created rows have UUID keys, and on PostgreSQL
the audit log is made append-only by a trigger (autogenerate cannot see triggers).

Revision ID: 0001
Revises: 
Create Date: 2026-11-28 16:22:30.110450
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('audit_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audit_type', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.CheckConstraint("audit_type IN ('safeguarding', 'health_safety', 'quality_education')", name=op.f('ck_audit_templates_audit_type_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_templates')),
    sa.UniqueConstraint('audit_type', name=op.f('uq_audit_templates_audit_type'))
    )
    op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('council', 'contractor', 'school')", name=op.f('ck_organisations_kind_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
    sa.UniqueConstraint('name', name=op.f('uq_organisations_name'))
    )
    op.create_table('providers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('legal_name', sa.String(length=200), nullable=False),
    sa.Column('trading_name', sa.String(length=200), nullable=True),
    sa.Column('company_number', sa.String(length=20), nullable=True),
    sa.Column('charity_number', sa.String(length=20), nullable=True),
    sa.Column('registration_status', sa.String(length=20), nullable=False),
    sa.Column('contact_name', sa.String(length=200), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=False),
    sa.Column('contact_phone', sa.String(length=40), nullable=True),
    sa.Column('offer_summary', sa.Text(), nullable=True),
    sa.Column('age_min', sa.Integer(), nullable=False),
    sa.Column('age_max', sa.Integer(), nullable=False),
    sa.Column('send_specialism', sa.Boolean(), nullable=False),
    sa.Column('semh_specialism', sa.Boolean(), nullable=False),
    sa.Column('district', sa.String(length=40), nullable=False),
    sa.Column('time_basis', sa.String(length=20), nullable=False),
    sa.Column('delivery_mode', sa.String(length=20), nullable=False),
    sa.Column('cost_per_day_pence', sa.Integer(), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('directory_status', sa.String(length=20), nullable=False),
    sa.Column('first_listed_on', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("delivery_mode IN ('in_person', 'online', 'hybrid')", name=op.f('ck_providers_delivery_mode_valid')),
    sa.CheckConstraint("directory_status IN ('pending', 'eligible', 'conditional', 'under_review', 'suspended', 'removed')", name=op.f('ck_providers_directory_status_valid')),
    sa.CheckConstraint("district IN ('Leicester City', 'Blaby', 'Charnwood', 'Harborough', 'Hinckley and Bosworth', 'Melton', 'North West Leicestershire', 'Oadby and Wigston')", name=op.f('ck_providers_district_valid')),
    sa.CheckConstraint("registration_status IN ('not_required', 'possibly_required', 'registered', 'not_checked')", name=op.f('ck_providers_registration_status_valid')),
    sa.CheckConstraint("time_basis IN ('part_time', 'full_time', 'both')", name=op.f('ck_providers_time_basis_valid')),
    sa.CheckConstraint('age_min >= 4 AND age_max <= 19 AND age_min <= age_max', name=op.f('ck_providers_age_range_valid')),
    sa.CheckConstraint('capacity IS NULL OR capacity > 0', name=op.f('ck_providers_capacity_positive')),
    sa.CheckConstraint('cost_per_day_pence IS NULL OR cost_per_day_pence >= 0', name=op.f('ck_providers_cost_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_providers')),
    sa.UniqueConstraint('legal_name', name=op.f('uq_providers_legal_name'))
    )
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_providers_directory_status'), ['directory_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_providers_district'), ['district'], unique=False)

    op.create_table('change_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('op', sa.String(length=10), nullable=False),
    sa.Column('audit_id', sa.Uuid(), nullable=True),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("op IN ('upsert', 'delete')", name=op.f('ck_change_log_op_valid')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_change_log_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_log'))
    )
    with op.batch_alter_table('change_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_log_audit_id'), ['audit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_log_provider_id'), ['provider_id'], unique=False)

    op.create_table('provider_councils',
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_provider_councils_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_provider_councils_provider_id_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('provider_id', 'organisation_id', name=op.f('pk_provider_councils'))
    )
    op.create_table('provider_key_stages',
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('key_stage', sa.String(length=4), nullable=False),
    sa.CheckConstraint("key_stage IN ('KS1', 'KS2', 'KS3', 'KS4')", name=op.f('ck_provider_key_stages_key_stage_valid')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_provider_key_stages_provider_id_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('provider_id', 'key_stage', name=op.f('pk_provider_key_stages'))
    )
    op.create_table('provider_provision_types',
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('provision_type', sa.String(length=20), nullable=False),
    sa.CheckConstraint("provision_type IN ('vocational', 'therapeutic', 'outdoor', 'tutoring', 'online', 'creative', 'sport')", name=op.f('ck_provider_provision_types_provision_type_valid')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_provider_provision_types_provider_id_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('provider_id', 'provision_type', name=op.f('pk_provider_provision_types'))
    )
    op.create_table('sites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address_line1', sa.String(length=200), nullable=False),
    sa.Column('address_line2', sa.String(length=200), nullable=True),
    sa.Column('town', sa.String(length=100), nullable=False),
    sa.Column('postcode', sa.String(length=10), nullable=False),
    sa.Column('is_main', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_sites_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sites'))
    )
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sites_provider_id'), ['provider_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('is_lead_reviewer', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('auditor', 'qoe_teacher', 'maintainer', 'school', 'admin')", name=op.f('ck_users_role_valid')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_users_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_log_actor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_log_entity', ['entity', 'entity_id'], unique=False)

    op.create_table('devices',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_devices_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_user_id'), ['user_id'], unique=False)

    op.create_table('template_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('source_file', sa.String(length=200), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_template_versions_published_by_id_users')),
    sa.ForeignKeyConstraint(['template_id'], ['audit_templates.id'], name=op.f('fk_template_versions_template_id_audit_templates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_template_versions')),
    sa.UniqueConstraint('template_id', 'content_hash', name=op.f('uq_template_versions_template_id_content_hash')),
    sa.UniqueConstraint('template_id', 'version', name=op.f('uq_template_versions_template_id_version'))
    )
    op.create_table('visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('visit_date', sa.Date(), nullable=False),
    sa.Column('announced', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('planned', 'in_progress', 'completed', 'cancelled')", name=op.f('ck_visits_status_valid')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_visits_provider_id_providers')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_visits_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visits'))
    )
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visits_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visits_visit_date'), ['visit_date'], unique=False)

    op.create_table('audits',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('audit_type', sa.String(length=30), nullable=False),
    sa.Column('template_version_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=30), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('corrects_audit_id', sa.Uuid(), nullable=True),
    sa.Column('correction_reason', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finalised_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finalised_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("audit_type IN ('safeguarding', 'health_safety', 'quality_education')", name=op.f('ck_audits_audit_type_valid')),
    sa.CheckConstraint("outcome IN ('compliant', 'compliant_with_actions', 'non_compliant')", name=op.f('ck_audits_outcome_valid')),
    sa.CheckConstraint("status IN ('draft', 'submitted', 'returned', 'finalised')", name=op.f('ck_audits_status_valid')),
    sa.CheckConstraint('revision >= 1', name=op.f('ck_audits_revision_positive')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_audits_version_positive')),
    sa.ForeignKeyConstraint(['corrects_audit_id'], ['audits.id'], name=op.f('fk_audits_corrects_audit_id_audits')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_audits_created_by_id_users')),
    sa.ForeignKeyConstraint(['finalised_by_id'], ['users.id'], name=op.f('fk_audits_finalised_by_id_users')),
    sa.ForeignKeyConstraint(['template_version_id'], ['template_versions.id'], name=op.f('fk_audits_template_version_id_template_versions')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_audits_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audits'))
    )
    with op.batch_alter_table('audits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audits_visit_id'), ['visit_id'], unique=False)

    op.create_table('processed_mutations',
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('mutation_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('payload_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('applied', 'duplicate', 'rejected', 'conflict', 'held')", name=op.f('ck_processed_mutations_status_valid')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_processed_mutations_device_id_devices')),
    sa.PrimaryKeyConstraint('device_id', 'mutation_id', name=op.f('pk_processed_mutations'))
    )
    op.create_table('safeguarding_concerns',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('raised_by_id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('referred_to_role', sa.String(length=100), nullable=False),
    sa.Column('reference_number', sa.String(length=100), nullable=True),
    sa.Column('about_provider_or_staff', sa.Boolean(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('triaged_by_id', sa.Integer(), nullable=True),
    sa.Column('triaged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('open', 'triaged', 'closed')", name=op.f('ck_safeguarding_concerns_status_valid')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_safeguarding_concerns_provider_id_providers')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['users.id'], name=op.f('fk_safeguarding_concerns_raised_by_id_users')),
    sa.ForeignKeyConstraint(['triaged_by_id'], ['users.id'], name=op.f('fk_safeguarding_concerns_triaged_by_id_users')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_safeguarding_concerns_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_safeguarding_concerns'))
    )
    with op.batch_alter_table('safeguarding_concerns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_safeguarding_concerns_provider_id'), ['provider_id'], unique=False)

    op.create_table('visit_assignments',
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_visit_assignments_user_id_users')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_visit_assignments_visit_id_visits'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('visit_id', 'user_id', name=op.f('pk_visit_assignments'))
    )
    with op.batch_alter_table('visit_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_assignments_user_id'), ['user_id'], unique=False)

    op.create_table('visit_audit_types',
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('audit_type', sa.String(length=30), nullable=False),
    sa.CheckConstraint("audit_type IN ('safeguarding', 'health_safety', 'quality_education')", name=op.f('ck_visit_audit_types_audit_type_valid')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_visit_audit_types_visit_id_visits'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('visit_id', 'audit_type', name=op.f('pk_visit_audit_types'))
    )
    op.create_table('actions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('audit_id', sa.Uuid(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_role', sa.String(length=100), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('priority', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('verification_note', sa.Text(), nullable=True),
    sa.Column('verified_by_id', sa.Integer(), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("description <> ''", name=op.f('ck_actions_description_present')),
    sa.CheckConstraint("priority IN ('immediate', 'high', 'normal')", name=op.f('ck_actions_priority_valid')),
    sa.CheckConstraint("status IN ('proposed', 'open', 'provider_done', 'verified_closed', 'overdue', 'no_longer_relevant')", name=op.f('ck_actions_status_valid')),
    sa.ForeignKeyConstraint(['audit_id'], ['audits.id'], name=op.f('fk_actions_audit_id_audits')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_actions_created_by_id_users')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_actions_provider_id_providers')),
    sa.ForeignKeyConstraint(['verified_by_id'], ['users.id'], name=op.f('fk_actions_verified_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_actions'))
    )
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_actions_audit_id'), ['audit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_actions_provider_id'), ['provider_id'], unique=False)

    op.create_table('answers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('audit_id', sa.Uuid(), nullable=False),
    sa.Column('item_key', sa.String(length=20), nullable=False),
    sa.Column('rating', sa.String(length=20), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('na_reason', sa.Text(), nullable=True),
    sa.Column('value', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("rating IN ('met', 'partially_met', 'not_met', 'not_applicable')", name=op.f('ck_answers_rating_valid')),
    sa.CheckConstraint("rating IS NULL OR rating <> 'not_applicable' OR (na_reason IS NOT NULL AND length(na_reason) > 0)", name=op.f('ck_answers_na_needs_reason')),
    sa.ForeignKeyConstraint(['audit_id'], ['audits.id'], name=op.f('fk_answers_audit_id_audits')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_answers_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answers')),
    sa.UniqueConstraint('audit_id', 'item_key', name=op.f('uq_answers_audit_id_item_key'))
    )
    op.create_table('conversations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('audit_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('reference', sa.String(length=10), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=True),
    sa.Column('setting', sa.String(length=100), nullable=True),
    sa.Column('consent_given', sa.Boolean(), nullable=False),
    sa.Column('responses', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('ended_for_safeguarding', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('learner', 'staff')", name=op.f('ck_conversations_kind_valid')),
    sa.CheckConstraint("reference <> ''", name=op.f('ck_conversations_reference_present')),
    sa.ForeignKeyConstraint(['audit_id'], ['audits.id'], name=op.f('fk_conversations_audit_id_audits')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_conversations_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversations')),
    sa.UniqueConstraint('audit_id', 'reference', name=op.f('uq_conversations_audit_id_reference'))
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversations_audit_id'), ['audit_id'], unique=False)

    op.create_table('directory_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=30), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=False),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('reason_codes', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('reason_text', sa.Text(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirms_decision_id', sa.Integer(), nullable=True),
    sa.Column('audit_id', sa.Uuid(), nullable=True),
    sa.Column('concern_id', sa.Uuid(), nullable=True),
    sa.CheckConstraint("decision IN ('approve', 'suspend', 'reinstate', 'remove', 'clear_review', 'confirm_reinstatement')", name=op.f('ck_directory_decisions_decision_valid')),
    sa.CheckConstraint("from_status IN ('pending', 'eligible', 'conditional', 'under_review', 'suspended', 'removed')", name=op.f('ck_directory_decisions_from_status_valid')),
    sa.CheckConstraint("reason_text <> ''", name=op.f('ck_directory_decisions_reason_present')),
    sa.CheckConstraint("to_status IN ('pending', 'eligible', 'conditional', 'under_review', 'suspended', 'removed')", name=op.f('ck_directory_decisions_to_status_valid')),
    sa.ForeignKeyConstraint(['audit_id'], ['audits.id'], name=op.f('fk_directory_decisions_audit_id_audits')),
    sa.ForeignKeyConstraint(['concern_id'], ['safeguarding_concerns.id'], name=op.f('fk_directory_decisions_concern_id_safeguarding_concerns')),
    sa.ForeignKeyConstraint(['confirms_decision_id'], ['directory_decisions.id'], name=op.f('fk_directory_decisions_confirms_decision_id_directory_decisions')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_directory_decisions_decided_by_id_users')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_directory_decisions_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_decisions'))
    )
    with op.batch_alter_table('directory_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_decisions_provider_id'), ['provider_id'], unique=False)

    op.create_table('evidence',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('audit_id', sa.Uuid(), nullable=False),
    sa.Column('item_key', sa.String(length=20), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('withdrawal_reason', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('expected', 'uploaded', 'verified', 'rejected', 'withdrawn')", name=op.f('ck_evidence_status_valid')),
    sa.CheckConstraint('length(sha256) = 64', name=op.f('ck_evidence_sha256_hex')),
    sa.CheckConstraint('size_bytes > 0', name=op.f('ck_evidence_size_positive')),
    sa.ForeignKeyConstraint(['audit_id'], ['audits.id'], name=op.f('fk_evidence_audit_id_audits')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_evidence_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_evidence_storage_key'))
    )
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_audit_id'), ['audit_id'], unique=False)

    op.create_table('policy_checks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('audit_id', sa.Uuid(), nullable=False),
    sa.Column('item_key', sa.String(length=20), nullable=False),
    sa.Column('document_seen', sa.Boolean(), nullable=True),
    sa.Column('document_version', sa.String(length=100), nullable=True),
    sa.Column('review_date', sa.Date(), nullable=True),
    sa.Column('named_person', sa.String(length=200), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['audit_id'], ['audits.id'], name=op.f('fk_policy_checks_audit_id_audits')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_policy_checks_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_checks')),
    sa.UniqueConstraint('audit_id', 'item_key', name=op.f('uq_policy_checks_audit_id_item_key'))
    )
    


    # The audit log is evidence of who decided what: refuse edits and deletes at the source.
    op.execute("""
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only';
            END $$;
    """)
    op.execute("""
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    
    op.drop_table('policy_checks')
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_audit_id'))

    op.drop_table('evidence')
    with op.batch_alter_table('directory_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_directory_decisions_provider_id'))

    op.drop_table('directory_decisions')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversations_audit_id'))

    op.drop_table('conversations')
    op.drop_table('answers')
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_actions_provider_id'))
        batch_op.drop_index(batch_op.f('ix_actions_audit_id'))

    op.drop_table('actions')
    op.drop_table('visit_audit_types')
    with op.batch_alter_table('visit_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visit_assignments_user_id'))

    op.drop_table('visit_assignments')
    with op.batch_alter_table('safeguarding_concerns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_safeguarding_concerns_provider_id'))

    op.drop_table('safeguarding_concerns')
    op.drop_table('processed_mutations')
    with op.batch_alter_table('audits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audits_visit_id'))

    op.drop_table('audits')
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visits_visit_date'))
        batch_op.drop_index(batch_op.f('ix_visits_provider_id'))

    op.drop_table('visits')
    op.drop_table('template_versions')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_user_id'))

    op.drop_table('devices')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_entity')
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_actor_id'))

    op.drop_table('audit_log')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_organisation_id'))

    op.drop_table('users')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sites_provider_id'))

    op.drop_table('sites')
    op.drop_table('provider_provision_types')
    op.drop_table('provider_key_stages')
    op.drop_table('provider_councils')
    with op.batch_alter_table('change_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_change_log_provider_id'))
        batch_op.drop_index(batch_op.f('ix_change_log_audit_id'))

    op.drop_table('change_log')
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_providers_district'))
        batch_op.drop_index(batch_op.f('ix_providers_directory_status'))

    op.drop_table('providers')
    op.drop_table('organisations')
    op.drop_table('audit_templates')
    
