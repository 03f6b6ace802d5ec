"""The pool's connections on real PostgreSQL: a dropped connection is replaced before use, and a
`read_only` view runs its statements in autocommit while every other request keeps one transaction."""
from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import event, text

from auditapp.db import db as app_db, make_engine

from . import world
from .conftest import Auth, make_test_app, world_database


def _drop_the_pooled_connection(engine) -> int:
    """Terminate, from another connection, the server process behind the pool's one idle connection."""
    with engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
    other = make_engine(engine.url.render_as_string(hide_password=False))
    with other.connect() as conn:  # waits (up to 5 s) until the server process has gone
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    other.dispose()
    return pid


def test_a_dropped_connection_is_replaced_before_use_however_recently_it_was_used(database_url):
    engine = make_engine(database_url)
    try:
        pid = _drop_the_pooled_connection(engine)  # handed back to the pool moments ago
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def committed_app():
    """An app owning its connections (the rolled-back HTTP tests join theirs to one outer transaction)."""
    app = make_test_app(world_database(f"auditapp_conn_{uuid.uuid4().hex[:8]}"))
    yield app
    app_db.binding(app).engine.dispose()


@pytest.mark.parametrize("path, autocommit", [
    ("/directory/?district=Blaby", True),  # read_only
    ("/", False),
    ("/notifications/", False),
])
def test_only_read_only_views_run_their_statements_in_autocommit(committed_app, path, autocommit):
    client = committed_app.test_client()
    auth = Auth(client)
    assert auth.login("school").status_code == 302
    seen = []

    def record(conn, *_args):
        seen.append(conn.connection.dbapi_connection.autocommit)

    engine = app_db.binding(committed_app).engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert seen and set(seen) == {autocommit}


def test_a_kept_search_costs_one_statement_the_user_with_its_unread_count_and_the_stamp(committed_app, tmp_path):
    """Counted on the wire (libpq's protocol trace), so statements sent past SQLAlchemy and psycopg count too."""
    client = committed_app.test_client()
    assert Auth(client).login("school").status_code == 302
    path = "/directory/?district=Charnwood"
    engine = app_db.binding(committed_app).engine
    engine.dispose()  # the pool's next connections trace what they send
    trace = open(tmp_path / "trace.txt", "w+")

    def traced(dbapi_connection, _record):
        dbapi_connection.pgconn.trace(trace.fileno())
        dbapi_connection.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)

    event.listen(engine, "connect", traced)
    try:
        assert client.get(path).status_code == 200  # rendered and kept
        trace.flush()
        seen = trace.tell()
        body = client.get(path).get_data(as_text=True)
        trace.flush()
        trace.seek(seen)
        sent = [line for line in trace.read().splitlines()
                if line.startswith("F\t") and line.split("\t")[2] in ("Query", "Bind", "Parse")]
    finally:
        event.remove(engine, "connect", traced)
        engine.dispose()
        trace.close()
    assert 'id="nav-unread"' in body and "Charnwood" in body
    assert len(sent) == 1 and "auditapp_session_user" in sent[0], sent  # the prepared session-user statement
    with engine.connect() as conn:  # handed back idle, ready for a transaction
        assert conn.connection.dbapi_connection.autocommit is False


def test_the_session_user_statement_is_prepared_again_after_deallocate_all(committed_app):
    """psycopg itself sends DEALLOCATE ALL after a ROLLBACK or a DROP on a connection it prepared statements on."""
    client = committed_app.test_client()
    assert Auth(client).login("school").status_code == 302
    assert client.get("/directory/").status_code == 200  # prepared on the pooled connection
    engine = app_db.binding(committed_app).engine
    with engine.connect() as conn:  # the pool's last-used connection: the one the next request gets
        conn.exec_driver_sql("DEALLOCATE ALL")
        conn.commit()
    for _ in range(2):
        assert client.get("/directory/").status_code == 200


def test_a_deactivated_user_is_signed_out_at_their_next_request(committed_app):
    from sqlalchemy import update

    from auditapp.models import User

    client = committed_app.test_client()
    assert Auth(client).login("school").status_code == 302
    assert client.get("/directory/").status_code == 200
    engine = app_db.binding(committed_app).engine
    with engine.begin() as conn:
        conn.execute(update(User).where(User.email == world.EMAIL["school"]).values(is_active=False))
    try:
        answer = client.get("/directory/")
        assert answer.status_code == 302 and "/sign-in" in answer.headers["Location"]
    finally:
        with engine.begin() as conn:
            conn.execute(update(User).where(User.email == world.EMAIL["school"]).values(is_active=True))


def test_a_read_only_view_that_tries_to_write_fails_and_writes_nothing(committed_app):
    from sqlalchemy import func, select, update

    from auditapp.db import ReadOnlyViolation
    from auditapp.models import Notification, Provider, User

    with committed_app.test_request_context("/directory/?district=Blaby"):  # a read_only view's request
        session = app_db.session
        name = session.scalar(select(Provider.legal_name).order_by(Provider.id).limit(1))
        notes = session.scalar(select(func.count()).select_from(Notification))
        user_id = session.scalar(select(User.id).limit(1))
        with pytest.raises(ReadOnlyViolation):
            session.execute(update(Provider).values(legal_name="changed by a read-only view"))
        session.add(Notification(user_id=user_id, kind="status_changed", title="t", body="b"))
        with pytest.raises(ReadOnlyViolation):
            session.flush()
        session.rollback()
        assert session.scalar(select(Provider.legal_name).order_by(Provider.id).limit(1)) == name
        assert session.scalar(select(func.count()).select_from(Notification)) == notes
