"""Sync under real concurrency and faults, on a database of its own (these tests commit)."""
import threading
import uuid

import pytest
from sqlalchemy import func, select, text

from auditapp.db import db
from auditapp.models import Answer, ProcessedMutation
from sync.client import SyncClient, answer

from .conftest import make_test_app, world_database
from .sync_helpers import Device, signed_in_device


@pytest.fixture(scope="module")
def committed_app():
    app = make_test_app(world_database("auditapp_sync_faults"))
    yield app
    db.binding(app).engine.dispose()




def _count(app, model, **where):
    with db.binding(app).sessionmaker() as session:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return session.scalar(query)


def test_two_identical_pushes_at_once_apply_exactly_once(committed_app):
    device = signed_in_device(committed_app)
    twin = Device(SyncClient(device.client.transport, device_id=device.client.device_id), device.audit_id,
                  device.visit_id, device.template_version_id)
    batch = [device.start()] + [answer(device.audit_id, f"SG-3.{i}", {"rating": "met"}) for i in range(1, 7)]
    results, barrier = {}, threading.Barrier(2)

    def send(name, dev):
        dev.client.config()
        barrier.wait()
        results[name] = dev.client.push(batch)

    threads = [threading.Thread(target=send, args=(n, d)) for n, d in (("a", device), ("b", twin))]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert {results["a"][0], results["b"][0]} == {200}
    statuses = sorted(r["status"] for name in "ab" for r in results[name][1]["results"])
    assert statuses.count("applied") == 7 and statuses.count("duplicate") == 7
    assert _count(committed_app, Answer, audit_id=uuid.UUID(device.audit_id)) == 6


def test_a_crash_mid_batch_rolls_back_and_the_retry_applies_once(committed_app):
    device = signed_in_device(committed_app)
    batch = [answer(device.audit_id, f"SG-4.{i}", {"note": f"n{i}"}) for i in range(1, 4)]
    device.push(device.start())
    before = _count(committed_app, Answer, audit_id=uuid.UUID(device.audit_id))
    engine = db.binding(committed_app).engine
    # Given the database fails the push after its answers were written (a fault inside the transaction)
    with engine.begin() as conn:
        conn.execute(text("""CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
                             BEGIN RAISE EXCEPTION 'injected crash'; END $$"""))
        conn.execute(text("CREATE TRIGGER fail_once BEFORE INSERT ON processed_mutations "
                          "FOR EACH ROW EXECUTE FUNCTION fail_once()"))
    try:
        status, body = device.client.push(batch)
        # Then the client gets a server error and nothing of the batch is kept
        assert status == 500 and body["code"] == "server.error"
        assert _count(committed_app, Answer, audit_id=uuid.UUID(device.audit_id)) == before
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER fail_once ON processed_mutations"))
            conn.execute(text("DROP FUNCTION fail_once()"))
    # When the client retries the same batch
    assert [r["status"] for r in device.push(*batch)] == ["applied"] * 3
    # And the acknowledgement was lost so it sends it once more
    assert [r["status"] for r in device.push(*batch)] == ["duplicate"] * 3
    assert _count(committed_app, Answer, audit_id=uuid.UUID(device.audit_id)) == before + 3
    assert _count(committed_app, ProcessedMutation, device_id=device.client.device_id) == 4


def test_a_batch_split_and_resent_in_another_order_keeps_the_newest_edit(committed_app):
    device = signed_in_device(committed_app)
    device.push(device.start())
    older = answer(device.audit_id, "SG-5.1", {"rating": "not_met", "note": "first look"})
    newer = answer(device.audit_id, "SG-5.1", {"rating": "met", "note": "found the log"})
    assert device.push(newer)[0]["status"] == "applied"
    assert device.push(older)[0]["status"] == "applied"  # accepted, but superseded by the newer edit
    with db.binding(committed_app).sessionmaker() as session:
        row = session.scalar(select(Answer).where(Answer.audit_id == uuid.UUID(device.audit_id),
                                                  Answer.item_key == "SG-5.1"))
        assert (row.rating, row.note) == ("met", "found the log")
