"""sessions and sign-in: lockout by account and client address

For issue 14 (part auth: a stranger must not be able to lock a known user out, and a locked account
must answer like a wrong password). Written by hand; the User and SignInAddress models declare the same:
- sign_in_addresses: one row per (user, client address) that failed to sign in to the account or signed
  it in. `failures` and `last_failed_at` count that address's recent failures; `locked_until` locks
  only that address out of that account (AUDITAPP_LOGIN_MAX_FAILURES failures, for
  AUDITAPP_LOGIN_LOCKOUT_MINUTES); `signed_in_at` marks an address that signed the user in, which
  the account-wide pause does not apply to. Deleted with the user.
- users.last_failed_login_at: when the account last failed from any address, so `failed_logins`
  (now counted across addresses) starts again after a quiet spell; `locked_until` is now the
  account-wide pause, short and capped (services.users).
Sign-out needs no column: it moves users.session_version on, which session cookies already carry.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 03:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('users', sa.Column('last_failed_login_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'sign_in_addresses',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('signed_in_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sign_in_addresses_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'address', name=op.f('pk_sign_in_addresses')),
    )


def downgrade() -> None:
    op.drop_table('sign_in_addresses')
    op.drop_column('users', 'last_failed_login_at')
