"""Database wiring: one engine per app and a session per unit of work.

Edges (a request, a CLI command, a sync batch) own the transaction: they open a session from
`session_scope()` or `db.session` and commit or roll back once. Services only flush.
The engine lives in `app.extensions`, so two apps in one process (tests) never share one.
"""
from __future__ import annotations

import select
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    """Build the PostgreSQL engine for `url`; a connection the server closed is replaced on checkout."""
    engine = create_engine(url)
    event.listen(engine, "checkout", _refuse_closed_by_server)
    return engine


def _refuse_closed_by_server(dbapi_connection, _record, _proxy) -> None:
    """A connection the database dropped (a restart, a terminated backend, a proxy's idle timeout) is replaced
    before anyone uses it, without pool_pre_ping's round trip on every checkout (one of a cached page's two).

    A pooled connection is idle: the server sends nothing until asked. If its socket has something to read, the
    server has closed it (or sent the error that comes just before); the pool then opens a fresh one. Pinging only
    after a second idle was tried (session 2026-11-29) and let a restart under load fail a request per worker.
    """
    poller = select.poll()
    try:
        poller.register(dbapi_connection.fileno(), select.POLLIN)
    except Exception as exc:  # the driver already knows it is closed
        raise DisconnectionError("the connection is closed") from exc
    if poller.poll(0):
        raise DisconnectionError("the database closed this connection")


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
                _refuse_writes(session)
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


class ReadOnlyViolation(RuntimeError):
    """A `read_only` view tried to write: in autocommit each statement would have committed on its own."""


def _refuse_writes(session: Session) -> None:
    """`read_only` is checked, not trusted: a flush or an ORM INSERT/UPDATE/DELETE fails before it reaches the
    database (an error page, nothing written), instead of committing statement by statement."""
    def before_flush(*_args) -> None:
        raise ReadOnlyViolation("a read_only view tried to write (flush)")

    def do_orm_execute(state) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            raise ReadOnlyViolation("a read_only view tried to write")

    event.listen(session, "before_flush", before_flush)
    event.listen(session, "do_orm_execute", do_orm_execute)


def read_only_request() -> bool:
    """True while serving a view marked `read_only` (nothing it does changes what it read at the start)."""
    if not has_request_context() or request.endpoint is None:
        return False
    return getattr(current_app.view_functions.get(request.endpoint), "read_only", False)


db = Database()
