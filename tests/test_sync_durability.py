"""Every push acknowledgement survives a database crash, whatever the server's synchronous_commit.

The test servers run with synchronous_commit=off, and deployments may too. With it off, a commit returns
before its WAL leaves PostgreSQL's shared memory; the WAL writer writes it within wal_writer_delay. An
immediate stop (SIGQUIT: what a crash or an OOM kill does to the server) loses that WAL, so a push the
device has dropped from its outbox (it was acknowledged) would be gone for good. The push transaction
sets synchronous_commit = on for itself (sync/api.py), so its commit waits for its WAL.

The evidence confirm does the same (auditapp/web/evidence.py): `verified` lets the device delete its copy.

These tests run their own PostgreSQL (it crashes it): fsync on, synchronous_commit off as the server default,
and wal_writer_delay at its 10 s maximum so that, without the fix, the WAL of a commit acknowledged just
before the stop is still in shared memory every time (with the 200 ms default it is most of the time).
"""
import uuid

import psycopg
import pytest
from sqlalchemy.engine import make_url

from auditapp.db import db
from benchmarks.pgcluster import Cluster
from sync.client import answer

from .conftest import make_test_app, world_database
from .evidence_helpers import Device as EvidenceDevice, JPEG, register_mutation
from .sync_helpers import signed_in_device

ITEMS = [f"SG-{section}.{n}" for section, count in ((1, 7), (2, 4), (3, 6), (4, 3), (5, 3), (6, 4))
         for n in range(1, count + 1)]  # 27 items of the safeguarding template
CRASHES = 3  # each restart is a crash recovery with fsync on: 2-5 s on a busy machine
PER_PUSH = 9


@pytest.fixture(scope="module")
def crashable():
    """A server of our own holding a copy of the known world (the shared test server must not be crashed)."""
    source = make_url(world_database("auditapp_sync_durability")).set(drivername="postgresql")
    cluster = Cluster({"fsync": "on", "synchronous_commit": "off", "wal_writer_delay": "10s"})
    try:
        cluster.start()
        cluster.restore_from(source.render_as_string(hide_password=False))
        with psycopg.connect(cluster.libpq_url(), autocommit=True) as conn:
            conn.execute("CHECKPOINT")  # the restored world is on disk before the first crash
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="module")
def app(crashable):
    app = make_test_app(crashable.url())
    yield app
    db.binding(app).engine.dispose()


def _crash_and_recover(cluster, app) -> None:
    """The database server stopped at once (as by pg_ctl stop -m immediate), then started again (crash recovery)."""
    cluster.crash()
    cluster.start()
    db.binding(app).engine.dispose()  # the pooled connections died with the server




def _stored(cluster, device_id: uuid.UUID, audit_id: str) -> tuple[set[str], dict[str, str]]:
    """The device's processed mutation ids, and the audit's answer notes by item key, after recovery."""
    with psycopg.connect(cluster.libpq_url()) as conn:
        processed = {str(row[0]) for row in conn.execute(
            "SELECT mutation_id FROM processed_mutations WHERE device_id = %s", (device_id,))}
        notes = dict(conn.execute("SELECT item_key, note FROM answers WHERE audit_id = %s", (uuid.UUID(audit_id),)))
    return processed, notes


def test_acknowledged_pushes_survive_an_immediate_stop_right_after_the_ack(crashable, app):
    device = signed_in_device(app)
    acked: dict[str, tuple[str, str]] = {}  # mutation id -> (item key, note) of every acknowledged mutation
    lost_per_crash = []
    for crash in range(CRASHES):
        batch = [device.start()] if crash == 0 else []
        for item in ITEMS[crash * PER_PUSH:(crash + 1) * PER_PUSH]:
            batch.append(answer(device.audit_id, item, {"note": f"crash {crash}, {item}"}))
        status, body = device.client.push(batch)
        # Given a push the server acknowledged (the device now drops it from its outbox)
        assert status == 200 and [r["status"] for r in body["results"]] == ["applied"] * len(batch), body
        for sent in batch:
            acked[sent["mutation_id"]] = (sent["payload"].get("item_key"), sent["payload"].get("fields", {}).get("note"))
        # When the database server is stopped at once, and started again
        _crash_and_recover(crashable, app)
        # Then every acknowledged mutation is there, with what it wrote
        processed, notes = _stored(crashable, device.client.device_id, device.audit_id)
        lost_per_crash.append(sorted(m for m, (item, note) in acked.items()
                                     if m not in processed or (item is not None and notes.get(item) != note)))
        if lost_per_crash[-1]:
            break  # the next push would build on what was lost
    lost = [len(ids) for ids in lost_per_crash]
    assert lost == [0] * CRASHES, f"{len(acked)} acknowledged mutations; lost after each crash: {lost}"


def test_a_verified_confirm_survives_an_immediate_stop_right_after_the_answer(crashable, app):
    signed_in = signed_in_device(app)
    device = EvidenceDevice(signed_in.client.transport.client, signed_in)
    registration = register_mutation(device.audit_id, JPEG, item_key="SG-9.1")
    results = device.push(device.sync.start(), registration)
    assert results[1]["status"] == "applied", results
    _crash_and_recover(crashable, app)  # the registration is safe (the push is durable): only the confirm is at stake
    # Given a confirm that answered verified (the device may now delete its copy)
    confirmed = device.upload(registration["entity_id"], JPEG)
    assert confirmed.status_code == 200 and confirmed.get_json()["status"] == "verified", confirmed.get_json()
    # When the database server is stopped at once, and started again
    _crash_and_recover(crashable, app)
    # Then the file is still verified
    with psycopg.connect(crashable.libpq_url()) as conn:
        status = conn.execute("SELECT status FROM evidence WHERE id = %s",
                              (uuid.UUID(registration["entity_id"]),)).fetchone()[0]
    assert status == "verified"
