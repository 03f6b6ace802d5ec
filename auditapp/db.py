"""Database wiring: one engine per app and a session per unit of work.

Edges (a request, a CLI command, a sync batch) own the transaction: they open a session from
`session_scope()` or `db.session` and commit or roll back once. Services only flush.
The engine lives in `app.extensions`, so two apps in one process (tests) never share one.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    """Build the engine for `url`; SQLite gets foreign keys switched on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # SQLite ignores foreign keys unless asked
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


@dataclass
class Binding:
    """One app's engine and session factory."""

    engine: Engine
    sessionmaker: sessionmaker[Session]


def bind(url: str) -> Binding:
    """An engine and session factory for `url` (also used by the CLI, outside any app)."""
    engine = make_engine(url)
    return Binding(engine, sessionmaker(bind=engine, expire_on_commit=False))


@contextmanager
def session_scope(binding: Binding) -> Iterator[Session]:
    """Open a session outside a request, commit on success, roll back on error."""
    session = binding.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class Database:
    """The request-scoped session of the current app."""

    def init_app(self, app: Flask) -> None:
        app.extensions["auditapp_db"] = bind(app.config["DATABASE_URL"])
        app.teardown_appcontext(self._close_request_session)

    @staticmethod
    def binding(app: Flask | None = None) -> Binding:
        return (app or current_app).extensions["auditapp_db"]

    @property
    def session(self) -> Session:
        """The current request's session, opened on first use."""
        if "db_session" not in g:
            g.db_session = self.binding().sessionmaker()
        return g.db_session

    @staticmethod
    def _close_request_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()  # uncommitted work is rolled back here


db = Database()
