"""The signed-in user of one request, read in one statement straight through the driver.

Every signed-in request starts here, so it is one round trip and no ORM (the ORM's session, load and
identity map cost more than the statement): the user, checked active and on the cookie's session
version (a password change or a deactivation ends every session at once), the organisation's name,
the unread count the navigation shows, and the directory's change stamp, which the schools' search
checks its kept results against (web/directory_cache.py) and would otherwise read in a round trip
of its own.

`SessionUser` is what `current_user` is: frozen, so code that tries to change the user through it
fails loudly instead of changing nothing. Views hand it to services as the actor (they read `id`,
`role`, `organisation_id`, `is_lead_reviewer`, `organisation.name`); a change to a user goes through
services.users on the ORM row.

The statement runs on a pooled connection in autocommit (no BEGIN, no ROLLBACK), handed back before
the view runs. In the tests' rolled-back transaction it runs on that transaction's connection
instead, so it sees what the test wrote.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import g
from sqlalchemy.engine import Connection

from .db import Binding

_COLUMNS = ("SELECT u.id, u.email, u.full_name, u.role, u.organisation_id, o.name, u.is_lead_reviewer, "
            "u.is_active, u.session_version, "
            "(SELECT count(*) FROM notifications n WHERE n.user_id = u.id AND n.read_at IS NULL), ")
_FROM = " FROM users u JOIN organisations o ON o.id = u.organisation_id WHERE u.id = "
# The stamp, unless this transaction has written (it would see its own uncommitted changes, which the stamp
# does not count: directory_queries.directory_stamp). SQLite has no triggers to keep a stamp.
_STATEMENTS = {
    "postgresql": _COLUMNS + ("CASE WHEN pg_current_xact_id_if_assigned() IS NULL THEN "
                              "(SELECT value FROM directory_stamp WHERE id = 1) END") + _FROM + "%s",
    "sqlite": _COLUMNS + "NULL" + _FROM + "?",
}
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
    statement = _STATEMENTS[binding.engine.dialect.name]
    bound = binding.sessionmaker.kw.get("bind")
    if isinstance(bound, Connection):  # the tests' outer transaction: read inside it
        cursor = bound.connection.dbapi_connection.cursor()
        try:
            cursor.execute(statement, (user_id,))
            return cursor.fetchone()
        finally:
            cursor.close()
    pooled = binding.engine.raw_connection()  # checked on checkout (db.make_engine): never one the server closed
    try:
        return _autocommit_fetch(pooled.driver_connection, statement, user_id)
    finally:
        pooled.close()


def _autocommit_fetch(connection, statement: str, user_id: int) -> tuple | None:
    if not hasattr(connection, "autocommit") or connection.autocommit:  # sqlite3: a SELECT opens no transaction
        return connection.execute(statement, (user_id,)).fetchone()
    connection.autocommit = True
    try:
        return connection.execute(statement, (user_id,)).fetchone()
    finally:
        connection.autocommit = False  # the pool hands it on to transactions
