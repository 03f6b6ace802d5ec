"""The signed-in user of one request, read in one statement straight through the driver.

Every signed-in request starts here, so it is one round trip and no ORM (the ORM's session, load and
identity map cost more than the statement): the user, checked active and on the cookie's session
version (signing out, a password change or a deactivation ends every session of the user at once), the organisation's name,
the unread count the navigation shows, and the directory's change stamp, which the schools' search
checks its kept results against (web/directory_cache.py) and would otherwise read in a round trip
of its own.

`SessionUser` is what `current_user` is: frozen, so code that tries to change the user through it
fails loudly instead of changing nothing. Views hand it to services as the actor (they read `id`,
`role`, `organisation_id`, `is_lead_reviewer`, `organisation.name`); a change to a user goes through
services.users on the ORM row.

The statement runs on a pooled connection straight through libpq (no BEGIN, no ROLLBACK, no cursor),
handed back before the view runs. In the tests' rolled-back transaction it runs on that transaction's
connection instead, so it sees what the test wrote.
"""
from __future__ import annotations

from dataclasses import dataclass

import psycopg
from flask import g
from psycopg import pq
from sqlalchemy.engine import Connection

from .db import Binding

_COLUMNS = ("SELECT u.id, u.email, u.full_name, u.role, u.organisation_id, o.name, u.is_lead_reviewer, "
            "u.is_active, u.session_version, "
            "(SELECT count(*) FROM notifications n WHERE n.user_id = u.id AND n.read_at IS NULL), ")
_FROM = " FROM users u JOIN organisations o ON o.id = u.organisation_id WHERE u.id = "
# The stamp, unless this transaction has written (it would see its own uncommitted changes, which the stamp
# does not count: directory_queries.directory_stamp).
_STATEMENT = _COLUMNS + ("CASE WHEN pg_current_xact_id_if_assigned() IS NULL THEN "
                         "(SELECT value FROM directory_stamp WHERE id = 1) END") + _FROM + "%s"
# The statement again, as libpq takes it ($1), under a name of its own on each connection.
_PREPARED = b"auditapp_session_user"
_PREPARED_SQL = _STATEMENT.replace("%s", "$1").encode()
NOT_READ = object()  # the user was not loaded by this module in this request (signed in just now, say)


@dataclass(frozen=True, slots=True)
class OrganisationName:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class SessionUser:
    """The signed-in user as this request found them (Flask-Login's user protocol)."""

    id: int
    email: str
    full_name: str
    role: str
    organisation_id: int
    organisation: OrganisationName
    is_lead_reviewer: bool
    session_version: int
    unread_count: int  # unread notifications when the request began

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return True  # an inactive user is never loaded

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


def load(binding: Binding, cookie_id: str) -> SessionUser | None:
    """The user a session cookie's `id:version` names, if still active on that version; else None."""
    user_id, _, version = cookie_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    row = _fetch(binding, int(user_id))
    if row is None:
        return None
    (uid, email, full_name, role, organisation_id, organisation_name, lead, active, session_version, unread,
     stamp) = row
    if not active or session_version != int(version):
        return None
    g.directory_stamp = stamp
    return SessionUser(uid, email, full_name, role, organisation_id, OrganisationName(organisation_id,
                       organisation_name), bool(lead), session_version, unread)


def directory_stamp_read_with_user():
    """The directory stamp read with this request's user: an int, None (not to be trusted), or `NOT_READ`."""
    return g.get("directory_stamp", NOT_READ)


def _fetch(binding: Binding, user_id: int) -> tuple | None:
    bound = binding.sessionmaker.kw.get("bind")
    if isinstance(bound, Connection):  # the tests' outer transaction: read inside it
        cursor = bound.connection.dbapi_connection.cursor()
        try:
            cursor.execute(_STATEMENT, (user_id,))
            return cursor.fetchone()
        finally:
            cursor.close()
    pooled = binding.engine.raw_connection()  # checked on checkout (db.make_engine): never one the server closed
    try:
        return _fetch_prepared(pooled, user_id)
    except BaseException:
        pooled.invalidate()  # whatever went wrong, the pool opens a fresh connection for the next request
        raise
    finally:
        pooled.close()


def _fetch_prepared(pooled, user_id: int) -> tuple | None:
    """The statement through libpq itself (psycopg.pq), prepared once per connection.

    A pooled connection is idle between requests, so the statement is a transaction of its own: no BEGIN,
    no ROLLBACK, no cursor. psycopg's execute() cost about 100 µs of CPU a call here, this about 45
    (measured on the directory bench's database, session 2026-11-29); every signed-in request pays it.
    """
    connection = pooled.driver_connection
    pgconn = connection.pgconn
    if pgconn.transaction_status != pq.TransactionStatus.IDLE:
        raise psycopg.InterfaceError("a pooled connection was handed out inside a transaction")
    if not pooled.info.get(_PREPARED):  # info lives as long as this database connection
        _checked(pgconn.prepare(_PREPARED, _PREPARED_SQL), pq.ExecStatus.COMMAND_OK)
        pooled.info[_PREPARED] = True
    result = pgconn.exec_prepared(_PREPARED, [b"%d" % user_id])
    if result.error_field(pq.DiagnosticField.SQLSTATE) == b"26000":  # no such prepared statement:
        # psycopg sends DEALLOCATE ALL after a ROLLBACK (to a savepoint too) or a DROP on a connection where it
        # prepared statements of its own. The failed call was a transaction of its own; prepare it again.
        _checked(pgconn.prepare(_PREPARED, _PREPARED_SQL), pq.ExecStatus.COMMAND_OK)
        result = pgconn.exec_prepared(_PREPARED, [b"%d" % user_id])
    _checked(result, pq.ExecStatus.TUPLES_OK)
    if result.ntuples == 0:
        return None
    encoding = connection.info.encoding
    (uid, email, full_name, role, organisation_id, organisation, lead, active, version, unread,
     stamp) = (result.get_value(0, column) for column in range(11))
    return (int(uid), email.decode(encoding), full_name.decode(encoding), role.decode(encoding),
            int(organisation_id), organisation.decode(encoding), lead == b"t", active == b"t", int(version),
            int(unread), None if stamp is None else int(stamp))


def _checked(result, expected):
    if result.status != expected:
        raise psycopg.DatabaseError(result.error_message.decode(errors="replace") or f"status {result.status}")
    return result
