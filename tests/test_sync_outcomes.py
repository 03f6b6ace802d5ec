"""Every mutation reaches a final outcome the device can read (issue 14): a held mutation's outcome
comes back through pull (`entity: "mutation"`, to its sender alone), pull announces conflicts and
their resolution (`entity: "conflict"`), held mutations are bounded per device and per user, and
`audit-tools sync purge-held` settles the ones that waited too long."""
import uuid
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from audit_tools.cli import cli
from auditapp import clock
from auditapp.db import bind, session_scope
from auditapp.models import Audit, HeldMutation, ProcessedMutation, SyncConflict, Visit, VisitAssignment
from auditapp.services.audits import audit_id_for
from auditapp.services.review_conflicts import resolve_conflict
from sync import held
from sync import apply
from sync.client import answer, uuid7

from . import world
from .conftest import world_database
from .review_helpers import LEAD, by_email, conflicted_audit, sign_in, submitted_audit
from .sync_helpers import device_as, device_for, pulled


@pytest.fixture
def device(client, auth, db_session):
    auth.login("auditor")
    return device_for(client, db_session)


def _outcome(device, mutation_id: str) -> dict:
    entries = [c for c in pulled(device, "mutation") if c["entity_id"] == mutation_id]
    assert len(entries) == 1, entries
    assert entries[0]["op"] == "upsert"
    return entries[0]["data"]


# ---- held mutations report their final outcome -------------------------------------------------

def test_a_held_answer_that_applies_later_is_reported_to_its_device_through_pull(device, db_session):
    early = answer(device.audit_id, "SG-2.1", {"rating": "met"})
    assert device.push(early)[0]["status"] == "held"
    assert device.push(device.start())[0]["status"] == "applied"
    data = _outcome(device, early["mutation_id"])
    assert data == {"mutation_id": early["mutation_id"], "device_id": str(device.client.device_id),
                    "kind": "answer.set", "entity_id": early["entity_id"], "status": "applied", "version": 1}


def test_a_held_answer_for_an_item_not_in_the_template_is_rejected_and_reported(device, db_session):
    early = answer(device.audit_id, "SG-99.9", {"rating": "met"})
    assert device.push(early)[0]["status"] == "held"  # the template is the audit's: unknown until it arrives
    device.push(device.start())
    data = _outcome(device, early["mutation_id"])
    assert (data["status"], data["code"], data["kind"]) == ("rejected", "sync.invalid", "answer.set")
    assert data["message"] and data["details"] and data["device_id"] == str(device.client.device_id)
    replay = device.push(early)[0]  # the stored result is the final one too
    assert replay["status"] == "duplicate" and replay["original"]["code"] == "sync.invalid"
    assert db_session.scalar(select(func.count()).select_from(HeldMutation)) == 0


def test_a_held_answer_that_meets_another_devices_value_comes_back_as_a_conflict(client, device, db_session):
    other = device_as(client, device)
    late = answer(device.audit_id, "SG-6.1", {"rating": "not_met", "note": "Door propped open"})
    assert device.push(late)[0]["status"] == "held"
    # The other tablet starts the audit and rates the item in the same push: the held answer, released
    # after them, meets a value it never saw.
    results = other.push(other.start(), answer(other.audit_id, "SG-6.1", {"rating": "met"}))
    assert [r["status"] for r in results] == ["applied", "applied"]
    data = _outcome(device, late["mutation_id"])
    assert (data["status"], data["conflicts"], data["code"]) == ("conflict", ["rating"], "sync.conflict")
    assert "version" not in data


def test_a_held_change_from_a_user_taken_off_the_visit_is_rejected_and_only_they_learn_it(client, auth, db_session,
                                                                                           device):
    early = answer(device.audit_id, "SG-2.2", {"rating": "met"})
    assert device.push(early)[0]["status"] == "held"
    auditor, colleague = world.user(db_session, "auditor"), by_email(db_session, "auditor2@assure.example.org")
    db_session.execute(update(VisitAssignment).where(VisitAssignment.visit_id == device.visit_id,
                                                     VisitAssignment.user_id == auditor.id)
                       .values(user_id=colleague.id))
    db_session.flush()
    sign_in(auth, colleague.email)
    theirs = device_as(client, device)
    assert theirs.push(theirs.start())[0]["status"] == "applied"
    assert pulled(theirs, "mutation") == []  # the colleague sees the audit, not another user's outcomes
    sign_in(auth, auditor.email)
    mine = device_as(client, device)
    mine.client.device_id = device.client.device_id  # the same tablet, signed in again
    data = _outcome(mine, early["mutation_id"])
    assert (data["status"], data["code"]) == ("rejected", "sync.forbidden")
    stored = db_session.get(ProcessedMutation, (device.client.device_id, uuid.UUID(early["mutation_id"])))
    assert stored.status == "rejected"


def test_outcomes_page_in_cursor_order_with_the_audits_changes(device):
    early = [answer(device.audit_id, key, {"rating": "met"}) for key in ("SG-1.1", "SG-1.2")]
    device.push(*early)
    device.push(device.start(), answer(device.audit_id, "SG-1.3", {"rating": "met"}))
    seen, cursor, more = [], 0, True
    while more:
        status, body = device.client.transport.request("GET", f"/sync/pull?cursor={cursor}&limit=2")
        assert status == 200 and len(body["changes"]) <= 2
        seen += body["changes"]
        cursor, more = body["next_cursor"], body["more"]
    cursors = [c["cursor"] for c in seen]
    assert cursors == sorted(set(cursors))
    assert sorted(c["entity"] for c in seen) == ["answer"] * 3 + ["audit"] + ["mutation"] * 2
    assert device.client.pull_all(limit=1000) == seen  # one page sees the same, in the same order


def test_a_user_who_cannot_see_the_audit_pulls_no_outcome_of_it(client, auth, device):
    early = answer(device.audit_id, "SG-2.3", {"rating": "met"})
    device.push(early)
    device.push(device.start())
    auth.logout()
    auth.login("qoe_teacher")
    teacher = device_as(client, device)
    assert teacher.client.pull_all() == []


# ---- conflicts in pull ----------------------------------------------------------------------------

def test_pull_announces_a_conflict_to_both_devices_on_the_audit(client, device, db_session):
    other = device_as(client, device)
    device.push(device.start(), answer(device.audit_id, "SG-6.1", {"rating": "met"}))
    result = other.push(answer(other.audit_id, "SG-6.1", {"rating": "not_met", "note": "Door propped open"}))[0]
    assert result["status"] == "conflict"
    conflict = db_session.scalars(select(SyncConflict)).one()
    expected = {"id": str(conflict.id), "audit_id": device.audit_id, "entity": "answer",
                "entity_id": result["entity_id"], "item_key": "SG-6.1", "field": "rating", "status": "open",
                "device_id": str(other.client.device_id), "resolved_at": None}
    for tablet in (device, other):  # the device whose value stands learns it is contested, and so does the other
        entries = pulled(tablet, "conflict")
        assert [(c["entity_id"], c["version"], c["data"]) for c in entries] == [(str(conflict.id), 1, expected)]


def test_pull_tells_the_devices_when_a_reviewer_resolves_a_conflict(client, device, db_session):
    audit, conflict = conflicted_audit(db_session)
    assert str(audit.id) == device.audit_id
    opened = pulled(device, "conflict")
    assert [(c["entity_id"], c["data"]["status"], c["data"]["device_id"]) for c in opened] == [
        (str(conflict.id), "open", str(conflict.device_id))]
    resolve_conflict(db_session, by_email(db_session, LEAD), audit.id, conflict.id, "device", "", audit.version)
    db_session.flush()
    entries = pulled(device, "conflict")
    assert [(c["entity_id"], c["version"], c["data"]["status"]) for c in entries] == [(str(conflict.id), 2,
                                                                                     "resolved")]
    assert entries[0]["data"]["resolved_at"] == db_session.get(SyncConflict, conflict.id).resolved_at.isoformat()


def test_a_late_change_after_submission_is_announced_as_a_conflict(device, db_session):
    audit = submitted_audit(db_session)
    assert str(audit.id) == device.audit_id
    edit = answer(device.audit_id, "SG-1.1", {"rating": "not_met", "note": "Changed my mind"}, base_version=1)
    assert device.push(edit)[0]["code"] == "audit.submitted"
    entries = [c["data"] for c in pulled(device, "conflict")]
    assert {(e["item_key"], e["field"], e["status"]) for e in entries} == {("SG-1.1", "rating", "open"),
                                                                          ("SG-1.1", "note", "open")}


# ---- bounds on held mutations -----------------------------------------------------------------------

def test_held_mutations_are_capped_per_device_and_per_user(app, client, auth, device, monkeypatch):
    monkeypatch.setitem(app.config, "HELD_MAX_PER_DEVICE", 2)
    monkeypatch.setitem(app.config, "HELD_MAX_PER_USER", 3)
    batch = [answer(device.audit_id, f"SG-1.{i}", {"rating": "met"}) for i in range(1, 4)]
    results = device.push(*batch)
    assert [r["status"] for r in results] == ["held", "held", "rejected"]
    assert results[2]["code"] == "sync.held_limit" and results[2]["details"]["max_held_per_device"] == 2
    assert device.push(batch[2])[0]["original"]["code"] == "sync.held_limit"  # settled: a replay says so
    second = device_as(client, device)  # a new device id does not get round the user's cap
    results = second.push(*[answer(device.audit_id, f"SG-2.{i}", {"rating": "met"}) for i in range(1, 3)])
    assert [r["status"] for r in results] == ["held", "rejected"] and results[1]["code"] == "sync.held_limit"
    assert device.push(device.start())[0]["status"] == "applied"  # the held ones apply and free the room
    assert device.push(answer(device.audit_id, "SG-3.1", {"rating": "met"}))[0]["status"] == "applied"


def test_a_mutation_for_an_audit_the_user_could_never_capture_is_refused_not_held(client, auth, device, db_session):
    strangers = world.visit_assigned_to(db_session, "qoe_teacher")
    for audit_id in (str(uuid.uuid4()), str(uuid.uuid5(uuid.NAMESPACE_URL, "x")),
                     str(audit_id_for(strangers.id, "safeguarding"))):
        result = device.push(answer(audit_id, "SG-1.1", {"rating": "met"}))[0]
        assert (result["status"], result["code"]) == ("rejected", "sync.forbidden")
    assert db_session.scalar(select(func.count()).select_from(HeldMutation)) == 0


def test_purge_settles_mutations_held_too_long_as_expired_and_reports_them(device, db_session):
    old, recent = (answer(device.audit_id, key, {"rating": "met"}) for key in ("SG-4.1", "SG-4.2"))
    device.push(old, recent)
    db_session.execute(update(HeldMutation).where(HeldMutation.mutation_id == uuid.UUID(old["mutation_id"]))
                       .values(held_at=clock.now() - timedelta(days=31)))
    assert [h.mutation_id for h in held.purge_expired(db_session, clock.now() - timedelta(days=30),
                                                        dry_run=True)] == [uuid.UUID(old["mutation_id"])]
    assert db_session.scalar(select(func.count()).select_from(HeldMutation)) == 2  # a dry run changes nothing
    settled = held.purge_expired(db_session, clock.now() - timedelta(days=30))
    assert [h.mutation_id for h in settled] == [uuid.UUID(old["mutation_id"])]
    db_session.flush()
    data = _outcome(device, old["mutation_id"])
    assert (data["status"], data["code"], data["entity_id"]) == ("rejected", "sync.held_expired", old["entity_id"])
    assert device.push(old)[0]["original"]["code"] == "sync.held_expired"
    assert device.push(device.start())[0]["status"] == "applied"  # the recent one is still waiting, and applies
    assert _outcome(device, recent["mutation_id"])["status"] == "applied"


@pytest.fixture(scope="module")
def held_db():
    return world_database("auditapp_cli_held")


def test_audit_tools_sync_purge_held_settles_what_waited_longer_than_the_setting(held_db):
    binding = bind(held_db)
    with session_scope(binding) as session:
        auditor = world.user(session, "auditor")
        visit = session.scalar(select(Visit).join(VisitAssignment).where(VisitAssignment.user_id == auditor.id)
                               .where(~Visit.id.in_(select(Audit.visit_id))).order_by(Visit.id).limit(1))
        device_id = uuid7()
        early = answer(str(audit_id_for(visit.id, "safeguarding")), "SG-1.1", {"rating": "met"})
        assert apply.push(session, auditor, device_id, [early])[0]["status"] == "held"
        session.execute(update(HeldMutation).values(held_at=clock.now() - timedelta(days=8)))
    env = {"AUDITAPP_DATABASE_URL": held_db, "AUDITAPP_HELD_MAX_AGE_DAYS": "10"}
    kept = CliRunner().invoke(cli, ["sync", "purge-held"], env=env, catch_exceptions=False)
    assert kept.exit_code == 0 and "Settled 0 held mutations" in kept.output
    dry = CliRunner().invoke(cli, ["sync", "purge-held", "--older-than-days", "7", "--dry-run"], env=env,
                             catch_exceptions=False)
    assert dry.exit_code == 0 and "Would settle 1 held mutation from 1 device" in dry.output
    done = CliRunner().invoke(cli, ["sync", "purge-held", "--older-than-days", "7"], env=env, catch_exceptions=False)
    assert done.exit_code == 0 and "Settled 1 held mutation from 1 device" in done.output
    with session_scope(binding) as session:
        assert session.scalar(select(func.count()).select_from(HeldMutation)) == 0
        stored = session.get(ProcessedMutation, (device_id, uuid.UUID(early["mutation_id"])))
        assert (stored.status, stored.result["code"]) == ("rejected", "sync.held_expired")
    binding.engine.dispose()
