"""sessions and sign-in (issue 14, part auth)

PLACEHOLDER written by the lead so that parallel parts of issue 14 keep one linear chain.
The part that owns it replaces this docstring and the bodies (written by hand, the models declare the same).
If the part needs no schema change, it leaves this as it is and says so; the lead removes it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 03:30:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
