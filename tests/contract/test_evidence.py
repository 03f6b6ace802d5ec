"""Evidence over HTTP as sync/PROTOCOL.md "Evidence" tells it: register through a push, ask for an upload
target, PUT the bytes exactly as told, confirm; and the abuse cases: the wrong type by magic bytes, a
checksum or size that does not match, an expired target, confirm with nothing uploaded, and an overwrite
through the old upload URL after verification (the reviewer still gets the verified bytes)."""
from __future__ import annotations

import hashlib
import time
from datetime import datetime

import pytest

from .contract_http import Answer, Device, mutation, uuid7
from .test_sync import rating_items, started_audit

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
PDF = b"%PDF-1.4\n" + b"%" * (len(PNG) - 9)


@pytest.fixture(scope="module")
def device(contract) -> Device:
    return contract.device()


@pytest.fixture(scope="module")
def audit(contract, device) -> dict:
    return started_audit(contract, device)


def register(device: Device, audit: dict, body: bytes, media_type: str = "image/png", size: int | None = None,
             sha256: str | None = None) -> str:
    evidence_id = uuid7()
    result = device.push_one(mutation("evidence.register", evidence_id, {
        "audit_id": audit["audit_id"], "item_key": rating_items(audit)[0], "media_type": media_type,
        "size_bytes": size or len(body), "sha256": sha256 or hashlib.sha256(body).hexdigest(),
        "filename": "photo.png"}))
    assert result["status"] == "applied", result
    return evidence_id


def target(device: Device, evidence_id: str) -> dict:
    answer = device.http.call("POST", f"/evidence/{evidence_id}/upload-target")
    assert answer.status == 200, (answer.status, answer.body[:300])
    return answer.json


def put(device: Device, upload: dict, body: bytes) -> Answer:
    """PUT exactly as the target says (an absolute presigned URL, or the app's own path)."""
    assert upload["method"] == "PUT"
    return device.http.call("PUT", upload["url"], data=body, headers=upload["headers"])


def confirm(device: Device, evidence_id: str) -> Answer:
    return device.http.call("POST", f"/evidence/{evidence_id}/confirm")


def viewed_bytes(device: Device, evidence_id: str) -> bytes:
    """What a reviewer gets from GET /evidence/<id>: the file, or a 302 to it."""
    answer = device.http.call("GET", f"/evidence/{evidence_id}")
    if answer.status in (302, 303):
        answer = device.http.call("GET", answer.headers["location"])
    assert answer.status == 200, (answer.status, answer.body[:200])
    assert answer.headers.get("content-disposition", "").startswith("attachment")
    return answer.body


def test_a_file_uploaded_as_told_is_verified_and_served(device, audit):
    evidence_id = register(device, audit, PNG)
    assert put(device, target(device, evidence_id), PNG).status in (200, 201, 204)
    answer = confirm(device, evidence_id)
    assert answer.status == 200 and answer.json["status"] == "verified"
    assert confirm(device, evidence_id).json["status"] == "verified"  # settled: answered again
    assert viewed_bytes(device, evidence_id) == PNG
    again = device.http.call("POST", f"/evidence/{evidence_id}/upload-target")
    assert again.status == 409 and again.error_code() == "evidence.already_verified"


def test_the_wrong_type_by_magic_bytes_is_rejected_for_good(device, audit):
    evidence_id = register(device, audit, PDF, media_type="image/png")  # claims PNG, holds a PDF
    assert put(device, target(device, evidence_id), PDF).status in (200, 201, 204)
    answer = confirm(device, evidence_id)
    assert answer.status == 200 and answer.json["status"] == "rejected" and answer.json["code"] == "evidence.wrong_type"
    again = device.http.call("POST", f"/evidence/{evidence_id}/upload-target")
    assert again.status == 409 and again.error_code() == "evidence.rejected"


def test_bytes_with_another_checksum_are_refused_and_may_be_sent_again(device, audit):
    other = PNG[:-1] + b"\x01"  # same size, another SHA-256
    evidence_id = register(device, audit, PNG)
    stored = put(device, target(device, evidence_id), other)
    if stored.status < 300:  # a store that does not check the signed checksum took it: confirm must not
        answer = confirm(device, evidence_id)
        assert answer.status == 409 and answer.error_code() == "evidence.checksum_mismatch"
        assert answer.json["status"] == "expected"
    assert put(device, target(device, evidence_id), PNG).status in (200, 201, 204)
    assert confirm(device, evidence_id).json["status"] == "verified"


def test_bytes_of_another_size_are_refused(device, audit):
    evidence_id = register(device, audit, PNG + b"\x00" * 10)  # registered 10 bytes longer than what is sent
    upload = target(device, evidence_id)
    headers = {k: v for k, v in upload["headers"].items() if k.lower() != "content-length"}
    stored = device.http.call("PUT", upload["url"], data=PNG, headers=headers)
    if stored.status < 300:
        answer = confirm(device, evidence_id)
        assert answer.status == 409 and answer.error_code() in ("evidence.size_mismatch", "evidence.checksum_mismatch")
        assert answer.json["status"] == "expected"


def test_confirm_with_nothing_uploaded(device, audit):
    evidence_id = register(device, audit, PNG)
    answer = confirm(device, evidence_id)
    assert answer.status == 409 and answer.error_code() == "evidence.not_uploaded"
    missing = confirm(device, uuid7())
    assert missing.status == 404 and missing.error_code() == "evidence.not_found"


def test_an_upload_after_its_target_expired_is_not_verified(device, audit):
    evidence_id = register(device, audit, PNG)
    upload = target(device, evidence_id)
    expires = datetime.fromisoformat(upload["expires_at"].replace("Z", "+00:00"))
    wait = (expires - datetime.now(expires.tzinfo)).total_seconds() + 1.5
    if wait > 30:
        pytest.skip(f"upload targets here live {wait:.0f} s; a server with AUDITAPP_EVIDENCE_UPLOAD_TTL_SECONDS "
                    "under 30 lets this test wait for one to expire")
    time.sleep(max(wait, 0))
    stored = put(device, upload, PNG)
    if stored.status < 300:  # a store that ignores the URL's expiry took it: confirm judges by its write time
        answer = confirm(device, evidence_id)
        assert answer.status == 409 and answer.error_code() == "evidence.target_expired"
    elif stored.status == 409:  # the app's own upload URL (local store) refuses it itself
        assert stored.error_code() == "evidence.target_expired"
    else:  # AWS S3 refuses an expired presigned URL
        assert stored.status in (400, 403)


def test_an_overwrite_through_the_old_url_after_verification_changes_nothing(device, audit):
    evidence_id = register(device, audit, PNG)
    upload = target(device, evidence_id)
    assert put(device, upload, PNG).status in (200, 201, 204)
    assert confirm(device, evidence_id).json["status"] == "verified"
    forged = PDF  # same length, other bytes, another type
    put(device, upload, forged)  # the store may take it (moto does) or refuse it: either way...
    assert viewed_bytes(device, evidence_id) == PNG  # ...the reviewer gets the verified bytes
    answer = confirm(device, evidence_id)
    assert answer.status == 200 and answer.json["status"] == "verified"


def test_register_refusals(device, audit):
    config = device.http.call("GET", "/sync/config").json
    too_big = device.push_one(mutation("evidence.register", uuid7(), {
        "audit_id": audit["audit_id"], "item_key": rating_items(audit)[0], "media_type": "image/png",
        "size_bytes": config["evidence_max_bytes"] + 1, "sha256": "0" * 64}))
    assert too_big["status"] == "rejected" and too_big["code"] == "evidence.too_large"
    odd_type = device.push_one(mutation("evidence.register", uuid7(), {
        "audit_id": audit["audit_id"], "item_key": rating_items(audit)[0], "media_type": "image/gif",
        "size_bytes": 10, "sha256": "0" * 64}))
    assert odd_type["status"] == "rejected" and odd_type["code"] == "evidence.type_not_allowed"
    evidence_id = register(device, audit, PNG)
    changed = device.push_one(mutation("evidence.register", evidence_id, {
        "audit_id": audit["audit_id"], "item_key": rating_items(audit)[0], "media_type": "image/png",
        "size_bytes": len(PNG) + 1, "sha256": "0" * 64}))
    assert changed["status"] == "rejected" and changed["code"] == "evidence.mismatch"
    gone = device.push_one(mutation("evidence.withdraw", uuid7(), {"audit_id": audit["audit_id"], "reason": "blurred"}))
    assert gone["status"] == "rejected" and gone["code"] == "evidence.not_found"
    withdrawn = device.push_one(mutation("evidence.withdraw", evidence_id,
                                         {"audit_id": audit["audit_id"], "reason": "blurred"}))
    assert withdrawn["status"] == "applied"
    answer = device.http.call("POST", f"/evidence/{evidence_id}/upload-target")
    assert answer.status == 409 and answer.error_code() == "evidence.withdrawn"
    unregistered = device.http.call("POST", f"/evidence/{uuid7()}/upload-target")
    assert unregistered.status == 404 and unregistered.error_code() == "evidence.not_found"


def test_the_apps_upload_link_refuses_an_altered_token(device, audit):
    evidence_id = register(device, audit, PNG)
    upload = target(device, evidence_id)
    own_link = upload["url"].startswith(device.http.base_url) or upload["url"].startswith("/")
    path = f"/evidence/{evidence_id}/content?token=altered"
    answer = device.http.call("PUT", path, data=PNG, headers={"Content-Type": "image/png"})
    if own_link:  # local store: the app's own signed link
        assert answer.status == 403 and answer.error_code() == "evidence.bad_token"
    else:  # S3: bytes go straight to the store, never through the app
        assert answer.status == 404 and answer.error_code() == "evidence.local_only"


def test_viewing_a_file_not_yet_verified_or_an_unknown_audit(device, audit):
    evidence_id = register(device, audit, PNG)
    answer = device.http.call("GET", f"/evidence/{evidence_id}", headers={"Accept": "application/json"})
    assert answer.status == 409 and answer.error_code() == "evidence.not_received"
    listing = device.http.call("GET", f"/audits/{uuid7()}/evidence", headers={"Accept": "application/json"})
    assert listing.status == 404 and listing.error_code() == "audit.not_found"
