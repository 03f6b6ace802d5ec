"""evidence: the key of the verified copy

For issue 14 (a verified file could be overwritten through its old upload URL on a store that does
not check signed checksums). Written by hand; the Evidence model declares the same column:
- evidence.final_key: where confirm copied the bytes it verified (`evidence/final/<audit>/<evidence>`,
  a key no upload URL is ever made for); the only key served to reviewers and purged with the
  upload key. NULL until verified. Files verified before this revision keep NULL: they are moved
  to a final key the first time someone opens them, after their bytes are checked again.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 03:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('evidence', sa.Column('final_key', sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column('evidence', 'final_key')
