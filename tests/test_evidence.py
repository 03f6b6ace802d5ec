"""Evidence on the local store, over HTTP: register and withdraw through /sync/push, the upload
target, the app's own upload route, confirm (size, SHA-256, magic bytes, expiry), and refusals.

The S3 side of the same flow is tests/test_evidence_s3.py; viewing, counts and purge are in
tests/test_evidence_review.py.
"""
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from auditapp.models import Audit, ChangeLogEntry, Evidence, User, VisitAssignment
from auditapp.storage import get_blob_store
from sync.client import uuid7

from . import world
from .evidence_helpers import (EXE, FILES, JPEG, PDF, PNG, Device, log_actions, register_mutation, sha256,
                               withdraw_mutation)
from .sync_helpers import device_for

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def store(app):
    return get_blob_store(app)


@pytest.fixture
def device(client, auth, db_session):
    auth.login("auditor")
    sync_device = device_for(client, db_session)
    assert sync_device.push(sync_device.start())[0]["status"] == "applied"
    return Device(client, sync_device)


def _row(db_session, evidence_id) -> Evidence:
    db_session.expire_all()
    return db_session.get(Evidence, uuid.UUID(str(evidence_id)))


# ---- register and withdraw through the push ---------------------------------------------------

def test_register_is_applied_logged_and_pulled_with_an_opaque_key(device, db_session):
    evidence_id = device.register(JPEG, filename="Fire exit 1.jpg")
    row = _row(db_session, evidence_id)
    assert (row.status, row.version, row.size_bytes, row.sha256) == ("expected", 1, len(JPEG), sha256(JPEG))
    assert row.storage_key == f"evidence/{device.audit_id}/{evidence_id}"
    assert row.filename == "Fire exit 1.jpg"
    assert log_actions(db_session, evidence_id) == ["evidence.register"]
    pulled = [c for c in device.sync.client.pull_all() if c["entity"] == "evidence"]
    assert [(c["entity_id"], c["version"], c["data"]["status"]) for c in pulled] == [(evidence_id, 1, "expected")]


def test_registering_again_is_a_no_op_and_other_details_under_the_same_id_are_a_mismatch(device, db_session):
    first = register_mutation(device.audit_id, JPEG)
    assert device.push(first)[0]["status"] == "applied"
    assert device.push(first)[0]["status"] == "duplicate"  # the same mutation replayed
    again = register_mutation(device.audit_id, JPEG, evidence_id=first["entity_id"])  # a new mutation id
    assert device.push(again)[0] == {"mutation_id": again["mutation_id"], "status": "applied",
                                     "entity_id": first["entity_id"], "version": 1}
    other = register_mutation(device.audit_id, PNG, media_type="image/png", evidence_id=first["entity_id"])
    result = device.push(other)[0]
    assert (result["status"], result["code"]) == ("rejected", "evidence.mismatch")
    rows = db_session.scalars(select(Evidence).where(Evidence.audit_id == uuid.UUID(device.audit_id))).all()
    assert [(r.media_type, r.sha256) for r in rows] == [("image/jpeg", sha256(JPEG))]
    assert log_actions(db_session, first["entity_id"]) == ["evidence.register"]


@pytest.mark.parametrize("change, code", [
    ({"size": 20 * 1024 * 1024 + 1}, "evidence.too_large"),
    ({"media_type": "application/x-msdownload", "filename": "setup.exe"}, "evidence.type_not_allowed"),
    ({"media_type": "image/gif"}, "evidence.type_not_allowed"),
    ({"item_key": "SG-99.9"}, "sync.invalid"),
    ({"item_key": "learner"}, "sync.invalid"),  # a conversation is not an item: no photos of learners
    ({"size": 0}, "sync.invalid"),
    ({"digest": "not-a-sha256"}, "sync.invalid"),
])
def test_bad_registrations_are_rejected_with_a_code_and_store_nothing(device, db_session, change, code):
    result = device.push(register_mutation(device.audit_id, JPEG, **change))[0]
    assert (result["status"], result["code"]) == ("rejected", code)
    assert db_session.scalars(select(Evidence).where(Evidence.audit_id == uuid.UUID(device.audit_id))).all() == []


def test_registration_before_its_audit_is_held_then_applied_when_the_audit_arrives(client, auth, db_session):
    auth.login("auditor")
    tablet = device_for(client, db_session)
    registration = register_mutation(tablet.audit_id, PDF, media_type="application/pdf", item_key="SG-1.2")
    assert tablet.push(registration)[0]["status"] == "held"
    assert tablet.push(tablet.start())[0]["status"] == "applied"
    assert _row(db_session, registration["entity_id"]).status == "expected"


def test_answers_and_registrations_in_one_push_both_apply(device, db_session):
    from sync.client import answer
    results = device.push(answer(device.audit_id, "SG-1.1", {"rating": "met"}), register_mutation(device.audit_id, JPEG))
    assert [r["status"] for r in results] == ["applied", "applied"]


def test_withdraw_needs_a_reason_is_logged_pulled_and_ends_uploads(device, db_session):
    evidence_id = device.register(JPEG)
    blank = device.push(withdraw_mutation(device.audit_id, evidence_id, "   "))[0]
    assert (blank["status"], blank["code"], blank["details"]) == ("rejected", "sync.invalid",
                                                                  {"reason": ["Say why the file is withdrawn"]})
    empty = device.push(withdraw_mutation(device.audit_id, evidence_id, ""))[0]
    assert (empty["status"], empty["code"]) == ("rejected", "sync.invalid")  # refused by the mutation check
    result = device.push(withdraw_mutation(device.audit_id, evidence_id, "Photo of the wrong door"))[0]
    assert (result["status"], result["version"]) == ("applied", 2)
    row = _row(db_session, evidence_id)
    assert (row.status, row.withdrawal_reason) == ("withdrawn", "Photo of the wrong door")
    assert row.withdrawn_by_id == world.user(db_session, "auditor").id and row.withdrawn_at is not None
    assert device.push(withdraw_mutation(device.audit_id, evidence_id, "Again"))[0]["version"] == 2  # a no-op
    assert log_actions(db_session, evidence_id) == ["evidence.register", "evidence.withdraw"]
    pulled = [c for c in device.sync.client.pull_all() if c["entity"] == "evidence"]
    assert [c["version"] for c in pulled] == [1, 2] and pulled[-1]["data"]["status"] == "withdrawn"
    assert pulled[-1]["data"]["withdrawal_reason"] == "Photo of the wrong door"
    assert device.target(evidence_id).get_json()["code"] == "evidence.withdrawn"
    response = device.confirm(evidence_id)
    assert (response.status_code, response.get_json()["code"]) == (409, "evidence.withdrawn")


def test_withdrawing_unknown_evidence_is_rejected(device):
    result = device.push(withdraw_mutation(device.audit_id, uuid7(), "Never taken"))[0]
    assert (result["status"], result["code"]) == ("rejected", "evidence.not_found")


# ---- upload and confirm -----------------------------------------------------------------------

@pytest.mark.parametrize("media_type", sorted(FILES))
def test_register_target_upload_confirm_verifies_the_exact_bytes(device, db_session, store, media_type):
    # Given a registered file
    data = FILES[media_type]
    evidence_id = device.register(data, media_type=media_type, filename="evidence-file")
    # When the device asks for a target, uploads with exactly its headers and confirms
    target = device.target(evidence_id).get_json()
    assert target["method"] == "PUT" and target["url"].startswith(f"/evidence/{evidence_id}/content?token=")
    assert target["headers"]["Content-Type"] == media_type
    expires = datetime.fromisoformat(target["expires_at"])
    assert timedelta(seconds=250) < expires - datetime.now(timezone.utc) <= timedelta(seconds=300)
    put = device.put(target, data)
    assert put.status_code == 200 and put.get_json() == {"received_bytes": len(data)}
    confirmed = device.confirm(evidence_id)
    # Then the server verified it, and what the store holds is exactly what was registered
    assert (confirmed.status_code, confirmed.get_json()) == (200, {"status": "verified"})
    row = _row(db_session, evidence_id)
    assert (row.status, row.version, row.last_error) == ("verified", 2, None)
    assert row.verified_at is not None and row.uploaded_at is not None
    assert store.sha256_hex(row.final_key) == sha256(data) and store.head(row.storage_key) is None
    assert log_actions(db_session, evidence_id) == ["evidence.register", "evidence.verify"]
    # And confirming again answers the same; a new target is refused as already verified
    assert device.confirm(evidence_id).get_json() == {"status": "verified"}
    again = device.target(evidence_id)
    assert (again.status_code, again.get_json()["code"]) == (409, "evidence.already_verified")
    pulled = [c for c in device.sync.client.pull_all() if c["entity"] == "evidence"]
    assert pulled[-1]["data"]["status"] == "verified" and pulled[-1]["version"] == 2


def test_an_exe_renamed_jpg_is_rejected_for_good_and_not_kept(device, db_session, store):
    evidence_id = device.register(EXE, media_type="image/jpeg", filename="photo.jpg")
    confirmed = device.upload(evidence_id, EXE)
    body = confirmed.get_json()
    assert confirmed.status_code == 200
    assert (body["status"], body["code"]) == ("rejected", "evidence.wrong_type")
    assert "not a JPEG photo" in body["message"]
    row = _row(db_session, evidence_id)
    assert (row.status, row.rejection_code) == ("rejected", "evidence.wrong_type")
    assert store.head(row.storage_key) is None
    assert log_actions(db_session, evidence_id) == ["evidence.register", "evidence.reject"]
    assert device.confirm(evidence_id).get_json()["status"] == "rejected"
    assert device.target(evidence_id).get_json()["code"] == "evidence.rejected"


def test_bytes_changed_in_transit_are_refused_deleted_and_the_file_can_be_sent_again(device, db_session, store):
    # Given a registered photo, and bytes of the same size that differ on the way
    evidence_id = device.register(JPEG)
    changed = JPEG[:100] + bytes([JPEG[100] ^ 0xFF]) + JPEG[101:]
    # When they are uploaded and confirmed
    response = device.upload(evidence_id, changed)
    # Then confirm refuses them, deletes them and leaves the file expected
    assert (response.status_code, response.get_json()["code"]) == (409, "evidence.checksum_mismatch")
    row = _row(db_session, evidence_id)
    assert (row.status, row.last_error) == ("expected", "evidence.checksum_mismatch")
    assert store.head(row.storage_key) is None
    # And the device sends the right bytes under a new target: nothing valid was lost
    assert device.upload(evidence_id, JPEG).get_json() == {"status": "verified"}
    assert log_actions(db_session, evidence_id) == ["evidence.register", "evidence.upload_refused", "evidence.verify"]


def test_fewer_bytes_than_registered_are_a_size_mismatch(device, db_session, store):
    evidence_id = device.register(JPEG)
    response = device.upload(evidence_id, JPEG[:-10])
    assert (response.status_code, response.get_json()["code"]) == (409, "evidence.size_mismatch")
    assert store.head(_row(db_session, evidence_id).storage_key) is None


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_more_bytes_than_registered_are_refused_while_streaming_and_nothing_is_stored(device, db_session, store, chunked):
    from io import BytesIO
    evidence_id = device.register(JPEG)
    target = device.target(evidence_id).get_json()
    body = JPEG + b"\x00" * 4096
    if chunked:  # no Content-Length: only the cap while streaming stops it
        response = device.client.put(target["url"], input_stream=BytesIO(body), headers={**target["headers"], **device.csrf},
                                     environ_overrides={"wsgi.input_terminated": True})
    else:
        response = device.put(target, body)
    assert (response.status_code, response.get_json()["code"]) == (413, "evidence.too_large")
    assert store.head(_row(db_session, evidence_id).storage_key) is None
    confirmed = device.confirm(evidence_id)
    assert (confirmed.status_code, confirmed.get_json()["code"]) == (409, "evidence.not_uploaded")


def test_confirm_without_an_upload_says_not_uploaded_and_changes_nothing(device, db_session):
    evidence_id = device.register(JPEG)
    device.target(evidence_id)
    response = device.confirm(evidence_id)
    assert (response.status_code, response.get_json()["code"], response.get_json()["status"]) == \
        (409, "evidence.not_uploaded", "expected")
    assert (_row(db_session, evidence_id).status, _row(db_session, evidence_id).version) == ("expected", 1)


def test_an_upload_to_an_expired_target_is_refused_and_stores_nothing(app, device, db_session, store, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_UPLOAD_TTL_SECONDS", 1)
    evidence_id = device.register(JPEG)
    target = device.target(evidence_id).get_json()
    time.sleep(1.2)
    response = device.put(target, JPEG)
    assert (response.status_code, response.get_json()["code"]) == (409, "evidence.target_expired")
    assert store.head(_row(db_session, evidence_id).storage_key) is None


def test_an_upload_made_in_time_is_verified_even_when_confirmed_after_the_target_expired(app, device, db_session,
                                                                                        monkeypatch):
    # A tablet can lose signal between the PUT and the confirm: the upload time decides, not the confirm time.
    monkeypatch.setitem(app.config, "EVIDENCE_UPLOAD_TTL_SECONDS", 1)
    evidence_id = device.register(JPEG)
    assert device.put(device.target(evidence_id).get_json(), JPEG).status_code == 200
    time.sleep(1.2)
    assert device.confirm(evidence_id).get_json() == {"status": "verified"}


def test_an_object_written_after_its_target_expired_is_refused_at_confirm(device, db_session, store):
    # Given bytes that reached the store after the newest target's expiry (a store that, like moto,
    # does not enforce a presigned URL's expiry), then when the device confirms, the upload is refused
    evidence_id = device.register(JPEG)
    assert device.put(device.target(evidence_id).get_json(), JPEG).status_code == 200
    db_session.execute(update(Evidence).where(Evidence.id == uuid.UUID(evidence_id))
                       .values(upload_expires_at=datetime.now(timezone.utc) - timedelta(minutes=10)))
    db_session.flush()
    response = device.confirm(evidence_id)
    assert (response.status_code, response.get_json()["code"]) == (409, "evidence.target_expired")
    assert store.head(_row(db_session, evidence_id).storage_key) is None


def test_an_upload_link_only_works_for_its_own_file(device):
    first, second = device.register(JPEG), device.register(PNG, media_type="image/png")
    target = device.target(first).get_json()
    stolen = {**target, "url": target["url"].replace(f"/evidence/{first}/", f"/evidence/{second}/")}
    tampered = {**target, "url": target["url"][:-3] + ("aaa" if not target["url"].endswith("aaa") else "bbb")}
    for bad in (stolen, tampered, {**target, "url": urlsplit(target["url"]).path}):
        response = device.put(bad, JPEG)
        assert (response.status_code, response.get_json()["code"]) == (403, "evidence.bad_token")


def test_unknown_evidence_is_not_found_so_the_device_pushes_first(device):
    response = device.target(uuid7())
    assert (response.status_code, response.get_json()["code"]) == (404, "evidence.not_found")


@pytest.mark.parametrize("raw, shown, downloaded", [
    ("../../etc/passwd\r\n evil.jpg", "passwd evil.jpg", "passwdevil.jpg"),  # NUL: refused at push (test_sync_inputs)
    ("..\\..\\Windows\\System32\\cmd.jpg", "cmd.jpg", "cmd.jpg"),
    ("\x1b[31mred\x07.jpg", "[31mred.jpg", "31mred.jpg"),
    ("/", "evidence", "evidence"),
])
def test_a_filename_with_path_separators_or_control_characters_is_only_ever_a_display_name(
        app, client, device, db_session, store, raw, shown, downloaded):
    # Given a registration whose filename tries to name a path
    evidence_id = device.register(JPEG, filename=raw)
    # Then the key is the opaque evidence/<audit>/<evidence> and the name is cleaned for display
    row = _row(db_session, evidence_id)
    assert row.storage_key == f"evidence/{device.audit_id}/{evidence_id}" and row.filename == shown
    # And after upload and confirm, the store holds the bytes under the final evidence/final/<audit>/<evidence> key
    # (the upload key is spent) and nothing named by the user
    assert device.upload(evidence_id, JPEG).get_json() == {"status": "verified"}
    folder = store.root / "evidence" / "final" / device.audit_id
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(evidence_id)) == \
        [evidence_id, f"{evidence_id}.content-type"]
    assert _row(db_session, evidence_id).final_key == f"evidence/final/{device.audit_id}/{evidence_id}"
    stored = [p.relative_to(store.root).as_posix() for p in store.root.rglob("*") if p.is_file()]
    assert all(re.fullmatch(rf"evidence/(final/)?{UUID}/{UUID}(\.content-type)?", name) for name in stored), stored
    # And the download's Content-Disposition carries only a safe name
    response = client.get(f"/evidence/{evidence_id}")
    assert response.headers["Content-Disposition"] == f"attachment; filename={downloaded}"
    response.close()


# ---- who may upload ---------------------------------------------------------------------------

def _sign_in_lead_auditor(client, auth):
    """An auditor of the same contractor who is not assigned to the auditor's visit."""
    auth.logout()
    client.post("/sign-in", data={"email": "lead.auditor@assure.example.org", "password": world.PASSWORD,
                                  "csrf_token": auth.csrf()})


def test_evidence_for_an_audit_the_user_may_not_touch_is_refused_everywhere(client, auth, device, db_session):
    evidence_id = device.register(JPEG)
    _sign_in_lead_auditor(client, auth)
    intruder = Device(client, device_for(client, db_session))
    intruder.audit_id = device.audit_id
    result = intruder.push(register_mutation(device.audit_id, PNG, media_type="image/png"))[0]
    assert (result["status"], result["code"]) == ("rejected", "sync.forbidden")
    assert intruder.push(withdraw_mutation(device.audit_id, evidence_id, "Not mine"))[0]["code"] == "sync.forbidden"
    for response in (intruder.target(evidence_id), intruder.confirm(evidence_id), client.get(f"/evidence/{evidence_id}"),
                     client.get(f"/audits/{device.audit_id}/evidence")):
        assert response.status_code == 404  # as if it did not exist
    assert _row(db_session, evidence_id).status == "expected"
    assert log_actions(db_session, evidence_id) == ["evidence.register"]


def test_a_qoe_teacher_cannot_add_evidence_to_a_safeguarding_audit(client, auth, device, db_session):
    auth.logout()
    auth.login("qoe_teacher")
    teacher = Device(client, device_for(client, db_session))
    result = teacher.push(register_mutation(device.audit_id, JPEG))[0]
    assert (result["status"], result["code"]) == ("rejected", "sync.forbidden")


def test_an_assigned_user_whose_role_does_not_do_the_audit_type_may_not_upload_to_it(client, auth, device, db_session):
    # Given a QoE teacher assigned to the visit of the auditor's safeguarding audit (QoE teachers do
    # quality-of-education audits only), then neither a target nor a confirm is given
    evidence_id = device.register(JPEG)
    audit = db_session.get(Audit, uuid.UUID(device.audit_id))
    teacher_id = db_session.scalar(select(User.id).where(User.email == world.EMAIL["qoe_teacher"]))
    db_session.add(VisitAssignment(visit_id=audit.visit_id, user_id=teacher_id))
    db_session.flush()
    auth.logout()
    auth.login("qoe_teacher")
    teacher = Device(client, device_for(client, db_session))
    for response in (teacher.target(evidence_id), teacher.confirm(evidence_id)):
        assert (response.status_code, response.get_json()["code"]) == (404, "evidence.not_found")
    assert _row(db_session, evidence_id).upload_expires_at is None


def test_a_finalised_audit_takes_no_new_evidence_and_no_uploads(device, db_session):
    evidence_id = device.register(JPEG)
    db_session.execute(update(Audit).where(Audit.id == uuid.UUID(device.audit_id)).values(status="finalised"))
    db_session.flush()
    result = device.push(register_mutation(device.audit_id, PNG, media_type="image/png"))[0]
    assert (result["status"], result["code"]) == ("rejected", "audit.finalised")
    response = device.target(evidence_id)
    assert (response.status_code, response.get_json()["code"]) == (409, "audit.finalised")


def test_device_calls_without_a_session_get_401_json_not_a_sign_in_page(client, auth, db_session):
    token = auth.csrf()
    for method, path in (("POST", "upload-target"), ("POST", "confirm"), ("PUT", "content")):
        response = client.open(f"/evidence/{uuid7()}/{path}", method=method, headers={"X-CSRFToken": token})
        assert response.status_code == 401 and response.get_json()["code"] == "auth.required"


def test_sync_config_and_visit_pack_advertise_the_evidence_limits(device, client, db_session):
    config = device.sync.client.config()
    assert config["evidence_max_bytes"] == 20 * 1024 * 1024
    assert config["evidence_media_types"] == ["image/jpeg", "image/png", "application/pdf"]
    pack = client.get(f"/capture/packs/{device.sync.visit_id}").get_json()
    assert pack["limits"]["evidence_media_types"] == config["evidence_media_types"]
    assert pack["limits"]["evidence_max_bytes"] == config["evidence_max_bytes"]


def test_change_log_carries_each_evidence_version(device, db_session):
    evidence_id = device.register(JPEG)
    device.upload(evidence_id, JPEG)
    versions = db_session.scalars(select(ChangeLogEntry.version).where(ChangeLogEntry.entity == "evidence",
                                                                      ChangeLogEntry.entity_id == evidence_id)
                                  .order_by(ChangeLogEntry.id)).all()
    assert versions == [1, 2]


def test_local_mode_pages_let_scripts_connect_only_to_the_app(client, db_session):
    response = client.get("/sign-in")
    assert "connect-src 'self';" in response.headers["Content-Security-Policy"]
