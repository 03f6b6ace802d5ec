"""One contract for every BlobStore, run against the local folder store and a real S3 HTTP endpoint.

`BlobStoreContract` holds the shared behaviour; `TestLocalBlobStore` and `TestS3BlobStore` only
supply a `store` and add what is particular to them. The S3 endpoint is the moto server that
`make test` starts (TEST_S3_ENDPOINT_URL); moto checks no signatures or checksums (RECIPES.md §4),
so these tests show the app's own checks, never moto's.
"""
from __future__ import annotations

import base64
import hashlib
import os
import socket
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from datetime import datetime, timedelta, timezone
from io import BytesIO

from flask import Flask

from auditapp import create_app, storage
from auditapp.config import load_config
from auditapp.db import db as app_db
from auditapp.storage import (BlobInfo, BlobNotFound, BlobStore, BlobStoreUnavailable, BlobTooLarge, UploadTarget,
                              browser_origins, build_blob_store, get_blob_store, safe_filename, validate_key)
from auditapp.storage.local import LocalBlobStore
from auditapp.storage.s3 import S3BlobStore, make_s3_client

from .conftest import TEST_SECRET

REGION = "eu-west-2"
JPEG = "image/jpeg"


def new_key() -> str:
    return f"evidence/{uuid.uuid4()}/{uuid.uuid4()}"


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def http(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    """Send one request and return (status, headers, body), closing the response."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers, response.read()


# Fixed, not random: they are in the test ids, which every pytest-xdist worker must collect alike.
_A, _B = uuid.UUID("264f8845-bd4a-45c9-86cc-0f4839aeb957"), uuid.UUID("266f8fc6-7ff9-42c0-bf75-09f5838f388c")
BAD_KEYS = [
    "../etc/passwd",
    "/etc/passwd",
    "evidence/x/photo.jpg",
    f"evidence/{_A}/photo.jpg",
    f"/evidence/{_A}/{_B}",
    f"evidence/{_A}/{_B}/",
    f"evidence/{_A}/../{_B}",
    f"evidence/{_A}/{_B}/../../../../etc/passwd",
    f"evidence\\{_A}\\{_B}",
    f"evidence/{_A}/{_B}\n",
    f"evidence/{str(_A).upper()}/{_B}",
    f"evidence/{_A}",
    f"photos/{_A}/{_B}",
    f"evidence/final/{_A}",
    f"evidence/final/final/{_A}/{_B}",
    f"evidence/FINAL/{_A}/{_B}",
    f"evidence/final/{_A}/../{_B}",
    "",
    None,
]
CALLS = {
    "put": lambda store, key: store.put(key, b"x", JPEG),
    "head": lambda store, key: store.head(key),
    "read": lambda store, key: store.read(key),
    "sha256_hex": lambda store, key: store.sha256_hex(key),
    "delete": lambda store, key: store.delete(key),
    "upload_target": lambda store, key: store.upload_target(key, JPEG, 1, b64_sha256(b"x")),
    "download_url": lambda store, key: store.download_url(key, "photo.jpg", JPEG),
    "scan": lambda store, key: store.scan(key),
    "read_prefix": lambda store, key: store.read_prefix(key),
    "open": lambda store, key: store.open(key).close(),
    "copy": lambda store, key: store.copy(key, new_key()),
}


class BlobStoreContract:
    """Behaviour every BlobStore shares; subclasses provide the `store` fixture."""

    def test_store_satisfies_the_blob_store_protocol(self, store):
        assert isinstance(store, BlobStore)

    def test_copy_keeps_the_bytes_it_copied_whatever_is_written_to_the_source_later(self, store):
        key, final = new_key(), f"evidence/final/{uuid.uuid4()}/{uuid.uuid4()}"
        store.put(key, b"\xff\xd8 checked bytes", JPEG)
        store.copy(key, final)
        store.put(key, b"other bytes", "application/pdf")
        assert store.read(final) == b"\xff\xd8 checked bytes" and store.head(final).content_type == JPEG
        store.delete(key)
        assert store.read(final) == b"\xff\xd8 checked bytes"

    def test_copy_of_a_missing_blob_is_not_found(self, store):
        with pytest.raises(BlobNotFound):
            store.copy(new_key(), new_key())

    def test_a_final_key_is_a_key_but_never_an_upload_target(self, store):
        final = f"evidence/final/{uuid.uuid4()}/{uuid.uuid4()}"
        store.put(final, b"x", JPEG)
        assert store.read(final) == b"x"
        with pytest.raises(ValueError, match="final key"):
            store.upload_target(final, JPEG, 1, b64_sha256(b"x"))

    def test_put_then_head_and_read_round_trip(self, store):
        key, data = new_key(), b"\xff\xd8 a photo \x00\xff"
        store.put(key, data, JPEG)
        assert store.head(key) == BlobInfo(size=len(data), content_type=JPEG)
        assert store.read(key) == data

    def test_put_again_replaces_bytes_and_content_type(self, store):
        key = new_key()
        store.put(key, b"first version", JPEG)
        store.put(key, b"second", "application/pdf")
        assert store.head(key) == BlobInfo(size=6, content_type="application/pdf")
        assert store.read(key) == b"second"

    def test_empty_blob_round_trips(self, store):
        key = new_key()
        store.put(key, b"", "text/plain")
        assert store.head(key) == BlobInfo(size=0, content_type="text/plain")
        assert store.read(key) == b""
        assert store.sha256_hex(key) == hashlib.sha256(b"").hexdigest()

    def test_sha256_hex_matches_hashlib_across_chunks(self, store):
        key, data = new_key(), os.urandom(3 * 1024 * 1024 + 17)  # spans several 1 MiB chunks
        store.put(key, data, JPEG)
        assert store.sha256_hex(key) == hashlib.sha256(data).hexdigest()

    def test_scan_streams_size_sha256_and_first_bytes_in_one_pass(self, store):
        key, data = new_key(), b"\x89PNG\r\n\x1a\n" + os.urandom(2 * 1024 * 1024 + 5)
        store.put(key, data, "image/png")
        scan = store.scan(key)
        assert (scan.size, scan.sha256_hex) == (len(data), hashlib.sha256(data).hexdigest())
        assert scan.prefix == data[:16]
        assert store.scan(key, prefix_bytes=4).prefix == b"\x89PNG"

    def test_scan_says_when_the_blob_was_written(self, store):
        key = new_key()
        store.put(key, b"x", JPEG)
        assert store.scan(key).modified_at == store.head(key).modified_at

    def test_scan_of_a_blob_over_max_bytes_reads_nothing_but_says_its_size(self, store):
        key, data = new_key(), b"\xff\xd8\xff" + os.urandom(300_000)
        store.put(key, data, JPEG)
        scan = store.scan(key, max_bytes=1000)
        assert (scan.size, scan.sha256_hex, scan.prefix) == (len(data), None, b"")
        assert scan.modified_at is not None
        assert store.scan(key, max_bytes=len(data)).sha256_hex == hashlib.sha256(data).hexdigest()

    def test_scan_of_a_blob_shorter_than_the_prefix_returns_all_of_it(self, store):
        key = new_key()
        store.put(key, b"%P", "application/pdf")
        assert store.scan(key).prefix == b"%P"

    def test_open_streams_the_bytes(self, store):
        key, data = new_key(), os.urandom(100_000)
        store.put(key, data, JPEG)
        stream = store.open(key)
        try:
            assert stream.read() == data
        finally:
            stream.close()

    def test_head_says_when_the_blob_was_written(self, store):
        before = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=2)
        key = new_key()
        store.put(key, b"x", JPEG)
        written = store.head(key).modified_at
        assert before <= written <= datetime.now(timezone.utc) + timedelta(seconds=2)

    def test_read_prefix_returns_only_the_first_bytes(self, store):
        key, data = new_key(), b"%PDF-1.7" + os.urandom(2 * 1024 * 1024)
        store.put(key, data, "application/pdf")
        assert store.read_prefix(key) == data[:16]
        assert store.read_prefix(key, prefix_bytes=5) == b"%PDF-"

    def test_read_prefix_of_a_short_or_empty_blob_returns_what_there_is(self, store):
        short, empty = new_key(), new_key()
        store.put(short, b"\xff\xd8", JPEG)
        store.put(empty, b"", JPEG)
        assert (store.read_prefix(short), store.read_prefix(empty)) == (b"\xff\xd8", b"")

    def test_head_reports_no_sha256_unless_the_store_is_trusted_for_it(self, store):
        # The local store and an untrusted S3 store always leave hashing to the caller
        key = new_key()
        store.put(key, b"x", JPEG)
        assert store.head(key).sha256_hex is None

    @pytest.mark.parametrize("call", ["scan", "open", "read_prefix"])
    def test_scan_and_open_of_a_missing_key_raise_blob_not_found(self, store, call):
        with pytest.raises(BlobNotFound):
            CALLS[call](store, new_key())

    def test_head_of_missing_key_is_none(self, store):
        assert store.head(new_key()) is None

    def test_read_of_missing_key_raises_blob_not_found(self, store):
        with pytest.raises(BlobNotFound):
            store.read(new_key())

    def test_sha256_of_missing_key_raises_blob_not_found(self, store):
        with pytest.raises(BlobNotFound):
            store.sha256_hex(new_key())

    def test_delete_removes_the_blob_and_is_idempotent(self, store):
        key = new_key()
        store.put(key, b"bytes", JPEG)
        store.delete(key)
        assert store.head(key) is None
        with pytest.raises(BlobNotFound):
            store.read(key)
        store.delete(key)
        store.delete(new_key())

    def test_upload_target_is_a_put_with_content_type_and_checksum_headers(self, store):
        checksum = b64_sha256(b"photo")
        target = store.upload_target(new_key(), JPEG, 5, checksum)
        assert isinstance(target, UploadTarget)
        assert target.method == "PUT"
        assert target.headers == {"Content-Type": JPEG, "x-amz-checksum-sha256": checksum,
                                  "x-amz-sdk-checksum-algorithm": "SHA256"}

    @pytest.mark.parametrize("checksum", ["", "not base64!", base64.b64encode(b"short").decode(),
                                          hashlib.sha256(b"x").hexdigest()])
    def test_upload_target_refuses_a_checksum_that_is_not_a_base64_sha256(self, store, checksum):
        with pytest.raises(ValueError):
            store.upload_target(new_key(), JPEG, 1, checksum)

    @pytest.mark.parametrize("content_type", ["", "jpeg", "image/jpeg\r\nX-Evil: 1", None])
    def test_put_refuses_a_malformed_content_type(self, store, content_type):
        with pytest.raises(ValueError):
            store.put(new_key(), b"x", content_type)

    @pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
    @pytest.mark.parametrize("method", CALLS)
    def test_keys_that_are_not_evidence_uuid_uuid_are_refused_by_every_method(self, store, method, key):
        with pytest.raises(ValueError):
            CALLS[method](store, key)


# ---- local folder ------------------------------------------------------------------------

class TestLocalBlobStore(BlobStoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        return LocalBlobStore(tmp_path / "root")

    def test_building_the_store_creates_nothing(self, tmp_path):
        LocalBlobStore(tmp_path / "root")
        assert list(tmp_path.iterdir()) == []

    def test_upload_target_has_no_url_so_the_app_route_is_used(self, store):
        assert store.upload_target(new_key(), JPEG, 1, b64_sha256(b"x")).url is None

    def test_copy_on_a_filesystem_without_hard_links_copies_the_bytes(self, store, monkeypatch):
        def no_links(*_):
            raise PermissionError(1, "Operation not permitted")
        monkeypatch.setattr(os, "link", no_links)
        key, final = new_key(), f"evidence/final/{uuid.uuid4()}/{uuid.uuid4()}"
        store.put(key, b"checked", JPEG)
        store.copy(key, final)
        store.put(key, b"later", JPEG)
        assert store.read(final) == b"checked" and store.head(final).modified_at == store.scan(final).modified_at
        with pytest.raises(BlobNotFound):
            store.copy(new_key(), final)
        assert sorted(p.name for p in store._path(final).parent.iterdir()) == [
            store._path(final).name, store._path(final).name + ".content-type"]  # no temporary file left

    def test_download_url_is_none_so_the_app_serves_the_file(self, store):
        key = new_key()
        store.put(key, b"x", JPEG)
        assert store.download_url(key, "photo.jpg", JPEG) is None

    def test_put_leaves_only_the_blob_and_its_content_type(self, store):
        key = new_key()
        store.put(key, b"x", JPEG)
        names = sorted(p.name for p in (store.root / key).parent.iterdir())
        assert names == [key.rsplit("/", 1)[1], key.rsplit("/", 1)[1] + ".content-type"]

    def test_traversal_attempts_never_touch_files_outside_root(self, tmp_path, store):
        outside = tmp_path / "etc"
        outside.mkdir()
        (outside / "passwd").write_bytes(b"root:x:0:0")
        for key in BAD_KEYS:
            for call in CALLS.values():
                with pytest.raises(ValueError):
                    call(store, key)
        assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["etc", "etc/passwd"]
        assert (outside / "passwd").read_bytes() == b"root:x:0:0"

    def test_put_stream_writes_the_stream_in_chunks_up_to_its_cap(self, store):
        key, data = new_key(), os.urandom(3 * 1024 * 1024)
        assert store.put_stream(key, BytesIO(data), JPEG, max_bytes=len(data)) == len(data)
        assert store.read(key) == data
        assert store.head(key).content_type == JPEG

    def test_put_stream_past_its_cap_stores_nothing_and_leaves_no_partial_file(self, store):
        key = new_key()
        with pytest.raises(BlobTooLarge):
            store.put_stream(key, BytesIO(b"x" * 1001), JPEG, max_bytes=1000)
        assert store.head(key) is None
        assert [p.name for p in (store.root / key).parent.iterdir()] == []

    def test_put_stream_past_its_cap_keeps_the_blob_already_there(self, store):
        key = new_key()
        store.put(key, b"the good one", JPEG)
        with pytest.raises(BlobTooLarge):
            store.put_stream(key, BytesIO(b"y" * 50), JPEG, max_bytes=20)
        assert store.read(key) == b"the good one"

    def test_a_symlinked_folder_leading_outside_root_is_refused(self, tmp_path, store):
        # Given a folder inside the store that is really a link to somewhere else
        outside = tmp_path / "outside"
        outside.mkdir()
        store.root.mkdir()
        (store.root / "evidence").symlink_to(outside, target_is_directory=True)
        key = new_key()
        # When any method is called with a well-formed key, then it refuses and writes nothing there
        for call in CALLS.values():
            with pytest.raises(ValueError, match="outside the store"):
                call(store, key)
        assert list(outside.iterdir()) == []


# ---- S3 endpoint (moto server started by `make test`) -----------------------------------

@pytest.fixture(scope="session")
def s3_endpoint_url() -> str:
    url = os.environ.get("TEST_S3_ENDPOINT_URL")
    if not url:
        pytest.fail("TEST_S3_ENDPOINT_URL is not set: run the suite with `make test`, which starts "
                    "the moto S3 endpoint and exports dummy AWS credentials.", pytrace=False)
    return url


@pytest.fixture(scope="class")
def s3_store(s3_endpoint_url):
    """An S3BlobStore on a fresh, randomly named bucket, emptied and removed afterwards."""
    client = make_s3_client({"S3_REGION": REGION, "S3_ENDPOINT_URL": s3_endpoint_url})
    bucket = f"auditapp-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    yield S3BlobStore(client, bucket)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)
    client.close()


class TestS3BlobStore(BlobStoreContract):
    @pytest.fixture
    def store(self, s3_store):
        return s3_store

    def test_presigned_put_signs_the_length_content_type_and_checksum_headers(self, store):
        target = store.upload_target(new_key(), JPEG, 5, b64_sha256(b"photo"), expires_in=120)
        query = parse_qs(urlparse(target.url).query)
        assert query["X-Amz-SignedHeaders"] == [
            "content-length;content-type;host;x-amz-checksum-sha256;x-amz-sdk-checksum-algorithm"]
        assert query["X-Amz-Expires"] == ["120"]

    def test_upload_through_the_presigned_put_stores_the_bytes(self, store):
        key, data = new_key(), os.urandom(50_000)
        target = store.upload_target(key, JPEG, len(data), b64_sha256(data))
        # moto stores 0 bytes when Content-Type is missing or form-encoded: always send target.headers
        status, _, _ = http(target.url, target.method, data, target.headers)
        assert status == 200
        assert store.head(key) == BlobInfo(size=len(data), content_type=JPEG)
        assert store.sha256_hex(key) == hashlib.sha256(data).hexdigest()

    def test_other_bytes_under_the_signed_checksum_are_caught_by_sha256_hex(self, store):
        # Given a target signed for one photo
        key, expected = new_key(), os.urandom(4096)
        target = store.upload_target(key, JPEG, len(expected), b64_sha256(expected))
        # When other bytes of the same size are PUT with the same signed checksum header
        tampered = os.urandom(len(expected))
        status, _, _ = http(target.url, target.method, tampered, target.headers)
        # Then moto accepts them (real S3 would not), the size alone looks fine,
        # and only the app's own re-hash shows the mismatch
        assert status == 200
        assert store.head(key).size == len(expected)
        assert store.sha256_hex(key) != hashlib.sha256(expected).hexdigest()
        assert store.sha256_hex(key) == hashlib.sha256(tampered).hexdigest()

    def test_allow_browser_uploads_sets_cors_for_put_and_get_with_the_checksum_header(self, store):
        store.allow_browser_uploads(["https://audits.example.org"])
        rule = store.client.get_bucket_cors(Bucket=store.bucket)["CORSRules"][0]
        assert rule["AllowedOrigins"] == ["https://audits.example.org"]
        assert sorted(rule["AllowedMethods"]) == ["GET", "PUT"]
        assert {h.lower() for h in rule["AllowedHeaders"]} == {"content-type", "x-amz-checksum-sha256",
                                                               "x-amz-sdk-checksum-algorithm"}

    def test_a_trusted_store_reports_the_sha256_kept_with_a_presigned_upload(self, store):
        # The device's PUT sends the checksum and its algorithm, so moto (like AWS) keeps the checksum
        trusted = S3BlobStore(store.client, store.bucket, trust_checksums=True)
        key, data = new_key(), os.urandom(50_000)
        target = trusted.upload_target(key, JPEG, len(data), b64_sha256(data))
        assert http(target.url, target.method, data, target.headers)[0] == 200
        assert trusted.head(key).sha256_hex == hashlib.sha256(data).hexdigest()
        assert trusted.head(key) == BlobInfo(size=len(data), content_type=JPEG)
        assert store.head(key).sha256_hex is None  # the same object through an untrusted store

    def test_a_trusted_store_reports_no_sha256_for_an_object_stored_without_one(self, store):
        # No checksum at all (put), or only the CRC32 boto3 adds by default: the caller must hash
        trusted = S3BlobStore(store.client, store.bucket, trust_checksums=True)
        bare, crc = new_key(), new_key()
        store.put(bare, b"\xff\xd8\xff plain", JPEG)
        store.client.put_object(Bucket=store.bucket, Key=crc, Body=b"\xff\xd8\xff crc", ChecksumAlgorithm="CRC32")
        assert store.client.head_object(Bucket=store.bucket, Key=crc, ChecksumMode="ENABLED").get("ChecksumCRC32")
        assert trusted.head(bare).sha256_hex is None
        assert trusted.head(crc).sha256_hex is None

    def test_moto_keeps_a_claimed_checksum_unchecked_so_it_must_not_be_trusted(self, store):
        # Why S3_TRUST_CHECKSUMS is off by default for any endpoint but AWS: moto stores other bytes
        # under the signed checksum and then reports the claim as the object's SHA-256.
        trusted = S3BlobStore(store.client, store.bucket, trust_checksums=True)
        key, expected = new_key(), os.urandom(4096)
        target = trusted.upload_target(key, JPEG, len(expected), b64_sha256(expected))
        tampered = os.urandom(len(expected))
        assert http(target.url, target.method, tampered, target.headers)[0] == 200
        assert trusted.head(key).sha256_hex == hashlib.sha256(expected).hexdigest()
        assert trusted.scan(key).sha256_hex == hashlib.sha256(tampered).hexdigest()

    def test_download_url_serves_the_bytes_as_an_attachment_with_a_safe_filename(self, store):
        key, data = new_key(), b"%PDF-1.7 evidence"
        store.put(key, data, "application/pdf")
        url = store.download_url(key, "../../evil name?.pdf", "application/pdf")
        status, headers, body = http(url)
        assert (status, body) == (200, data)
        assert headers["Content-Type"] == "application/pdf"
        assert headers["Content-Disposition"] == 'attachment; filename="evilname.pdf"'


# ---- pieces shared by both stores ----------------------------------------------------------

@pytest.mark.parametrize("filename, expected", [
    ("../../evil name?.pdf", "evilname.pdf"),
    ("photo 1.JPG", "photo1.JPG"),
    ('a"b;c\r\nX-Evil: 1.pdf', "abcX-Evil1.pdf"),
    ("résumé.pdf", "rsum.pdf"),
    (".htaccess", "htaccess"),
    ("", "evidence"),
    ("...", "evidence"),
    ("??//", "evidence"),
    (None, "evidence"),
    ("x" * 300 + ".jpeg", "x" * 95 + ".jpeg"),
    ("y" * 300, "y" * 100),
])
def test_safe_filename_keeps_only_plain_characters(filename, expected):
    assert safe_filename(filename) == expected


def test_validate_key_accepts_an_evidence_uuid_uuid_key():
    key = new_key()
    assert validate_key(key) == key


def test_build_blob_store_local_uses_evidence_dir(tmp_path):
    store = build_blob_store({"EVIDENCE_STORE": "local", "EVIDENCE_DIR": str(tmp_path / "ev")})
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "ev"


def test_build_blob_store_s3_uses_the_configured_endpoint_region_and_bucket():
    store = build_blob_store({"EVIDENCE_STORE": "s3", "S3_BUCKET": "evidence-bucket", "S3_REGION": REGION,
                              "S3_ENDPOINT_URL": "http://127.0.0.1:9"})
    try:
        assert isinstance(store, S3BlobStore)
        assert store.bucket == "evidence-bucket"
        assert store.client.meta.endpoint_url == "http://127.0.0.1:9"
        assert store.client.meta.region_name == REGION
        assert store.client.meta.config.signature_version == "s3v4"
    finally:
        store.client.close()


@pytest.mark.parametrize("config, trusted", [
    ({}, True),  # AWS: refuses bytes that do not match the signed checksum
    ({"S3_ENDPOINT_URL": "http://127.0.0.1:9"}, False),  # any other endpoint, unless said otherwise
    ({"S3_ENDPOINT_URL": "http://127.0.0.1:9", "S3_TRUST_CHECKSUMS": True}, True),
    ({"S3_TRUST_CHECKSUMS": False}, False),
])
def test_the_store_trusts_checksums_on_aws_or_when_configured(config, trusted):
    client = make_s3_client({"S3_REGION": REGION, "S3_ENDPOINT_URL": "http://127.0.0.1:9"})
    try:
        store = build_blob_store({"EVIDENCE_STORE": "s3", "S3_BUCKET": "given", **config}, s3_client=client)
        assert store.trust_checksums is trusted
    finally:
        client.close()


@pytest.mark.parametrize("raw, value", [("true", True), ("off", False)])
def test_s3_trust_checksums_is_read_from_the_environment(raw, value):
    config = load_config(environ={"AUDITAPP_S3_TRUST_CHECKSUMS": raw, "AUDITAPP_SECRET_KEY": TEST_SECRET,
                                  "AUDITAPP_DATABASE_URL": "postgresql+psycopg://localhost/unused"})
    assert config["S3_TRUST_CHECKSUMS"] is value


def test_build_blob_store_s3_uses_a_given_client():
    client = make_s3_client({"S3_REGION": REGION, "S3_ENDPOINT_URL": "http://127.0.0.1:9"})
    try:
        store = build_blob_store({"EVIDENCE_STORE": "s3", "S3_BUCKET": "given"}, s3_client=client)
        assert store.client is client
    finally:
        client.close()


def test_an_unreachable_s3_endpoint_is_reported_as_unavailable_not_missing(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        if not os.environ.get(name):
            monkeypatch.setenv(name, "testing")
    with socket.socket() as probe:  # a port nothing listens on: connections are refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_s3_client({"S3_REGION": REGION, "S3_ENDPOINT_URL": f"http://127.0.0.1:{port}"})
    store = S3BlobStore(client, "evidence-bucket")
    try:
        for call in ("head", "scan", "delete"):
            with pytest.raises(BlobStoreUnavailable):
                CALLS[call](store, new_key())
    finally:
        client.close()


def test_the_s3_client_bounds_every_call_with_the_configured_timeouts_and_attempts():
    defaults = make_s3_client({"S3_REGION": REGION, "S3_ENDPOINT_URL": "http://127.0.0.1:9"})
    configured = make_s3_client(load_config({"SECRET_KEY": TEST_SECRET, "DATABASE_URL": "postgresql://localhost/x"}, {
        "AUDITAPP_S3_CONNECT_TIMEOUT_SECONDS": "1", "AUDITAPP_S3_READ_TIMEOUT_SECONDS": "4",
        "AUDITAPP_S3_MAX_ATTEMPTS": "3"}))
    try:
        bounds = [(c.meta.config.connect_timeout, c.meta.config.read_timeout, c.meta.config.retries)
                  for c in (defaults, configured)]
        assert bounds == [(2, 3, {"total_max_attempts": 2, "mode": "standard"}),
                          (1, 4, {"total_max_attempts": 3, "mode": "standard"})]
    finally:
        defaults.close()
        configured.close()


@pytest.mark.parametrize("config, origins", [
    ({"EVIDENCE_STORE": "local"}, ()),
    ({"EVIDENCE_STORE": "s3", "S3_BUCKET": "ev-bucket", "S3_ENDPOINT_URL": "https://minio.example.org:9000/base"},
     ("https://minio.example.org:9000",)),
    ({"EVIDENCE_STORE": "s3", "S3_BUCKET": "ev-bucket", "S3_REGION": REGION},
     ("https://ev-bucket.s3.amazonaws.com", "https://ev-bucket.s3.eu-west-2.amazonaws.com")),
])
def test_browser_origins_name_where_presigned_urls_point(config, origins):
    assert browser_origins(config) == origins


@pytest.mark.parametrize("endpoint", [None, "https://minio.example.org:9000", "http://127.0.0.1:9000"])
def test_presigned_urls_point_at_one_of_the_browser_origins(monkeypatch, endpoint):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        if not os.environ.get(name):
            monkeypatch.setenv(name, "testing")
    config = {"EVIDENCE_STORE": "s3", "S3_BUCKET": "ev-bucket", "S3_REGION": REGION, "S3_ENDPOINT_URL": endpoint}
    store = build_blob_store(config)
    try:
        for url in (store.upload_target(new_key(), JPEG, 1, b64_sha256(b"x")).url,
                    store.download_url(new_key(), "a.jpg", JPEG)):
            parts = urlparse(url)
            assert f"{parts.scheme}://{parts.netloc}" in browser_origins(config)
    finally:
        store.client.close()


def test_build_blob_store_refuses_an_unknown_kind():
    with pytest.raises(ValueError):
        build_blob_store({"EVIDENCE_STORE": "ftp"})


def test_init_app_builds_one_s3_client_and_makes_no_network_call(monkeypatch):
    # Given an endpoint that listens but never accepts, so any connection would queue up here
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance role either
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # presigning needs some credentials
        if not os.environ.get(name):
            monkeypatch.setenv(name, "testing")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        endpoint = "http://127.0.0.1:%d" % listener.getsockname()[1]
        app = Flask(__name__)
        app.config.update(EVIDENCE_STORE="s3", S3_BUCKET="evidence-bucket", S3_REGION=REGION,
                          S3_ENDPOINT_URL=endpoint)
        # When the store is wired in and a presigned URL is made
        storage.init_app(app)
        store = get_blob_store(app)
        try:
            target = store.upload_target(new_key(), JPEG, 1, b64_sha256(b"x"))
            # Then nothing connected to the endpoint
            with pytest.raises(BlockingIOError):
                listener.accept()
            assert target.url.startswith(endpoint + "/evidence-bucket/evidence/")
            assert store.client.meta.endpoint_url == endpoint
            with app.app_context():
                assert get_blob_store() is store
        finally:
            store.client.close()


def test_create_app_wires_the_local_store_without_creating_its_folder(tmp_path):
    app = create_app({"DATABASE_URL": "postgresql+psycopg://localhost/unused", "SECRET_KEY": TEST_SECRET,
                      "INSTANCE_DIR": str(tmp_path / "instance"), "TESTING": True})
    try:
        store = get_blob_store(app)
        assert isinstance(store, LocalBlobStore)
        assert store.root == Path(app.config["EVIDENCE_DIR"]) == tmp_path / "instance" / "evidence"
        assert not store.root.exists()
    finally:
        app_db.binding(app).engine.dispose()
