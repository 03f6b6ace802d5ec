"""Property-based model test: random device edits, delivered with duplicates, reordering and lost
acknowledgements, end in exactly the state a simple in-memory model predicts: 0 lost, 0 doubled.

Calls the push edge function in-process (the same code /sync/push runs) inside a savepoint per
example, so hundreds of sequences run in seconds against real PostgreSQL.
"""
import os
import uuid

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import select

from auditapp.models import Answer, SyncConflict
from auditapp.services.audits import audit_id_for
from auditapp.services.templates import latest_version
from sync import apply
from sync.client import answer, start, uuid7

from . import world

EXAMPLES = int(os.environ.get("SYNC_MODEL_EXAMPLES", "500"))
ITEMS = ("SG-1.1", "SG-1.2", "SG-1.3")
RATINGS = ("met", "partially_met", "not_met")
FINAL = {"applied", "duplicate", "conflict"}


class Tablet:
    """A device: an outbox, the versions it has learned, and what it last entered per field."""

    def __init__(self, session, actor, audit_id, start_mutation, learns_versions=True):
        self.session, self.actor, self.audit_id = session, actor, audit_id
        self.learns_versions = learns_versions
        self.device_id = uuid7()
        self.outbox = [start_mutation]
        self.sent: list[dict] = []
        self.versions: dict[str, int] = {}
        self.last: dict[tuple[str, str], object] = {}

    def edit(self, item, field, value):
        self.outbox.append(answer(self.audit_id, item, {field: value}, base_version=self.versions.get(item, 0)))
        self.last[(item, field)] = value

    def deliver(self, picks, order, ack):
        if not self.outbox and not self.sent:
            return
        pool = self.outbox + self.sent  # already acknowledged ones may be re-sent (duplicates)
        batch = [pool[i % len(pool)] for i in picks]
        batch = [batch[i % len(batch)] for i in order] or batch
        results = apply.push(self.session, self.actor, self.device_id, batch)
        if ack:
            self._acknowledge(batch, results)

    def drain(self):
        while self.outbox:
            batch = list(self.outbox)
            self._acknowledge(batch, apply.push(self.session, self.actor, self.device_id, batch))

    def _acknowledge(self, batch, results):
        for sent, result in zip(batch, results):
            assert result["status"] in FINAL | {"held"}, result
            item = sent["payload"].get("item_key")
            if self.learns_versions and result["status"] == "applied" and item:
                self.versions[item] = max(self.versions.get(item, 0), result["version"])
            if sent in self.outbox:
                self.outbox.remove(sent)
                self.sent.append(sent)


deliveries = st.lists(st.tuples(st.integers(0, 1), st.lists(st.integers(0, 30), min_size=1, max_size=6),
                                st.lists(st.integers(0, 30), max_size=6), st.booleans()), max_size=8)


def _world(session):
    visit = world.visit_assigned_to(session, "auditor")
    audit_id = str(audit_id_for(visit.id, "safeguarding"))
    return world.user(session, "auditor"), audit_id, start(audit_id, visit.id, "safeguarding",
                                                           latest_version(session, "safeguarding").id)


def _server(session, audit_id):
    return {a.item_key: a for a in session.scalars(select(Answer).where(Answer.audit_id == uuid.UUID(audit_id)))}


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.sampled_from(ITEMS), st.sampled_from(("rating", "note")), st.integers(0, 2)),
                      min_size=1, max_size=12), plan=deliveries)
def test_one_tablet_with_lost_acks_duplicates_and_reordering_ends_exact(db_session, edits, plan):
    savepoint = db_session.begin_nested()
    try:
        actor, audit_id, start_mutation = _world(db_session)
        tablet = Tablet(db_session, actor, audit_id, start_mutation)
        steps = iter(plan)
        for item, field, n in edits:
            tablet.edit(item, field, RATINGS[n] if field == "rating" else f"note {n}")
            step = next(steps, None)
            if step:
                tablet.deliver(step[1], step[2], step[3])
        tablet.drain()
        server = _server(db_session, audit_id)
        note(f"edits={edits} plan={plan}")
        # 0 lost: every field holds the tablet's last value; 0 doubled: one row per item edited
        assert set(server) == {item for item, _ in tablet.last}
        for (item, field), value in tablet.last.items():
            assert getattr(server[item], field) == value
        assert db_session.scalars(select(SyncConflict)).all() == []
    finally:
        savepoint.rollback()


@settings(max_examples=max(EXAMPLES // 2, 50), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, 1), st.sampled_from(ITEMS)), min_size=1, max_size=12),
       plan=deliveries)
def test_two_tablets_on_one_audit_lose_nothing(db_session, edits, plan):
    savepoint = db_session.begin_nested()
    try:
        actor, audit_id, start_mutation = _world(db_session)
        # Tablets that never pull: each keeps its first base, so every clash must be kept as a conflict.
        tablets = [Tablet(db_session, actor, audit_id, start_mutation, learns_versions=False) for _ in range(2)]
        steps = iter(plan)
        for n, (who, item) in enumerate(edits):
            tablets[who].edit(item, "note", f"tablet {who} edit {n}")  # values never repeat across tablets
            step = next(steps, None)
            if step:
                tablets[step[0]].deliver(step[1], step[2], step[3])
        for tablet in tablets:
            tablet.drain()
        server = _server(db_session, audit_id)
        kept = {(c.device_id, c.field, c.device_value["value"])
                for c in db_session.scalars(select(SyncConflict))}
        assert set(server) == {item for t in tablets for item, _ in t.last}
        for tablet in tablets:
            for (item, field), value in tablet.last.items():
                # each tablet's last word is on the server or kept for the reviewer: never dropped
                assert server[item].note == value or (tablet.device_id, f"{field}", value) in kept, (item, value)
    finally:
        savepoint.rollback()
