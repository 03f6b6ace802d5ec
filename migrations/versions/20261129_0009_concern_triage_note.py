"""safeguarding concerns: the maintainer's triage note

For issue 13 (a maintainer triages an open concern, which no longer keeps its provider Under review).
Written by hand; the SafeguardingConcern model declares the same column:
- safeguarding_concerns.triage_note: what the maintainer did about the concern, required by the
  service when it triages (who and when were already triaged_by_id and triaged_at). Shown to
  maintainers only; the audit log records the triage without it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 12:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('safeguarding_concerns', sa.Column('triage_note', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('safeguarding_concerns', 'triage_note')
