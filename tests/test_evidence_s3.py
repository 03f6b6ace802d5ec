"""Evidence in S3 mode against the real S3 HTTP endpoint (moto server): presigned PUTs straight to
the bucket, confirm doing its own checks, presigned downloads, CORS, and the store being down.

moto checks no signature, no signed checksum and no expiry (RECIPES.md §4): every PUT below that
real S3 would refuse, moto stores. These tests show that the app's confirm catches each one anyway.
The app on moto therefore hashes every object itself (S3_TRUST_CHECKSUMS is off off AWS); the
"trusted" tests at the end switch it on to run the AWS path, where confirm takes the SHA-256 the
store keeps and reads only the first bytes.
"""
import contextlib
import base64
import socket
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from auditapp.db import db as app_db
from auditapp.models import Answer, Audit, Evidence
from auditapp.services import evidence_files
from auditapp.storage import get_blob_store
from sync.client import answer

from .conftest import Auth, evidence_bucket, make_test_app, rolled_back_session, s3_config
from .evidence_helpers import (EXE, JPEG, PDF, Device, log_actions, put_to_store, register_mutation, sha256,
                               started_audit, verified)
from .sync_helpers import device_for

APP_ORIGIN = "http://127.0.0.1:5000"  # where the tablets' pages would come from


@pytest.fixture(scope="module")
def s3_app(database_url, s3_endpoint_url):
    app = make_test_app(database_url, **s3_config(s3_endpoint_url, evidence_bucket(s3_endpoint_url, [APP_ORIGIN])))
    yield app
    get_blob_store(app).client.close()
    app_db.binding(app).engine.dispose()


@pytest.fixture
def s3_session(s3_app):
    with rolled_back_session(s3_app) as session:
        yield session


@pytest.fixture
def bucket(s3_app, s3_session):
    return get_blob_store(s3_app)


@pytest.fixture
def device(s3_app, s3_session):
    client = s3_app.test_client()
    Auth(client).login("auditor")
    sync_device = device_for(client, s3_session)
    assert sync_device.push(sync_device.start())[0]["status"] == "applied"
    return Device(client, sync_device)


def _row(session, evidence_id) -> Evidence:
    session.expire_all()
    return session.get(Evidence, uuid.UUID(str(evidence_id)))


def _target(device, evidence_id) -> dict:
    response = device.target(evidence_id)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_bytes_go_straight_to_the_bucket_and_confirm_verifies_them(device, s3_session, bucket, s3_endpoint_url):
    # Given a registered photo
    evidence_id = device.register(JPEG, filename="Fire exit.jpg")
    # When the device asks for a target
    target = _target(device, evidence_id)
    # Then it is a 5-minute presigned PUT to the bucket that signs the type and the SHA-256
    url = urlsplit(target["url"])
    assert f"{url.scheme}://{url.netloc}" == s3_endpoint_url
    assert url.path == f"/{bucket.bucket}/evidence/{device.audit_id}/{evidence_id}"
    query = parse_qs(url.query)
    assert query["X-Amz-Expires"] == ["300"]
    assert query["X-Amz-SignedHeaders"] == [
        "content-length;content-type;host;x-amz-checksum-sha256;x-amz-sdk-checksum-algorithm"]
    assert target["headers"] == {"Content-Type": "image/jpeg", "x-amz-checksum-sha256": _b64(sha256(JPEG)),
                                 "x-amz-sdk-checksum-algorithm": "SHA256"}
    # When the device PUTs there with exactly those headers and confirms
    assert put_to_store(target, JPEG) == 200
    assert device.confirm(evidence_id).get_json() == {"status": "verified"}
    # Then the verified copy in the bucket, at the final key, has exactly the registered SHA-256; the upload key is spent
    row = _row(s3_session, evidence_id)
    assert row.final_key == f"evidence/final/{device.audit_id}/{evidence_id}"
    assert row.status == "verified" and bucket.sha256_hex(row.final_key) == sha256(JPEG)
    assert bucket.head(row.storage_key) is None
    assert row.uploaded_at is not None


def test_viewing_redirects_to_a_short_lived_presigned_get_with_a_safe_filename(s3_app, s3_session, bucket):
    audit_id = started_audit(s3_session)
    row = verified(s3_session, bucket, audit_id, PDF, "application/pdf", filename='Policy "v2"; x.pdf')
    client = s3_app.test_client()
    Auth(client).login("maintainer")
    response = client.get(f"/evidence/{row.id}")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert parse_qs(urlsplit(location).query)["X-Amz-Expires"] == ["60"]
    with urllib.request.urlopen(location, timeout=10) as download:
        assert download.read() == PDF
        assert download.headers["Content-Disposition"] == 'attachment; filename="Policyv2x.pdf"'
        assert download.headers["Content-Type"] == "application/pdf"
    assert log_actions(s3_session, row.id)[-1] == "evidence.viewed"


def test_other_bytes_under_the_signed_checksum_are_caught_deleted_and_can_be_sent_again(device, s3_session, bucket):
    # Given a target signed for one photo, and the same number of other bytes PUT under it
    evidence_id = device.register(JPEG)
    target = _target(device, evidence_id)
    changed = bytes(b ^ 0x01 for b in JPEG[:64]) + JPEG[64:]
    assert put_to_store(target, changed) == 200  # moto stores them; real S3 would refuse
    # When the device confirms, then the app's own hash refuses them and the object is deleted
    response = device.confirm(evidence_id)
    assert (response.status_code, response.get_json()["code"]) == (409, "evidence.checksum_mismatch")
    row = _row(s3_session, evidence_id)
    assert row.status == "expected" and bucket.head(row.storage_key) is None
    # And the right bytes under a new target are verified
    assert device.upload(evidence_id, JPEG).get_json() == {"status": "verified"}


def test_an_exe_renamed_jpg_is_rejected_by_its_bytes_and_removed_from_the_bucket(device, s3_session, bucket):
    evidence_id = device.register(EXE, media_type="image/jpeg", filename="photo.jpg")
    body = device.upload(evidence_id, EXE).get_json()
    assert (body["status"], body["code"]) == ("rejected", "evidence.wrong_type")
    assert bucket.head(_row(s3_session, evidence_id).storage_key) is None


def test_more_bytes_than_registered_are_a_size_mismatch_and_removed(device, s3_session, bucket):
    evidence_id = device.register(JPEG)
    assert put_to_store(_target(device, evidence_id), JPEG + b"extra") == 200  # moto does not check
    response = device.confirm(evidence_id)
    assert (response.status_code, response.get_json()["code"]) == (409, "evidence.size_mismatch")
    assert bucket.head(_row(s3_session, evidence_id).storage_key) is None


def test_an_upload_after_the_presigned_put_expired_is_refused_at_confirm(s3_app, device, s3_session, bucket,
                                                                          monkeypatch):
    # Given a target that lives one second, used two seconds later (moto still stores the PUT)
    monkeypatch.setitem(s3_app.config, "EVIDENCE_UPLOAD_TTL_SECONDS", 1)
    evidence_id = device.register(JPEG)
    target = _target(device, evidence_id)
    assert parse_qs(urlsplit(target["url"]).query)["X-Amz-Expires"] == ["1"]
    time.sleep(2.1)
    assert put_to_store(target, JPEG) == 200
    # When the device confirms, then the object's write time is after the expiry: refused and deleted
    response = device.confirm(evidence_id)
    assert (response.status_code, response.get_json()["code"]) == (409, "evidence.target_expired")
    row = _row(s3_session, evidence_id)
    assert row.status == "expected" and bucket.head(row.storage_key) is None


def test_confirm_without_an_upload_says_not_uploaded(device):
    evidence_id = device.register(JPEG)
    _target(device, evidence_id)
    response = device.confirm(evidence_id)
    assert (response.status_code, response.get_json()["code"]) == (409, "evidence.not_uploaded")


def test_the_apps_own_upload_route_is_closed_in_s3_mode(device):
    evidence_id = device.register(JPEG)
    response = device.client.put(f"/evidence/{evidence_id}/content?token=x", data=JPEG,
                                 headers={"Content-Type": "image/jpeg", **device.csrf})
    assert (response.status_code, response.get_json()["code"]) == (404, "evidence.local_only")


def test_pages_let_scripts_connect_to_the_s3_endpoint(s3_app, s3_endpoint_url, s3_session):
    response = s3_app.test_client().get("/sign-in")
    assert f"connect-src 'self' {s3_endpoint_url};" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("origin, allowed", [(APP_ORIGIN, True), ("https://elsewhere.example", False)])
def test_the_bucket_lets_only_the_apps_origin_upload_from_a_browser(device, origin, allowed):
    target = _target(device, device.register(JPEG))
    preflight = urllib.request.Request(target["url"], method="OPTIONS", headers={
        "Origin": origin, "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type,x-amz-checksum-sha256,x-amz-sdk-checksum-algorithm"})
    try:
        with urllib.request.urlopen(preflight, timeout=10) as response:
            status, allow_origin = response.status, response.headers["Access-Control-Allow-Origin"]
    except urllib.error.HTTPError as exc:
        with exc:
            status, allow_origin = exc.code, exc.headers["Access-Control-Allow-Origin"]
    assert (status == 200 and allow_origin == origin) is allowed


def test_purge_deletes_the_object_from_the_bucket(s3_session, bucket):
    audit_id = started_audit(s3_session)
    row = verified(s3_session, bucket, audit_id)
    now = datetime.now(timezone.utc)
    s3_session.execute(update(Audit).where(Audit.id == audit_id).values(status="finalised",
                                                                        finalised_at=now - timedelta(days=2500)))
    report = evidence_files.purge_evidence(s3_session, None, bucket, evidence_files.retention_cutoff("6y", now))
    assert report.purged == 1 and bucket.head(row.storage_key) is None


# ---- a store trusted for checksums (the AWS path) ---------------------------------------------

@pytest.fixture(scope="module")
def trusted_app(database_url, s3_endpoint_url):
    # moto records the checksum a PUT claims without checking it, so trusting it here is only to run
    # the AWS code path; test_blob_store shows why it stays off for moto in real use.
    app = make_test_app(database_url, S3_TRUST_CHECKSUMS=True, **s3_config(s3_endpoint_url, evidence_bucket(s3_endpoint_url)))
    yield app
    get_blob_store(app).client.close()
    app_db.binding(app).engine.dispose()


@pytest.fixture
def trusted(trusted_app):
    with rolled_back_session(trusted_app) as session:
        client = trusted_app.test_client()
        Auth(client).login("auditor")
        sync_device = device_for(client, session)
        assert sync_device.push(sync_device.start())[0]["status"] == "applied"
        yield Device(client, sync_device), session, get_blob_store(trusted_app)


@contextlib.contextmanager
def store_calls(store):
    """Record (operation, Range) of every request the app's S3 client sends (observed, not changed)."""
    calls = []

    def record(params, model, **_):
        calls.append((model.name, params.get("Range")))
    store.client.meta.events.register("before-parameter-build.s3", record)
    try:
        yield calls
    finally:
        store.client.meta.events.unregister("before-parameter-build.s3", record)


BIG_JPEG = JPEG + bytes(range(256)) * 5000  # over READ_WHOLE_UP_TO (1 MiB)


def test_a_trusted_store_verifies_a_large_file_from_its_kept_sha256_and_the_first_bytes_only(trusted):
    device, session, store = trusted
    data = BIG_JPEG
    assert len(data) > evidence_files.READ_WHOLE_UP_TO
    evidence_id = device.register(data)
    assert put_to_store(_target(device, evidence_id), data) == 200
    with store_calls(store) as calls:
        assert device.confirm(evidence_id).get_json() == {"status": "verified"}
    # (the upload's write time, the server-side copy to the final key, the copy's SHA-256 and first bytes, the upload deleted)
    assert calls == [("HeadObject", None), ("CopyObject", None), ("HeadObject", None), ("GetObject", "bytes=0-15"),
                     ("DeleteObject", None)]
    assert _row(session, evidence_id).status == "verified"


def test_a_trusted_store_keeping_another_sha256_is_a_mismatch_found_without_reading(trusted):
    # Given other bytes stored with their own (boto3-computed) SHA-256, as S3 would keep it
    device, session, store = trusted
    evidence_id = device.register(BIG_JPEG)
    _target(device, evidence_id)
    key = _row(session, evidence_id).storage_key
    changed = bytes(b ^ 0x01 for b in BIG_JPEG[:64]) + BIG_JPEG[64:]
    store.client.put_object(Bucket=store.bucket, Key=key, Body=changed, ContentType="image/jpeg",
                            ChecksumAlgorithm="SHA256")
    # When the device confirms, then the kept SHA-256 refuses it without a download, and it is deleted
    with store_calls(store) as calls:
        response = device.confirm(evidence_id)
    assert (response.status_code, response.get_json()["code"]) == (409, "evidence.checksum_mismatch")
    assert calls == [("HeadObject", None), ("DeleteObject", None), ("DeleteObject", None)]  # the upload and any copy
    assert store.head(key) is None


def test_a_trusted_store_with_no_sha256_kept_computes_one_for_the_final_copy(trusted):
    # Given the right bytes stored with no SHA-256 (only boto3's default CRC32)
    device, session, store = trusted
    evidence_id = device.register(BIG_JPEG)
    _target(device, evidence_id)
    store.put(_row(session, evidence_id).storage_key, BIG_JPEG, "image/jpeg")
    # When the device confirms, then the store computes the copy's SHA-256 as it copies (ChecksumAlgorithm), so only
    # the first bytes are read
    with store_calls(store) as calls:
        assert device.confirm(evidence_id).get_json() == {"status": "verified"}
    assert calls == [("HeadObject", None), ("CopyObject", None), ("HeadObject", None), ("GetObject", "bytes=0-15"),
                     ("DeleteObject", None)]


def test_a_trusted_store_whose_copy_has_no_sha256_falls_back_to_hashing_it(trusted):
    # Given a store trusted for checksums that keeps no SHA-256 on a copy (the app's client asks for none here)
    device, session, store = trusted
    evidence_id = device.register(BIG_JPEG)
    _target(device, evidence_id)
    store.put(_row(session, evidence_id).storage_key, BIG_JPEG, "image/jpeg")

    def no_checksum(params, **_):
        params.pop("ChecksumAlgorithm", None)
    store.client.meta.events.register("provide-client-params.s3.CopyObject", no_checksum)
    try:
        with store_calls(store) as calls:
            assert device.confirm(evidence_id).get_json() == {"status": "verified"}
    finally:
        store.client.meta.events.unregister("provide-client-params.s3.CopyObject", no_checksum)
    # Then the whole copy is read and hashed
    assert calls == [("HeadObject", None), ("CopyObject", None), ("HeadObject", None), ("GetObject", None),
                     ("DeleteObject", None)]


def test_a_small_file_copy_is_read_whole_in_one_get_even_from_a_trusted_store(trusted):
    device, session, store = trusted
    evidence_id = device.register(JPEG)
    assert put_to_store(_target(device, evidence_id), JPEG) == 200
    with store_calls(store) as calls:
        assert device.confirm(evidence_id).get_json() == {"status": "verified"}
    # (the upload's write time, the copy to the final key, the copy read and hashed in one GET, the upload deleted)
    assert calls == [("HeadObject", None), ("CopyObject", None), ("GetObject", None), ("DeleteObject", None)]


def test_a_store_not_trusted_for_checksums_hashes_every_file_copy_in_one_get(device, bucket):
    evidence_id = device.register(BIG_JPEG)
    assert put_to_store(_target(device, evidence_id), BIG_JPEG) == 200
    with store_calls(bucket) as calls:
        assert device.confirm(evidence_id).get_json() == {"status": "verified"}
    # (the upload's write time, the copy to the final key, the copy read and hashed in one GET, the upload deleted)
    assert calls == [("HeadObject", None), ("CopyObject", None), ("GetObject", None), ("DeleteObject", None)]


def test_a_trusted_store_still_rejects_an_exe_by_its_first_bytes(trusted):
    device, session, store = trusted
    big_exe = EXE + bytes(1024 * 1024)
    evidence_id = device.register(big_exe, media_type="image/jpeg", filename="photo.jpg")
    with store_calls(store) as calls:
        body = device.upload(evidence_id, big_exe).get_json()
    assert ("GetObject", "bytes=0-15") in calls
    assert (body["status"], body["code"]) == ("rejected", "evidence.wrong_type")
    assert store.head(_row(session, evidence_id).storage_key) is None


# ---- the store is down ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def unreachable_app(database_url):
    with socket.socket() as probe:  # a port nothing listens on: every connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = make_test_app(database_url, **s3_config(f"http://127.0.0.1:{port}", "evidence-unreachable"))
    yield app
    get_blob_store(app).client.close()
    app_db.binding(app).engine.dispose()


def test_when_s3_is_unreachable_answers_still_sync_and_confirm_says_503_leaving_the_status(unreachable_app):
    with rolled_back_session(unreachable_app) as session:
        client = unreachable_app.test_client()
        auth = Auth(client)
        auth.login("auditor")
        device = Device(client, device_for(client, session))
        # When answers and a registration are pushed while the store is down, then all apply
        registration = register_mutation(device.audit_id, JPEG)
        results = device.push(device.sync.start(), answer(device.audit_id, "SG-1.1", {"rating": "met"}), registration)
        assert [r["status"] for r in results] == ["applied"] * 3
        evidence_id = registration["entity_id"]
        # And a target can still be made (presigning needs no connection)
        assert device.target(evidence_id).status_code == 200
        # When the device confirms, then 503 with a stable code, and the status stays expected
        response = device.confirm(evidence_id)
        assert (response.status_code, response.get_json()["code"]) == (503, "evidence.store_unavailable")
        row = _row(session, evidence_id)
        assert (row.status, row.version, row.last_error) == ("expected", 1, "evidence.store_unavailable")
        assert session.scalar(select(Answer.rating).where(Answer.audit_id == uuid.UUID(device.audit_id))) == "met"
        # And the reviewers' page says plainly why the file is waiting
        auth.logout()
        auth.login("maintainer")
        page = client.get(f"/audits/{device.audit_id}/evidence").get_data(as_text=True)
        assert "Some files are waiting because the file store could not be reached" in page
        assert "The file store could not be reached" in page


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()
