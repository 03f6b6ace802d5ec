"""Database wiring: one engine per app and a session per unit of work.

Edges (a request, a CLI command, a sync batch) own the transaction: they open a session from
`session_scope()` or `db.session` and commit or roll back once. Services only flush.
The engine lives in `app.extensions`, so two apps in one process (tests) never share one.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

# A pooled connection idle for longer than this is pinged before use (see _ping_when_idle).
IDLE_BEFORE_PING_S = 1.0


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
    engine = create_engine(url)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """pool_pre_ping for connections that sat idle in the pool: a dropped connection (a database restart,
    a proxy's idle timeout) is replaced before a request uses it. pool_pre_ping pings on every checkout,
    one round trip per request more; a connection handed back moments ago is not worth it. Under steady
    load a restart therefore fails one request per pooled connection, which invalidates the pool."""
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_BEFORE_PING_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.InvalidatePoolError() from error  # the pool reconnects and tries again


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
        """The current request's session, opened on first use; in autocommit for a `read_only` view."""
        if "db_session" not in g:
            session = self.binding().sessionmaker()
            # A session joined to an outer transaction (the tests' rolled-back one) keeps it.
            if isinstance(session.bind, Engine) and read_only_request():
                session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            g.db_session = session
        return g.db_session

    @staticmethod
    def _close_request_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()  # uncommitted work is rolled back here


def read_only(view: Callable) -> Callable:
    """Mark a view that never writes: its statements run in autocommit, without BEGIN and ROLLBACK (two
    round trips of a short page's four or five). Under READ COMMITTED every statement of a transaction
    takes its own snapshot anyway, so the view reads exactly what it would have read in one."""
    view.read_only = True
    return view


def read_only_request() -> bool:
    """True while serving a view marked `read_only` (nothing it does changes what it read at the start)."""
    if not has_request_context() or request.endpoint is None:
        return False
    return getattr(current_app.view_functions.get(request.endpoint), "read_only", False)


db = Database()
