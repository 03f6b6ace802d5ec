"""POST /sync/push: idempotent, per-mutation results, held parents, conflicts kept, nothing leaks."""
import uuid

import pytest
from sqlalchemy import func, select

from auditapp.models import Answer, AuditLogEntry, ChangeLogEntry, Conversation, HeldMutation, SafeguardingConcern, SyncConflict
from sync.client import answer, mutation, uuid7

from .sync_helpers import device_for


@pytest.fixture
def device(client, auth, db_session):
    auth.login("auditor")
    return device_for(client, db_session)


def _answers(db_session, audit_id):
    return {a.item_key: a for a in db_session.scalars(select(Answer).where(Answer.audit_id == uuid.UUID(audit_id)))}


def test_start_and_answers_are_applied_and_logged(device, db_session):
    results = device.push(device.start(), answer(device.audit_id, "SG-1.1", {"rating": "met", "note": "Seen"}),
                          answer(device.audit_id, "HDR-4.2", {"value": 3}))
    assert [r["status"] for r in results] == ["applied"] * 3
    rows = _answers(db_session, device.audit_id)
    assert rows["SG-1.1"].rating == "met" and rows["SG-1.1"].note == "Seen" and rows["SG-1.1"].version == 1
    assert rows["HDR-4.2"].value == 3
    logged = db_session.scalar(select(func.count()).select_from(ChangeLogEntry)
                               .where(ChangeLogEntry.audit_id == uuid.UUID(device.audit_id)))
    assert logged == 3  # the audit and two answers


def test_replayed_push_returns_original_result_and_writes_nothing(device, db_session):
    batch = [device.start(), answer(device.audit_id, "SG-1.1", {"rating": "met"})]
    first = device.push(*batch)
    count = db_session.scalar(select(func.count()).select_from(ChangeLogEntry))
    again = device.push(*batch)
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert again[1]["original"] == first[1]
    assert db_session.scalar(select(func.count()).select_from(ChangeLogEntry)) == count


def test_same_mutation_id_with_a_different_payload_is_a_mismatch(device, db_session):
    first = answer(device.audit_id, "SG-1.1", {"rating": "met"})
    device.push(device.start(), first)
    forged = {**first, "payload": {**first["payload"], "fields": {"rating": "not_met"}}}
    result = device.push(forged)[0]
    assert result["status"] == "rejected" and result["code"] == "sync.mutation_mismatch"
    assert _answers(db_session, device.audit_id)["SG-1.1"].rating == "met"


def test_a_mutation_repeated_inside_one_batch_is_applied_once(device, db_session):
    one = answer(device.audit_id, "SG-1.2", {"note": "once"})
    results = device.push(device.start(), one, one)
    assert [r["status"] for r in results] == ["applied", "applied", "duplicate"]
    assert _answers(db_session, device.audit_id)["SG-1.2"].version == 1


def test_answer_before_its_audit_is_held_then_applied_when_the_audit_arrives(device, db_session):
    early = answer(device.audit_id, "SG-2.1", {"rating": "partially_met", "note": "Certificate 2023"})
    assert device.push(early)[0]["status"] == "held"
    assert db_session.scalar(select(func.count()).select_from(HeldMutation)) == 1
    assert device.push(device.start())[0]["status"] == "applied"
    assert _answers(db_session, device.audit_id)["SG-2.1"].rating == "partially_met"
    assert db_session.scalar(select(func.count()).select_from(HeldMutation)) == 0
    replay = device.push(early)[0]
    assert replay["status"] == "duplicate" and replay["original"]["status"] == "applied"


def test_two_devices_same_field_from_same_base_keep_both_values(client, auth, db_session):
    auth.login("auditor")
    tablet_a, tablet_b = device_for(client, db_session), device_for(client, db_session)
    tablet_a.push(tablet_a.start())
    assert tablet_a.push(answer(tablet_a.audit_id, "SG-6.1", {"rating": "met"}))[0]["status"] == "applied"
    result = tablet_b.push(answer(tablet_b.audit_id, "SG-6.1", {"rating": "not_met", "note": "Door propped open"}))[0]
    assert result["status"] == "conflict" and result["conflicts"] == ["rating"]
    row = _answers(db_session, tablet_a.audit_id)["SG-6.1"]
    assert row.rating == "met" and row.note == "Door propped open"  # the untouched field applied (soft)
    conflict = db_session.scalars(select(SyncConflict)).one()
    assert (conflict.field, conflict.server_value, conflict.device_value) == ("rating", {"value": "met"},
                                                                              {"value": "not_met"})


def test_a_stale_edit_of_a_field_nobody_else_changed_applies(client, auth, db_session):
    auth.login("auditor")
    tablet_a, tablet_b = device_for(client, db_session), device_for(client, db_session)
    tablet_a.push(tablet_a.start(), answer(tablet_a.audit_id, "SG-7.1", {"rating": "met"}))
    tablet_a.push(answer(tablet_a.audit_id, "SG-7.1", {"rating": "met", "note": "filter reviewed"}, base_version=1))
    result = tablet_b.push(answer(tablet_b.audit_id, "SG-7.1", {"na_reason": "n/a"}, base_version=1))[0]
    assert result["status"] == "applied" and result["version"] == 3


def test_one_device_editing_twice_in_a_batch_is_not_a_conflict(device, db_session):
    results = device.push(device.start(), answer(device.audit_id, "SG-1.3", {"rating": "not_met"}),
                          answer(device.audit_id, "SG-1.3", {"rating": "met"}))
    assert [r["status"] for r in results] == ["applied"] * 3
    assert _answers(db_session, device.audit_id)["SG-1.3"].rating == "met"


@pytest.mark.parametrize("bad, code", [
    (lambda d: mutation("answer.delete", uuid7(), {}), "sync.invalid"),
    (lambda d: {"mutation_id": "not-a-uuid", "kind": "answer.set"}, "sync.invalid"),
    (lambda d: answer(d.audit_id, "SG-99.9", {"rating": "met"}), "sync.invalid"),
    (lambda d: answer(d.audit_id, "SG-1.1", {"rating": "excellent"}), "sync.invalid"),
    (lambda d: answer(d.audit_id, "SG-1.1", {"rating": "not_applicable"}), "answer.na_reason_required"),
    (lambda d: answer(d.audit_id, "HDR-4.2", {"rating": "met"}), "sync.invalid"),
    (lambda d: answer(d.audit_id, "SG-1.1", {"colour": "red"}), "sync.invalid"),
    (lambda d: mutation("action.set", uuid7(), {"audit_id": d.audit_id, "item_key": "SG-1.1",
                                                "fields": {"description": "Review the policy"}}), "sync.invalid"),
    (lambda d: "just a string", "sync.invalid"),
])
def test_bad_mutations_are_rejected_alone_with_a_reason(device, db_session, bad, code):
    good = answer(device.audit_id, "SG-1.4", {"rating": "met"})
    results = device.push(device.start(), bad(device), good)
    assert results[1]["status"] == "rejected" and results[1]["code"] == code
    assert results[1]["message"]
    assert [results[0]["status"], results[2]["status"]] == ["applied", "applied"]
    assert set(_answers(db_session, device.audit_id)) == {"SG-1.4"}


def test_an_auditor_cannot_write_an_audit_of_a_visit_not_assigned_to_them(client, auth, db_session):
    from . import world
    from auditapp.services.audits import audit_id_for
    from auditapp.services.templates import latest_version
    auth.login("auditor")
    device = device_for(client, db_session)
    other_visit = world.visit_assigned_to(db_session, "qoe_teacher")
    other_audit = str(audit_id_for(other_visit.id, "quality_education"))
    results = device.push(mutation("audit.start", other_audit, {"visit_id": other_visit.id,
                                   "audit_type": "quality_education",
                                   "template_version_id": latest_version(db_session, "quality_education").id}),
                          answer(other_audit, "QE-1.1", {"rating": "met"}))
    assert results[0]["code"] == "sync.forbidden"
    # The audit does not exist, and could never be one this user captures: refused as if it existed
    # (nothing about it leaks either way), not held.
    assert (results[1]["status"], results[1]["code"]) == ("rejected", "sync.forbidden")


def test_a_forged_audit_id_is_refused(device):
    forged = device.start()
    forged["entity_id"] = str(uuid7())
    result = device.push(forged)[0]
    assert result["status"] == "rejected" and "derived" in result["message"]


def test_another_users_device_gets_forbidden_for_every_mutation(client, auth, db_session):
    auth.login("auditor")
    device = device_for(client, db_session)
    device.push(device.start())
    auth.logout()
    auth.login("qoe_teacher")
    status, body = device.client.push([answer(device.audit_id, "SG-1.1", {"rating": "met"})])
    assert status == 200 and [r["code"] for r in body["results"]] == ["sync.forbidden"]
    assert _answers(db_session, device.audit_id) == {}


@pytest.mark.parametrize("body, status, code", [
    ({"mutations": []}, 422, "sync.malformed"),
    ({"device_id": "x", "mutations": []}, 422, "sync.malformed"),
    ({"device_id": str(uuid.uuid4()), "mutations": "many"}, 422, "sync.malformed"),
    ([1, 2, 3], 422, "sync.malformed"),
])
def test_malformed_pushes_get_a_json_error_and_write_nothing(device, body, status, code):
    device.client.config()
    got_status, got = device.client.transport.request("POST", "/sync/push", body,
                                                       {"X-CSRFToken": device.client.csrf_token})
    assert (got_status, got["code"]) == (status, code)


def test_a_batch_over_the_advertised_limit_gets_413(device):
    limit = device.client.config()["max_batch"]
    status, body = device.client.push([answer(device.audit_id, "SG-1.1", {"note": "x"})] * (limit + 1))
    assert status == 413 and body["code"] == "sync.batch_too_large" and body["details"]["max_batch"] == limit


def test_push_without_csrf_token_is_refused(device):
    status, body = device.client.transport.request("POST", "/sync/push", {"device_id": str(uuid.uuid4()),
                                                                          "mutations": []})
    assert status == 400 and body["code"] == "request.csrf_failed"


def test_submit_needs_every_item_rated_and_then_late_changes_wait_for_review(device, db_session):
    device.push(device.start())
    refused = device.push(mutation("audit.submit", device.audit_id, {}))[0]
    assert refused["code"] == "audit.incomplete" and "SG-1.1" in refused["details"]["missing"]
    from auditapp.services.access import items_of
    from auditapp.services.templates import latest_version
    items = items_of(latest_version(db_session, "safeguarding").content)
    rated = [k for k, i in items.items() if i.get("answer", "rating") == "rating"]
    device.push(*[answer(device.audit_id, key, {"rating": "met"}) for key in rated])
    assert device.push(mutation("audit.submit", device.audit_id, {}))[0]["status"] == "applied"
    late = device.push(answer(device.audit_id, "SG-1.1", {"rating": "not_met"}, base_version=1))[0]
    assert late["status"] == "conflict" and late["code"] == "audit.submitted"
    assert _answers(db_session, device.audit_id)["SG-1.1"].rating == "met"


def test_conversations_get_server_references_in_arrival_order(client, auth, db_session):
    auth.login("auditor")
    tablet_a, tablet_b = device_for(client, db_session), device_for(client, db_session)
    tablet_a.push(tablet_a.start())
    conversation = lambda d: mutation("conversation.set", uuid7(), {"audit_id": d.audit_id, "kind": "learner",
                                      "fields": {"subject": "KS4", "consent_given": True, "response:LC-3": "Feels safe"}})
    tablet_a.push(conversation(tablet_a))
    tablet_b.push(conversation(tablet_b), mutation("conversation.set", uuid7(), {
        "audit_id": tablet_b.audit_id, "kind": "staff", "fields": {"subject": "DSL"}}))
    rows = db_session.scalars(select(Conversation).where(Conversation.audit_id == tablet_a.audit_id)
                              .order_by(Conversation.reference)).all()
    assert [r.reference for r in rows] == ["L1", "L2", "S1"]
    assert rows[0].responses == {"LC-3": "Feels safe"}


def test_a_prompt_from_another_audit_type_is_refused(device):
    results = device.push(device.start(), mutation("conversation.set", uuid7(), {
        "audit_id": device.audit_id, "kind": "learner", "fields": {"response:LC-1": "QE prompt in an SG audit"}}))
    assert results[1]["status"] == "rejected" and "response:LC-1" in results[1]["details"]


def test_a_safeguarding_concern_is_kept_outside_the_audit_and_its_log_entry_has_no_content(device, db_session):
    concern_id = uuid7()
    result = device.push(mutation("concern.raise", concern_id, {
        "visit_id": device.visit_id, "occurred_at": "2026-11-28T10:15:00+00:00", "referred_to_role": "Provider DSL",
        "reference_number": None, "about_provider_or_staff": True, "summary": "Referred; see DSL record"}))[0]
    assert result["status"] == "applied"
    assert db_session.get(SafeguardingConcern, concern_id).about_provider_or_staff is True
    entry = db_session.scalars(select(AuditLogEntry).where(AuditLogEntry.entity_id == str(concern_id))).one()
    assert "summary" not in entry.after
    assert device.push(mutation("concern.raise", concern_id, {
        "visit_id": device.visit_id, "occurred_at": "2026-11-28T10:15:00+00:00", "referred_to_role": "Provider DSL",
        "reference_number": None, "about_provider_or_staff": True, "summary": "Referred; see DSL record"},
        mutation_id=uuid7()))[0]["status"] == "applied"
    assert db_session.scalar(select(func.count()).select_from(SafeguardingConcern)
                             .where(SafeguardingConcern.visit_id == device.visit_id)) == 1


def test_an_exported_outbox_imported_twice_by_an_admin_applies_once(client, auth, db_session):
    import io
    import json
    auth.login("auditor")
    device = device_for(client, db_session)
    export = {"format": "auditapp-outbox", "version": 1, "device_id": str(device.client.device_id),
              "user_email": "auditor@assure.example.org",
              "mutations": [device.start(), answer(device.audit_id, "SG-8.1", {"rating": "met", "note": "Register seen"})]}
    auth.logout()
    auth.login("admin")
    for expected in ("2 applied", "2 duplicate"):
        body = {"export": (io.BytesIO(json.dumps(export).encode()), "outbox.json"),
                "csrf_token": auth.csrf("/admin/sync-import")}
        response = client.post("/admin/sync-import", data=body, content_type="multipart/form-data")
        assert response.status_code == 200 and expected in response.get_data(as_text=True)
    assert _answers(db_session, device.audit_id)["SG-8.1"].note == "Register seen"
    assert db_session.query(AuditLogEntry).filter_by(action="sync.import").count() == 2


@pytest.mark.parametrize("content", [b"not json", b'{"format": "other", "device_id": "x", "mutations": []}',
                                     b'{"format": "auditapp-outbox", "device_id": "00000000-0000-0000-0000-000000000001", '
                                     b'"user_email": "staff@beaumontleys.example.org", "mutations": []}'])
def test_a_bad_import_file_gets_422_and_changes_nothing(client, auth, content):
    import io
    auth.login("admin")
    response = client.post("/admin/sync-import", data={"export": (io.BytesIO(content), "x.json"),
                                                       "csrf_token": auth.csrf("/admin/sync-import")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "govuk-error-summary" in response.get_data(as_text=True)


def test_maintainers_see_a_new_concern_on_their_home_page(client, auth, db_session):
    auth.login("auditor")
    device = device_for(client, db_session)
    device.push(mutation("concern.raise", uuid7(), {
        "visit_id": device.visit_id, "occurred_at": "2026-11-28T11:00:00+00:00", "referred_to_role": "LADO",
        "reference_number": "LADO-123", "about_provider_or_staff": True, "summary": None}))
    auth.logout()
    auth.login("maintainer")
    page = client.get("/").get_data(as_text=True)
    # the demo world's open concern (Melton Outdoor Pursuits) and this one
    assert "2 safeguarding concerns raised during visits" in page and "LADO-123" in page
    auth.logout()
    auth.login("school")
    assert "LADO-123" not in client.get("/").get_data(as_text=True)


def test_a_resent_batch_in_another_order_with_a_bad_id_gets_each_stored_result_in_its_place(device):
    a, b, c = (answer(device.audit_id, key, {"note": key}) for key in ("SG-1.1", "SG-1.2", "SG-1.3"))
    bad = {**answer(device.audit_id, "SG-1.4", {"note": "x"}), "mutation_id": "not-a-uuid"}
    first = device.push(device.start(), a, bad, b)
    assert [r["status"] for r in first] == ["applied", "applied", "rejected", "applied"]

    again = device.push(b, bad, a, {**a, "mutation_id": a["mutation_id"].upper()}, c)

    assert [r["status"] for r in again] == ["duplicate", "rejected", "duplicate", "duplicate", "applied"]
    assert again[0]["original"] == first[3] and again[2]["original"] == again[3]["original"] == first[1]
    assert again[1]["code"] == "sync.invalid" and again[4]["entity_id"] == c["entity_id"]


def test_a_replay_returns_the_entity_id_the_server_kept_not_the_one_the_device_proposed(client, auth, db_session):
    auth.login("auditor")
    tablet_a, tablet_b = device_for(client, db_session), device_for(client, db_session)
    tablet_a.push(tablet_a.start(), answer(tablet_a.audit_id, "SG-8.1", {"rating": "met"}))
    # The second tablet proposes its own id for the same answer; the server keeps the first one
    late = answer(tablet_b.audit_id, "SG-8.1", {"note": "seen"}, base_version=1)
    first = tablet_b.push(late)[0]
    kept = str(_answers(db_session, tablet_a.audit_id)["SG-8.1"].id)
    assert first["status"] == "applied" and first["entity_id"] == kept != late["entity_id"]

    again = tablet_b.push(late)[0]

    assert again["status"] == "duplicate" and again["original"] == first
