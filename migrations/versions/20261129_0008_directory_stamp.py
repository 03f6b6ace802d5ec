"""directory: a change stamp that moves with every committed change to what the search shows

For issue 6's search page (rendered search results are kept per worker process, keyed on this
stamp). Written by hand; the DirectoryStamp model declares the table:
- directory_stamp: one row (id 1) whose value goes up by one in every committed transaction that
  inserts, updates or deletes rows of providers, provider_provision_types or provider_key_stages
  (everything the search filters on or shows). Every gunicorn worker reads it per search, so a
  change committed through any process, the CLI or plain SQL is seen by the next search anywhere.
- deferred constraint triggers bump it at commit, once per transaction. At commit, not
  at the write: the row lock on the stamp is then held only while committing, so writers never
  wait on each other for a whole transaction and cannot deadlock over it (two transactions each
  holding a provider row and waiting for the stamp). The bump commits atomically with the change,
  so a reader that sees the new stamp sees the change. TRUNCATE bumps it at once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 00:40:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

TABLES = ("providers", "provider_provision_types", "provider_key_stages")


def upgrade() -> None:
    op.create_table('directory_stamp',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_directory_stamp_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_stamp'))
    )
    op.execute("INSERT INTO directory_stamp (id, value) VALUES (1, 1)")
    # The transaction-local setting marks "already bumped": each changed row queues one deferred call,
    # and the first one at commit does the update (the first full roll-up changes thousands of rows).
    op.execute("""
        CREATE FUNCTION directory_stamp_bump() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('auditapp.directory_stamped', true) IS DISTINCT FROM 'yes' THEN
                UPDATE directory_stamp SET value = value + 1 WHERE id = 1;
                PERFORM set_config('auditapp.directory_stamped', 'yes', true);
            END IF;
            RETURN NULL;
        END $$;
    """)
    op.execute("""
        CREATE FUNCTION directory_stamp_bump_now() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE directory_stamp SET value = value + 1 WHERE id = 1;
            RETURN NULL;
        END $$;
    """)
    for table in TABLES:
        op.execute(f"""
            CREATE CONSTRAINT TRIGGER directory_stamp_{table} AFTER INSERT OR UPDATE OR DELETE ON {table}
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION directory_stamp_bump();
        """)
        op.execute(f"""
            CREATE TRIGGER directory_stamp_{table}_truncate AFTER TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION directory_stamp_bump_now();
        """)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS directory_stamp_{table} ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS directory_stamp_{table}_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS directory_stamp_bump()")
    op.execute("DROP FUNCTION IF EXISTS directory_stamp_bump_now()")
    op.drop_table('directory_stamp')
