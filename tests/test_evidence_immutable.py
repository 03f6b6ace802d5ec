"""A verified file cannot change (issue 14): confirm copies it inside the store to a final key that no
upload URL reaches, and only that copy is ever served. Against the real S3 endpoint (moto, which, like
some S3-compatible stores, checks neither a presigned PUT's signed checksum nor its expiry) and the
local store."""
import urllib.request
import uuid

import pytest
from sqlalchemy import update

from auditapp.db import db as app_db
from auditapp.models import Evidence
from auditapp.storage import get_blob_store
from auditapp.storage.local import LocalBlobStore

from .conftest import Auth, evidence_bucket, make_test_app, rolled_back_session, s3_config
from .evidence_helpers import JPEG, PNG, Device, put_to_store, sha256, started_audit, verified
from .sync_helpers import device_for

OTHER = JPEG[:200] + b"\x00not what was checked" + JPEG[221:]  # same size, still a JPEG, other bytes
assert len(OTHER) == len(JPEG) and sha256(OTHER) != sha256(JPEG)


@pytest.fixture(scope="module")
def s3_app(database_url, s3_endpoint_url):
    app = make_test_app(database_url, **s3_config(s3_endpoint_url, evidence_bucket(s3_endpoint_url)))
    yield app
    get_blob_store(app).client.close()
    app_db.binding(app).engine.dispose()


@pytest.fixture
def s3_session(s3_app):
    with rolled_back_session(s3_app) as session:
        yield session


@pytest.fixture
def s3_device(s3_app, s3_session):
    client = s3_app.test_client()
    Auth(client).login("auditor")
    sync_device = device_for(client, s3_session)
    assert sync_device.push(sync_device.start())[0]["status"] == "applied"
    return Device(client, sync_device)


def _row(session, evidence_id) -> Evidence:
    session.expire_all()
    return session.get(Evidence, uuid.UUID(str(evidence_id)))


def _download_as(app, role: str, evidence_id) -> bytes:
    """What a reviewer gets from GET /evidence/<id>: the presigned GET followed (S3) or the streamed file (local)."""
    client = app.test_client()
    Auth(client).login(role)
    response = client.get(f"/evidence/{evidence_id}")
    if response.status_code == 302:
        with urllib.request.urlopen(response.headers["Location"], timeout=10) as download:
            return download.read()
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_data()
    response.close()
    return data


def test_s3_an_overwrite_through_the_old_upload_url_never_reaches_reviewers(s3_app, s3_device, s3_session):
    # Given a photo uploaded through its presigned PUT and verified
    evidence_id = s3_device.register(JPEG)
    response = s3_device.target(evidence_id)
    assert response.status_code == 200, response.get_json()
    old_target = response.get_json()
    assert put_to_store(old_target, JPEG) == 200
    assert s3_device.confirm(evidence_id).get_json() == {"status": "verified"}
    # When other bytes are PUT through the old URL (moto takes them: it checks neither the signed checksum nor expiry)
    assert put_to_store(old_target, OTHER) == 200
    # Then a reviewer still downloads exactly the verified bytes, and confirm still answers verified
    assert _download_as(s3_app, "maintainer", evidence_id) == JPEG
    assert s3_device.confirm(evidence_id).get_json() == {"status": "verified"}
    # And the verified copy is at the final key, which the upload URL does not name
    row = _row(s3_session, evidence_id)
    assert row.final_key == f"evidence/final/{row.audit_id}/{evidence_id}"
    assert row.final_key not in old_target["url"] and row.storage_key in old_target["url"]
    assert get_blob_store(s3_app).sha256_hex(row.final_key) == sha256(JPEG)
    # And no new upload target is given for it
    again = s3_device.target(evidence_id)
    assert (again.status_code, again.get_json()["code"]) == (409, "evidence.already_verified")


def test_s3_bytes_changed_between_upload_and_confirm_are_checked_in_the_copy_that_is_kept(s3_app, s3_device, s3_session):
    # Given the right photo uploaded, then replaced through the same URL before confirm
    evidence_id = s3_device.register(JPEG)
    target = s3_device.target(evidence_id).get_json()
    assert put_to_store(target, JPEG) == 200
    assert put_to_store(target, OTHER) == 200
    # When the device confirms, then the copy holds the other bytes and is refused; nothing is kept at either key
    response = s3_device.confirm(evidence_id)
    assert (response.status_code, response.get_json()["code"]) == (409, "evidence.checksum_mismatch")
    row, store = _row(s3_session, evidence_id), get_blob_store(s3_app)
    assert row.final_key is None
    assert store.head(row.storage_key) is None and store.head(f"evidence/final/{row.audit_id}/{evidence_id}") is None


@pytest.fixture
def local_store(app) -> LocalBlobStore:
    store = get_blob_store(app)
    assert isinstance(store, LocalBlobStore)
    return store


@pytest.fixture
def local_device(app, client, db_session):
    Auth(client).login("auditor")
    sync_device = device_for(client, db_session)
    assert sync_device.push(sync_device.start())[0]["status"] == "applied"
    return Device(client, sync_device)


def test_local_a_write_to_the_upload_key_after_verify_never_reaches_reviewers(app, local_device, db_session,
                                                                              local_store):
    # Given a photo uploaded to the app and verified
    evidence_id = local_device.register(JPEG)
    target = local_device.target(evidence_id).get_json()
    assert local_device.put(target, JPEG).status_code == 200
    assert local_device.confirm(evidence_id).get_json() == {"status": "verified"}
    # When the old upload link is used again, the app refuses it
    late = local_device.put(target, OTHER)
    assert (late.status_code, late.get_json()["code"]) == (409, "evidence.already_verified")
    # And even bytes written under the upload key behind the app's back (a racing upload) are never served
    row = _row(db_session, evidence_id)
    local_store.put(row.storage_key, OTHER, "image/jpeg")
    assert _download_as(app, "maintainer", evidence_id) == JPEG
    assert local_store.sha256_hex(row.final_key) == sha256(JPEG)


@pytest.mark.parametrize("store_kind", ["local", "s3"])
def test_no_upload_target_is_ever_made_for_a_final_key(app, s3_app, store_kind):
    store = get_blob_store(app if store_kind == "local" else s3_app)
    key = f"evidence/final/{uuid.uuid4()}/{uuid.uuid4()}"
    with pytest.raises(ValueError, match="final key"):
        store.upload_target(key, "image/jpeg", len(JPEG), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")


def _as_before_final_keys(session, store, row: Evidence, data: bytes) -> None:
    """Make `row` look verified before migration 0012: its bytes at the upload key, no final key."""
    store.put(row.storage_key, data, row.media_type)
    store.delete(row.final_key)
    session.execute(update(Evidence).where(Evidence.id == row.id).values(final_key=None))
    session.flush()


def test_a_file_verified_before_final_keys_is_checked_again_and_moved_when_first_opened(app, db_session, local_store):
    # Given a file verified before final keys existed (bytes only at the upload key)
    row = verified(db_session, local_store, started_audit(db_session), PNG, "image/png")
    _as_before_final_keys(db_session, local_store, row, PNG)
    # When a reviewer opens it, then they get its bytes, now from the final key, and the upload key is spent
    assert _download_as(app, "maintainer", row.id) == PNG
    row = _row(db_session, row.id)
    assert row.final_key == f"evidence/final/{row.audit_id}/{row.id}"
    assert local_store.sha256_hex(row.final_key) == sha256(PNG) and local_store.head(row.storage_key) is None


def test_a_file_verified_before_final_keys_and_altered_since_is_not_served(app, db_session, local_store):
    # Given a file verified before final keys existed whose bytes were replaced afterwards
    row = verified(db_session, local_store, started_audit(db_session), PNG, "image/png")
    _as_before_final_keys(db_session, local_store, row, PNG[:-1] + b"\x01")
    # When a reviewer opens it, then nothing is served: 409 evidence.altered, and no final copy is made
    client = app.test_client()
    Auth(client).login("maintainer")
    response = client.get(f"/evidence/{row.id}", headers={"Accept": "application/json"})
    assert (response.status_code, response.get_json()["code"]) == (409, "evidence.altered")
    assert _row(db_session, row.id).final_key is None
    assert local_store.head(f"evidence/final/{row.audit_id}/{row.id}") is None


def test_a_file_moved_by_a_view_whose_transaction_did_not_commit_is_still_served(app, db_session, local_store):
    # Given a file verified before final keys existed, already copied to its final key and its upload deleted by a
    # view that then failed (the row still has no final key)
    row = verified(db_session, local_store, started_audit(db_session), PNG, "image/png")
    db_session.execute(update(Evidence).where(Evidence.id == row.id).values(final_key=None))
    db_session.flush()
    assert local_store.head(row.storage_key) is None
    # When a reviewer opens it, then the copy at the final key is checked and served
    assert _download_as(app, "maintainer", row.id) == PNG
    assert _row(db_session, row.id).final_key == f"evidence/final/{row.audit_id}/{row.id}"
