"""Migrations are the only source of the schema: no drift, and they run on both databases."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from auditapp.db import make_engine
from auditapp.migrate import upgrade
from auditapp.models import Base


def _drift(engine):
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


def test_postgresql_schema_matches_the_models(database_url):
    engine = create_engine(database_url)
    assert _drift(engine) == []
    engine.dispose()


def test_migrations_run_on_sqlite_with_no_drift(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    assert _drift(engine) == []
    engine.dispose()


def test_every_model_table_exists_in_postgresql(database_url):
    engine = create_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert set(Base.metadata.tables) <= tables
    assert len(Base.metadata.tables) == 37


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET action = 'edited'", "DELETE FROM audit_log"])
def test_audit_log_refuses_updates_and_deletes(db_session, statement):
    assert db_session.execute(text("SELECT count(*) FROM audit_log")).scalar() > 0
    with pytest.raises(DBAPIError, match="append-only"):
        with db_session.begin_nested():
            db_session.execute(text(statement))
