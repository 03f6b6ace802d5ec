"""directory roll-up: an index for the registration check it reads

For issue 6's figures (the nightly roll-up over 5,000 providers in under 1 s). Written by hand; the
Answer model declares the same index:
- answers: ix_answers_registration_check, a partial index of audit_id over the registration check
  item (HDR-4.5) only, one answer per audit. The full roll-up looks up every provider's newest
  registration check: without it, it scans every answer (600,000 in the benchmark, about 200 ms)
  for the one item; with it, 60,000 index entries (about 90 ms including the joins and the sort).
  The one-provider recompute is served by uq_answers_audit_id_item_key either way.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 22:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

REGISTRATION_CHECK = sa.text("item_key = 'HDR-4.5'")


def upgrade() -> None:
    op.create_index('ix_answers_registration_check', 'answers', ['audit_id'], unique=False,
                    postgresql_where=REGISTRATION_CHECK)


def downgrade() -> None:
    op.drop_index('ix_answers_registration_check', table_name='answers')
