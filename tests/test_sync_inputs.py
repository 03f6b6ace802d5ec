"""Every input to /sync/push and /sync/pull gets an answer, never a 500 (issue 14, VALIDATE).

Bad text (NUL, a lone UTF-16 surrogate), non-finite or out-of-range numbers, typed values of the
wrong kind, a base_version the server never gave, another record's id: each is refused alone with
a code and a field message, and the rest of the batch is applied. Bodies are bounded at parse.
"""
import json
import re
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from auditapp import clock
from auditapp.db import db
from auditapp.models import Answer, Conversation, ProcessedMutation, Visit
from auditapp.services import capture, providers
from auditapp.services.audits import audit_id_for
from sync.body import MAX_BODY_BYTES, MAX_DEPTH
from sync.client import SyncClient, answer, mutation, start, uuid7

from . import world
from .conftest import make_test_app, world_database
from .sync_helpers import Device, device_for, signed_in_device

CUT_EMOJI = "Seen the fire log \ud83d"  # what JavaScript leaves when it cuts a string inside an emoji
NUL = "Seen\x00the log"
CLASS_NAME = re.compile(r"Violation|Representation|Untranslatable|OutOfRange|Error\b|Exception")


@pytest.fixture
def device(client, auth, db_session):
    auth.login("auditor")
    return device_for(client, db_session)


def _raw_push(device: Device, body):
    """POST a body exactly as given (text or bytes), the way a third-party client might."""
    if device.client.csrf_token is None:
        device.client.config()
    return device.client.transport.client.post(
        "/sync/push", data=body, content_type="application/json",
        headers={"X-CSRFToken": device.client.csrf_token, "Accept": "application/json"})


def _envelope(device: Device, mutations_json: str) -> str:
    return '{"device_id": "%s", "mutations": [%s]}' % (device.client.device_id, mutations_json)


def _answers(db_session, audit_id):
    return {a.item_key: a for a in db_session.scalars(select(Answer).where(Answer.audit_id == uuid.UUID(audit_id)))}


def _fields(kind, key, fields):
    return lambda d: mutation(kind, uuid7(), {"audit_id": d.audit_id, "item_key": key, "fields": fields})


def _conversation(fields):
    return lambda d: mutation("conversation.set", uuid7(), {"audit_id": d.audit_id, "kind": "learner", "fields": fields})


def _concern(**texts):
    return lambda d: mutation("concern.raise", uuid7(), {
        "visit_id": d.visit_id, "occurred_at": clock.now().isoformat(), "referred_to_role": "DSL",
        "about_provider_or_staff": False, **texts})


def _register(filename):
    return lambda d: mutation("evidence.register", uuid7(), {
        "audit_id": d.audit_id, "item_key": "SG-1.1", "media_type": "image/jpeg", "size_bytes": 1000,
        "sha256": "ab" * 32, "filename": filename})


def _withdraw(reason):
    return lambda d: mutation("evidence.withdraw", uuid7(), {"audit_id": d.audit_id, "reason": reason})


ACTION = {"description": "Review the policy", "owner_role": "DSL", "due_date": "2027-01-31"}
# (the mutation, given a bad text; the path of the field the message must name)
TEXT_FIELDS = [
    (lambda t: _fields("answer.set", "SG-1.1", {"rating": "met", "note": t}), ("fields", "note")),
    (lambda t: _fields("answer.set", "SG-1.1", {"rating": "not_applicable", "na_reason": t}), ("fields", "na_reason")),
    (lambda t: _fields("answer.set", "HDR-1", {"value": t}), ("fields", "value")),
    (lambda t: _fields("policy_check.set", "SG-1.1", {"document_version": t}), ("fields", "document_version")),
    (lambda t: _fields("policy_check.set", "SG-1.1", {"named_person": t}), ("fields", "named_person")),
    (lambda t: _fields("policy_check.set", "SG-1.1", {"note": t}), ("fields", "note")),
    (lambda t: _conversation({"subject": t}), ("fields", "subject")),
    (lambda t: _conversation({"setting": t}), ("fields", "setting")),
    (lambda t: _conversation({"notes": t}), ("fields", "notes")),
    (lambda t: _conversation({"response:LC-3": t}), ("fields", "response:LC-3")),
    (lambda t: _fields("action.set", "SG-1.1", {**ACTION, "description": t}), ("fields", "description")),
    (lambda t: _fields("action.set", "SG-1.1", {**ACTION, "owner_role": t}), ("fields", "owner_role")),
    (lambda t: _concern(summary=t), ("summary",)),
    (lambda t: _concern(reference_number=t), ("reference_number",)),
    (lambda t: _concern(referred_to_role=t), ("referred_to_role",)),
    (lambda t: _register(t + ".jpg"), ("filename",)),
    (lambda t: _withdraw(t), ("reason",)),
    (lambda t: _fields("answer.set", "SG-1.1", {t: "met"}), ("fields",)),  # a bad key is bad text too
]


def _field_message(result, path):
    """The messages the result gives for the field at `path` (under payload, or under details)."""
    details = result["details"]
    node = details.get("payload", details)
    for name in path:
        assert name in node, (path, details)
        node = node[name]
    return node


@pytest.mark.parametrize("bad_text", [CUT_EMOJI, NUL], ids=["lone-surrogate", "nul"])
@pytest.mark.parametrize("build, path", TEXT_FIELDS)
def test_bad_text_anywhere_is_rejected_alone_and_the_rest_applied(device, db_session, bad_text, build, path):
    good = answer(device.audit_id, "SG-1.4", {"rating": "met", "note": "Seen – dated “May” 🙂"})
    status, body = device.client.push([device.start(), build(bad_text)(device), good])
    assert status == 200, body
    results = body["results"]
    assert [results[0]["status"], results[2]["status"]] == ["applied", "applied"]
    assert results[1]["status"] == "rejected" and results[1]["code"] == "sync.invalid", results[1]
    messages = _field_message(results[1], path)
    assert messages and not CLASS_NAME.search(json.dumps(results[1]))
    assert _answers(db_session, device.audit_id)["SG-1.4"].note == "Seen – dated “May” 🙂"


def test_a_cut_emoji_sent_as_a_raw_json_escape_is_rejected_per_mutation(device, db_session):
    bad = json.dumps(answer(device.audit_id, "SG-1.1", {"note": "x"})).replace('"note": "x"', '"note": "cut \\ud83d"')
    response = _raw_push(device, _envelope(device, ", ".join([json.dumps(device.start()), bad])))
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert results[0]["status"] == "applied"
    assert results[1]["code"] == "sync.invalid" and "note" in results[1]["details"]["payload"]["fields"]
    assert "surrogate" in results[1]["details"]["payload"]["fields"]["note"][0].lower() or \
        "character" in results[1]["details"]["payload"]["fields"]["note"][0].lower()


# ---- the body: depth, size, JSON ---------------------------------------------------------------

def test_deeply_nested_json_is_a_422_not_a_500(device):
    response = _raw_push(device, _envelope(device, "[" * 1000 + "]" * 1000))
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "request.too_deep" and body["message"] and body["details"] == {"max_depth": MAX_DEPTH}


def test_nesting_just_past_the_bound_inside_a_value_is_too_deep(device):
    value = '{"a": ' * MAX_DEPTH + "1" + "}" * MAX_DEPTH
    bad = json.dumps(answer(device.audit_id, "HDR-5", {"value": "X"})).replace('"X"', value)
    response = _raw_push(device, _envelope(device, bad))
    assert response.status_code == 422 and response.get_json()["code"] == "request.too_deep"


def test_brackets_inside_strings_do_not_count_as_depth(device):
    note = "[{" * 200 + '\\"' + "}]" * 200
    response = _raw_push(device, _envelope(device, ", ".join([
        json.dumps(device.start()), json.dumps(answer(device.audit_id, "SG-1.1", {"note": "N"})).replace('"N"', f'"{note}"')])))
    assert response.status_code == 200, response.get_json()
    assert [r["status"] for r in response.get_json()["results"]] == ["applied", "applied"]


def test_a_body_over_the_byte_bound_is_a_413_with_a_code(device):
    response = _raw_push(device, b" " * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    body = response.get_json()
    assert body["code"] == "request.too_large" and body["details"] == {"max_body_bytes": MAX_BODY_BYTES}


@pytest.mark.parametrize("body", [b"{not json", b'{"device_id": "\xff\xfe"}', b"[]", b"null",
                                  b'{"device_id": "x", "mutations": []}', b'{"mutations": 7}',
                                  b'{"device_id": 1' + b"0" * 5000 + b', "mutations": []}'])
def test_a_malformed_body_is_a_422_with_the_json_error_shape(device, body):
    response = _raw_push(device, body)
    assert response.status_code == 422, response.get_data(as_text=True)
    answer_ = response.get_json()
    assert answer_["code"] == "sync.malformed" and set(answer_) == {"code", "message", "details"}


def test_config_tells_the_device_the_body_bounds(device):
    config = device.client.config()
    assert config["max_body_bytes"] == MAX_BODY_BYTES and config["max_depth"] == MAX_DEPTH


# ---- numbers --------------------------------------------------------------------------------------

@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN", "1e400", "-1e400"])
def test_non_finite_numbers_are_rejected_per_mutation(device, db_session, literal):
    bad = json.dumps(answer(device.audit_id, "HDR-4.2", {"value": 0})).replace('"value": 0', f'"value": {literal}')
    counts = json.dumps(answer(device.audit_id, "HDR-5", {"value": {"on_roll": 0}})).replace(
        '"on_roll": 0', f'"on_roll": {literal}')
    good = json.dumps(answer(device.audit_id, "SG-1.4", {"rating": "met"}))
    response = _raw_push(device, _envelope(device, ", ".join([json.dumps(device.start()), bad, counts, good])))
    assert response.status_code == 200, response.get_data(as_text=True)
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "rejected", "applied"]
    for result in results[1:3]:
        assert result["code"] == "sync.invalid" and "value" in result["details"]["payload"]["fields"]
        assert not CLASS_NAME.search(json.dumps(result))
    assert set(_answers(db_session, device.audit_id)) == {"SG-1.4"}


@pytest.mark.parametrize("build, field", [
    (lambda d: start(d.audit_id, 2**31, "safeguarding", d.template_version_id), "visit_id"),
    (lambda d: start(d.audit_id, d.visit_id, "safeguarding", 2**31), "template_version_id"),
    (lambda d: start(d.audit_id, -1, "safeguarding", d.template_version_id), "visit_id"),
    (lambda d: _concern()(d) | {"payload": {**_concern()(d)["payload"], "visit_id": 2**63}}, "visit_id"),
    (lambda d: _register("a.jpg")(d) | {"payload": {**_register("a.jpg")(d)["payload"], "size_bytes": 2**63}}, "size_bytes"),
])
def test_ids_and_sizes_out_of_the_database_range_are_invalid_not_refused(device, build, field):
    results = device.push(build(device))
    assert results[0]["code"] == "sync.invalid", results[0]
    assert field in results[0]["details"]["payload"]


@pytest.mark.parametrize("base", [2**31, 2**70])
def test_base_version_is_bounded(device, base):
    results = device.push(device.start(), answer(device.audit_id, "SG-1.1", {"rating": "met"}, base_version=base))
    assert results[1]["code"] == "sync.invalid" and "base_version" in results[1]["details"]


# ---- base_version ahead -------------------------------------------------------------------------

def test_a_base_version_the_server_never_gave_is_rejected_and_not_applied(device, db_session):
    device.push(device.start(), answer(device.audit_id, "SG-1.1", {"rating": "met"}))
    results = device.push(answer(device.audit_id, "SG-1.1", {"rating": "not_met"}, base_version=999999))
    assert results[0]["status"] == "rejected" and results[0]["code"] == "sync.base_version_ahead"
    assert results[0]["message"]
    row = _answers(db_session, device.audit_id)["SG-1.1"]
    assert row.rating == "met" and row.version == 1
    # the version it was given is fine
    assert device.push(answer(device.audit_id, "SG-1.1", {"rating": "not_met"}, base_version=1))[0]["status"] == "applied"


def test_a_base_version_on_a_record_the_server_does_not_have_is_rejected(device, db_session):
    device.push(device.start())
    results = device.push(answer(device.audit_id, "SG-1.2", {"rating": "met"}, base_version=3),
                          mutation("conversation.set", uuid7(), {"audit_id": device.audit_id, "kind": "staff",
                                                                 "fields": {"notes": "ok"}}, base_version=1))
    assert [r["code"] for r in results] == ["sync.base_version_ahead"] * 2
    assert "SG-1.2" not in _answers(db_session, device.audit_id)


# ---- typed values --------------------------------------------------------------------------------

@pytest.mark.parametrize("key, value", [
    ("HDR-4.2", "abc"), ("HDR-4.2", True), ("HDR-4.2", -1), ("HDR-4.2", 10**9), ("HDR-4.2", [3]),
    ("HDR-4.5", "bogus"), ("HDR-4.5", 1),
    ("HDR-4.1", 5), ("HDR-4.1", "yes"),
    ("HDR-5", {"bogus": 1}), ("HDR-5", {"on_roll": "5"}), ("HDR-5", {"on_roll": {"a": 1}}), ("HDR-5", [1, 2]),
    ("HDR-5", {"on_roll": -2}), ("HDR-5", "12"),
    ("HDR-1", 5), ("HDR-1", "x" * 5001), ("HDR-1", {"a": "b"}),
    ("HDR-6", {"not-a-uuid": "overdue"}), ("HDR-6", {str(uuid.uuid4()): "bogus"}), ("HDR-6", "closed"),
])
def test_typed_values_of_the_wrong_kind_are_rejected_on_sync(device, db_session, key, value):
    results = device.push(device.start(), answer(device.audit_id, key, {"value": value}))
    assert results[1]["status"] == "rejected" and results[1]["code"] == "sync.invalid", results[1]
    assert results[1]["details"]["value"]
    assert key not in _answers(db_session, device.audit_id)


@pytest.mark.parametrize("key, value", [
    ("HDR-4.2", 3), ("HDR-4.2", 12.5), ("HDR-4.2", None), ("HDR-4.5", "possibly_required"), ("HDR-4.1", False),
    ("HDR-5", {"on_roll": 12, "weekly_hours_max": 22.5}), ("HDR-1", "Visit on the 3rd"),
    ("HDR-6", {str(uuid.uuid4()): "overdue"}),
])
def test_typed_values_of_the_right_kind_are_applied(device, db_session, key, value):
    results = device.push(device.start(), answer(device.audit_id, key, {"value": value}))
    assert results[1]["status"] == "applied", results[1]


def test_the_capture_service_every_edge_calls_checks_typed_values_the_same_way(device, db_session):
    """The reviewer's and corrector's HTMX forms and /sync/push all write through capture.apply_changes."""
    device.push(device.start())
    auditor = world.user(db_session, "auditor")
    audit_id = uuid.UUID(device.audit_id)
    outcomes = capture.record_answers(db_session, auditor, [
        capture.Change("a", uuid7(), audit_id, "HDR-4.5", 0, {"value": "bogus"}),
        capture.Change("b", uuid7(), audit_id, "HDR-4.2", 0, {"value": float("inf")}),
        capture.Change("c", uuid7(), audit_id, "HDR-4.5", 0, {"value": "registered"})])
    assert [o.status for o in outcomes] == ["rejected", "rejected", "applied"]
    assert "value" in outcomes[0].details and "value" in outcomes[1].details
    sync_result = device.push(answer(device.audit_id, "HDR-4.5", {"value": "bogus"}))[0]
    assert sync_result["details"] == outcomes[0].details


# ---- ids: ownership, range --------------------------------------------------------------------

def _second_audit(db_session, device) -> str:
    """A second safeguarding visit for the same auditor, started; returns its audit id."""
    auditor = world.user(db_session, "auditor")
    visit = db_session.get(Visit, device.visit_id)
    other = providers.schedule_visit(db_session, None, visit.provider, visit.site, world.TODAY + timedelta(days=40),
                                     ["safeguarding"], [auditor.id])
    db_session.flush()
    audit_id = str(audit_id_for(other.id, "safeguarding"))
    assert device.push(start(audit_id, other.id, "safeguarding", device.template_version_id))[0]["status"] == "applied"
    return audit_id


def test_an_answer_id_already_used_by_another_audit_or_item_is_taken(device, db_session):
    taken = uuid7()
    device.push(device.start(), answer(device.audit_id, "SG-1.1", {"rating": "met"}, entity_id=taken))
    other_audit = _second_audit(db_session, device)
    results = device.push(answer(other_audit, "SG-1.1", {"rating": "met"}, entity_id=taken),
                          answer(device.audit_id, "SG-1.2", {"rating": "met"}, entity_id=taken),
                          answer(other_audit, "SG-1.3", {"rating": "met"}))
    assert [r["code"] for r in results[:2]] == ["sync.entity_id_taken"] * 2, results
    assert all(r["message"] and not CLASS_NAME.search(r["message"]) for r in results[:2])
    assert results[2]["status"] == "applied"


def test_two_new_records_with_one_id_in_a_batch_keep_the_first(device, db_session):
    shared = uuid7()
    results = device.push(device.start(), answer(device.audit_id, "SG-1.1", {"rating": "met"}, entity_id=shared),
                          answer(device.audit_id, "SG-1.2", {"rating": "met"}, entity_id=shared))
    assert results[1]["status"] == "applied" and results[2]["code"] == "sync.entity_id_taken"


def test_a_conversation_of_another_audit_cannot_be_written_through_its_id(device, db_session):
    conversation_id = uuid7()
    device.push(device.start(), mutation("conversation.set", conversation_id, {
        "audit_id": device.audit_id, "kind": "learner", "fields": {"notes": "Mine"}}))
    other_audit = _second_audit(db_session, device)
    result = device.push(mutation("conversation.set", conversation_id, {
        "audit_id": other_audit, "kind": "learner", "fields": {"notes": "Overwritten"}}, base_version=1))[0]
    assert result["code"] == "sync.entity_id_taken"
    assert db_session.get(Conversation, conversation_id).notes == "Mine"


# ---- the pull edge and the envelope ---------------------------------------------------------------

def test_a_bad_limit_is_reported_under_limit(device):
    status, body = device.client.transport.request("GET", "/sync/pull?cursor=0&limit=abc")
    assert status == 422 and "limit" in body["details"] and "cursor" not in body["details"]
    status, body = device.client.transport.request("GET", "/sync/pull?cursor=x&limit=5")
    assert status == 422 and "cursor" in body["details"] and "limit" not in body["details"]
    status, body = device.client.transport.request("GET", "/sync/pull?cursor=0&limit=0")
    assert status == 422 and "limit" in body["details"]


def test_a_null_mutation_is_rejected_alone(device, db_session):
    status, body = device.client.push([None, device.start(), 7])
    assert status == 200, body
    assert [r["status"] for r in body["results"]] == ["rejected", "applied", "rejected"]
    assert body["results"][0]["code"] == "sync.invalid"


# ---- conversation notes: never a name ----------------------------------------------------------

@pytest.mark.parametrize("field", ["notes", "subject", "setting", "response:LC-3"])
def test_a_upn_in_a_conversation_is_refused_on_sync(device, db_session, field):
    results = device.push(device.start(), _conversation({field: "Spoke with A123456789012 about lunch"})(device))
    assert results[1]["code"] == "sync.invalid"
    assert "UPN" in results[1]["details"][field][0]


def test_a_upn_in_a_conversation_is_refused_by_the_capture_service(device, db_session):
    device.push(device.start())
    auditor = world.user(db_session, "auditor")
    outcome = capture.record_conversations(db_session, auditor, [capture.Change(
        "a", uuid7(), uuid.UUID(device.audit_id), "staff", 0, {"notes": "Pupil b12345678901z was absent"})])[0]
    assert outcome.code == "sync.invalid" and "UPN" in outcome.details["notes"][0]
    fine = capture.record_conversations(db_session, auditor, [capture.Change(
        "b", uuid7(), uuid.UUID(device.audit_id), "staff", 0, {"notes": "Call 01234 567890; room B12"})])[0]
    assert fine.status == "applied"


# ---- two identical large pushes at once (the COPY path) ------------------------------------------

@pytest.fixture(scope="module")
def committed_app():
    app = make_test_app(world_database("auditapp_sync_inputs"))
    yield app
    db.binding(app).engine.dispose()


def test_two_identical_large_pushes_at_once_answer_duplicate_not_500(committed_app):
    device = signed_in_device(committed_app)
    with db.binding(committed_app).sessionmaker() as session:
        from auditapp.services.access import items_of
        from auditapp.services.templates import latest_version
        keys = [k for k, item in items_of(latest_version(session, "safeguarding").content).items()
                if item.get("answer", "rating") == "rating"]
    twin = Device(SyncClient(device.client.transport, device_id=device.client.device_id), device.audit_id,
                  device.visit_id, device.template_version_id)
    # The device and the audit exist already, so nothing but the batch itself makes the pushes wait for each other.
    assert device.push(device.start())[0]["status"] == "applied"
    batch = [answer(device.audit_id, keys[i % len(keys)], {"note": f"n{i}"}) for i in range(260)]
    results, barrier = {}, threading.Barrier(2)

    def send(name, dev):
        dev.client.config()
        barrier.wait()
        results[name] = dev.client.push(batch)

    threads = [threading.Thread(target=send, args=(n, d)) for n, d in (("a", device), ("b", twin))]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert [results["a"][0], results["b"][0]] == [200, 200], (results["a"][1], results["b"][1])
    statuses = sorted(r["status"] for name in "ab" for r in results[name][1]["results"])
    assert statuses.count("applied") == 260 and statuses.count("duplicate") == 260
    with db.binding(committed_app).sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedMutation)
                              .where(ProcessedMutation.device_id == device.client.device_id)) == 261


# ---- the HTMX path: a lead reviewer's correction writes through the same capture service -------

def test_a_nul_in_a_correction_note_is_a_422_with_a_message_not_a_500(client, auth, db_session):
    from auditapp.services import review
    from .review_helpers import LEAD, by_email, second_lead, sign_in, submitted_audit, version_in
    submitted = submitted_audit(db_session, ratings={"SG-1.2": "not_met"})
    review.finalise_audit(db_session, by_email(db_session, LEAD), submitted.id, submitted.version)
    db_session.flush()
    sign_in(auth, second_lead(db_session).email)
    html = client.get(f"/review/audits/{submitted.id}").get_data(as_text=True)
    client.post(f"/review/audits/{submitted.id}/corrections",
                data={"csrf_token": auth.csrf("/"), "version": version_in(html), "reason": "SG-3.3 was misread"})
    correction_id = audit_id_for(submitted.visit_id, "safeguarding", 2)
    response = client.post(f"/review/corrections/{correction_id}/items", data={
        "csrf_token": auth.csrf("/"), "item_key": "SG-3.3", "rating": "not_met", "note": NUL, "na_reason": ""},
        headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "NUL" in response.get_data(as_text=True)
    assert db_session.scalar(select(Answer.rating).where(Answer.audit_id == correction_id,
                                                         Answer.item_key == "SG-3.3")) == "met"


# ---- the admin's import of an exported outbox parses the same bounded way ----------------------

@pytest.mark.parametrize("content", [b'{"format": "auditapp-outbox", "mutations": ' + b"[" * 5000 + b"]" * 5000 + b"}",
                                     b'{"format": "auditapp-outbox", "device_id": "\xff"}'])
def test_a_deeply_nested_or_broken_import_file_is_a_422_not_a_500(client, auth, content):
    import io
    auth.login("admin")
    response = client.post("/admin/sync-import", data={"export": (io.BytesIO(content), "x.json"),
                                                       "csrf_token": auth.csrf("/admin/sync-import")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "govuk-error-summary" in response.get_data(as_text=True)


def test_a_deeply_nested_json_sign_in_is_a_422_not_a_500(client):
    response = client.post("/sync/session", data="[" * 100000 + "]" * 100000, content_type="application/json")
    assert response.status_code == 422 and response.get_json()["code"] == "request.too_deep"
