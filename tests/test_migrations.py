"""Migrations are the only source of the schema: no drift, on a fresh database and down and up again."""
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from auditapp.db import make_engine
from auditapp.migrate import alembic_config, upgrade
from auditapp.models import Base

from .conftest import _fresh_database, _required_env


def _drift(engine):
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


def test_postgresql_schema_matches_the_models(database_url):
    engine = create_engine(database_url)
    assert _drift(engine) == []
    engine.dispose()


def test_migrations_go_down_and_up_again_with_no_drift():
    url = _fresh_database(_required_env("TEST_DATABASE_URL"), "auditapp_migrations")
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    assert _drift(engine) == []
    engine.dispose()


def test_every_model_table_exists_in_postgresql(database_url):
    engine = create_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert set(Base.metadata.tables) <= tables
    assert len(Base.metadata.tables) == 38  # 0010: sign_in_addresses


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET action = 'edited'", "DELETE FROM audit_log"])
def test_audit_log_refuses_updates_and_deletes(db_session, statement):
    assert db_session.execute(text("SELECT count(*) FROM audit_log")).scalar() > 0
    with pytest.raises(DBAPIError, match="append-only"):
        with db_session.begin_nested():
            db_session.execute(text(statement))
