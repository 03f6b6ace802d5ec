"""With PostgreSQL down, every request gets a clear 503 (JSON for devices, a page for people), never a 500,
and the device's retry works once the database is back: nothing was written, nothing is lost.

Runs its own PostgreSQL (it stops it) holding a copy of the known world.
"""
import uuid

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from auditapp.db import db
from benchmarks.pgcluster import Cluster
from sync.client import answer

from .conftest import make_test_app, world_database
from .sync_helpers import signed_in_device


@pytest.fixture(scope="module")
def cluster():
    source = make_url(world_database("auditapp_database_unavailable")).set(drivername="postgresql")
    cluster = Cluster({"fsync": "off"})
    try:
        cluster.start()
        cluster.restore_from(source.render_as_string(hide_password=False))
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="module")
def app(cluster):
    app = make_test_app(cluster.url())
    yield app
    db.binding(app).engine.dispose()


def _signed_in(app):
    device = signed_in_device(app)
    client = device.client.transport.client
    return client, device, client.get("/sync/config").get_json()["csrf_token"]


def _push(client, csrf: str, device_id: str, mutations: list[dict]):
    return client.post("/sync/push", json={"device_id": device_id, "mutations": mutations},
                       headers={"X-CSRFToken": csrf})


def _until_back(call, tries: int = 5):
    """The device's retry: a pooled connection that died with the server may fail once more, then is replaced."""
    for _ in range(tries):
        response = call()
        if response.status_code != 503:
            return response
    return response


def test_a_stopped_database_answers_503_and_the_retried_push_applies_once_it_is_back(cluster, app):
    client, device, csrf = _signed_in(app)
    device_id = str(uuid.uuid4())
    mutations = [device.start(), answer(device.audit_id, "SG-1.1", {"note": "Seen before the outage"})]
    # Given the database server stops
    cluster.stop()
    try:
        # Then a push, a pull and a page each get a 503 that says to try again, and no class name
        pushed = _push(client, csrf, device_id, mutations)
        assert (pushed.status_code, pushed.get_json()["code"]) == (503, "server.unavailable")
        assert pushed.headers["Retry-After"] == "5"
        assert "Error" not in pushed.get_data(as_text=True)
        pulled = client.get("/sync/pull?cursor=0")
        assert (pulled.status_code, pulled.get_json()["code"]) == (503, "server.unavailable")
        page = client.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 503
        assert "Sorry, the service is unavailable" in page.get_data(as_text=True)
    finally:
        cluster.start()
    # And once it is back, the device's retry of the same push applies it, exactly once
    retried = _until_back(lambda: _push(client, csrf, device_id, mutations))
    assert retried.status_code == 200, retried.get_data(as_text=True)
    assert [r["status"] for r in retried.get_json()["results"]] == ["applied", "applied"]
    again = _push(client, csrf, device_id, mutations)
    assert [r["status"] for r in again.get_json()["results"]] == ["duplicate", "duplicate"]


def test_a_connection_lost_in_the_middle_of_a_push_answers_503_and_the_retry_applies_once(cluster, app):
    client, device, csrf = _signed_in(app)
    device_id = str(uuid.uuid4())
    mutations = [answer(device.audit_id, f"SG-2.{n}", {"note": f"Item {n}"}) for n in range(1, 5)]
    engine = db.binding(app).engine

    def end_this_backend(conn, cursor, statement, *_):
        # The server ends the push's connection as its changes are logged (what a restart does mid-push).
        if statement.startswith("INSERT INTO change_log"):
            with psycopg.connect(cluster.libpq_url(), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (conn.connection.dbapi_connection.info.backend_pid,))

    _push(client, csrf, device_id, [device.start()])
    event.listen(engine, "before_cursor_execute", end_this_backend)
    try:
        cut = _push(client, csrf, device_id, mutations)
    finally:
        event.remove(engine, "before_cursor_execute", end_this_backend)
    # Then the push is answered 503 (not a 500 from splitting the batch on a dead connection), nothing acked
    assert (cut.status_code, cut.get_json()["code"]) == (503, "server.unavailable"), cut.get_data(as_text=True)
    retried = _until_back(lambda: _push(client, csrf, device_id, mutations))
    assert [r["status"] for r in retried.get_json()["results"]] == ["applied"] * 4
