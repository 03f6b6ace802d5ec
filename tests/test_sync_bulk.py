"""A push big enough to take the COPY path (>= COPY_THRESHOLD rows per table) stores exactly what a
small one does: answers, change log, idempotency records with their results, conflicts."""
import uuid
from datetime import date

from sqlalchemy import func, select, text

from auditapp.models import Answer, Base, ChangeLogEntry, ProcessedMutation, SyncConflict
from auditapp.services import bulk, providers
from auditapp.services.access import items_of
from auditapp.services.audits import audit_id_for
from auditapp.services.templates import latest_version
from sync import apply
from sync.client import answer, start, uuid7

from . import world

# Text COPY escapes these; binary COPY sends them as they are. Either way they must come back intact.
NOTE = 'Tab\there, line\nbreak, back\\slash, "quotes", \\N, – “May” é 🙂'


def _audits(session, rows):
    """Enough new audits for `rows` answers (one per rated item of each), and their start mutations."""
    auditor = world.user(session, "auditor")
    visit = world.visit_assigned_to(session, "auditor")
    version = latest_version(session, "safeguarding")
    rated = [k for k, item in items_of(version.content).items() if item.get("answer", "rating") == "rating"]
    starts = []
    for n in range(-(-rows // len(rated))):
        new = providers.schedule_visit(session, None, visit.provider, visit.site, date(2031, 1, 1 + n),
                                       ["safeguarding"], [auditor.id])
        starts.append(start(str(audit_id_for(new.id, "safeguarding")), new.id, "safeguarding", version.id))
    return auditor, starts, rated


def test_the_model_column_types_are_the_database_types_binary_copy_sends(db_session):
    # Binary COPY sends each value in the wire format of the type named from the model: a model
    # saying integer over a bigint column would be refused, or worse. The migrated schema must agree.
    dialect = db_session.get_bind().dialect
    actual = {(t, c): udt for t, c, udt in db_session.execute(text(
        "SELECT table_name, column_name, udt_name FROM information_schema.columns WHERE table_schema = 'public'"))}
    checked = 0
    for table in Base.metadata.tables.values():
        for column in table.columns:
            sent = bulk._binary_types(table, (column.name,), dialect)
            if sent is not None and (table.name, column.name) in actual:
                assert sent[0] == actual[(table.name, column.name)], (table.name, column.name)
                checked += 1
    assert checked > 100


def test_a_large_push_is_stored_and_replayed_exactly(db_session):
    auditor, starts, rated = _audits(db_session, 2 * bulk.COPY_THRESHOLD)
    device = uuid7()
    assert {r["status"] for r in apply.push(db_session, auditor, device, starts)} == {"applied"}
    batch = [answer(s["entity_id"], key, {"rating": "met", "note": f"{NOTE} {n}"})
             for s in starts for n, key in enumerate(rated)]
    bad = [answer(starts[0]["entity_id"], "NOPE-1", {"rating": "met"}) for _ in range(3)]  # results kept as JSON
    before = db_session.scalar(select(func.count()).select_from(ChangeLogEntry))

    results = apply.push(db_session, auditor, device, batch + bad)

    assert [r["status"] for r in results] == ["applied"] * len(batch) + ["rejected"] * 3
    rows = {(str(a.audit_id), a.item_key): a for a in db_session.scalars(
        select(Answer).where(Answer.audit_id.in_([uuid.UUID(s["entity_id"]) for s in starts])))}
    assert len(rows) == len(batch)
    for mutation, result in zip(batch, results):
        row = rows[(mutation["payload"]["audit_id"], mutation["payload"]["item_key"])]
        assert (row.rating, row.note, row.version) == ("met", mutation["payload"]["fields"]["note"], 1)
        assert str(row.id) == mutation["entity_id"] == result["entity_id"]
        assert row.field_meta["note"] == [1, str(device), mutation["mutation_id"]]
    assert db_session.scalar(select(func.count()).select_from(ChangeLogEntry)) == before + len(batch)
    stored = {str(p.mutation_id): p for p in db_session.scalars(
        select(ProcessedMutation).where(ProcessedMutation.device_id == device))}
    assert len(stored) == len(starts) + len(batch) + 3
    for mutation, result in zip(batch + bad, results):
        record = stored[mutation["mutation_id"]]
        assert record.payload_hash == apply.payload_hash(mutation) and record.status == result["status"]
        assert record.result == (None if result["status"] == "applied" else result)
        assert record.processed_at.tzinfo is not None

    replay = apply.push(db_session, auditor, device, batch + bad)

    assert [r["status"] for r in replay] == ["duplicate"] * len(replay)
    assert [r["original"] for r in replay] == results


def test_a_large_batch_of_conflicts_keeps_both_values_of_each(db_session):
    auditor, starts, rated = _audits(db_session, bulk.COPY_THRESHOLD + 1)
    first, second = uuid7(), uuid7()
    apply.push(db_session, auditor, first, starts)
    ours = [answer(s["entity_id"], key, {"note": "ours"}) for s in starts for key in rated]
    theirs = [answer(s["entity_id"], key, {"note": NOTE}) for s in starts for key in rated]
    apply.push(db_session, auditor, first, ours)

    results = apply.push(db_session, auditor, second, theirs)  # same base (0), other device: both kept

    assert {r["status"] for r in results} == {"conflict"} and len(results) >= bulk.COPY_THRESHOLD
    kept = db_session.scalars(select(SyncConflict).where(SyncConflict.device_id == second)).all()
    assert len(kept) == len(theirs)
    by_mutation = {str(c.mutation_id): c for c in kept}
    for mutation in theirs:
        conflict = by_mutation[mutation["mutation_id"]]
        assert conflict.server_value == {"value": "ours"} and conflict.device_value == {"value": NOTE}
        assert conflict.field == "note" and conflict.actor_id == auditor.id
