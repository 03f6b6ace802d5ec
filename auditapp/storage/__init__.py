"""Evidence blob storage: the `BlobStore` contract, its key rules, and wiring into the app.

Layer: models (beside auditapp/models/ and queries.py). Services call a BlobStore to check and
remove evidence bytes; edges ask it for upload and download targets. It knows nothing about
requests, users or the database. Two implementations obey one contract suite
(tests/test_blob_store.py): `local.LocalBlobStore` (files under a folder) and `s3.S3BlobStore`
(boto3, any S3-compatible endpoint).

Keys are opaque and server-made: only `evidence/<audit uuid>/<evidence uuid>` (where a device uploads)
and `evidence/final/<audit uuid>/<evidence uuid>` (where confirm copies a file it verified) are accepted,
never a user's filename, so a key can neither climb out of the store nor collide with another audit's
file. No upload target is ever made for a final key: a verified file cannot be written over.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable
from urllib.parse import urlsplit

from flask import Flask, current_app

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
KEY_RE = re.compile(rf"evidence/(?:final/)?{_UUID}/{_UUID}")
FINAL_PREFIX = "evidence/final/"
_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
FILENAME_MAX = 100
FALLBACK_FILENAME = "evidence"
MAX_EXPIRES_IN = 7 * 24 * 60 * 60  # S3's ceiling for a SigV4 presigned URL
EXTENSION_KEY = "blob_store"


class BlobNotFound(LookupError):
    """No blob is stored under the key."""


class BlobStoreUnavailable(RuntimeError):
    """The store could not be reached or refused to work (network, credentials, disk): try again later."""


class BlobTooLarge(ValueError):
    """A streamed upload went past its size cap; nothing was stored."""


@dataclass(frozen=True)
class BlobInfo:
    """What a HEAD tells about a stored blob; `modified_at` is when the store wrote it.

    `sha256_hex` is the SHA-256 of the whole object as the store itself computed and checked it on
    upload, given only by a store configured to be trusted for it (S3_TRUST_CHECKSUMS); None means
    "hash the bytes yourself".
    """

    size: int
    content_type: str
    modified_at: datetime | None = field(default=None, compare=False)
    sha256_hex: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class BlobScan:
    """One streamed pass over a blob: its size, SHA-256 and first bytes (for magic-number checks).

    `sha256_hex` is None and `prefix` empty when the blob was not read because it is larger than
    the caller's `max_bytes`; `modified_at` is when the store wrote it.
    """

    size: int
    sha256_hex: str | None
    prefix: bytes
    modified_at: datetime | None = field(default=None, compare=False)


PREFIX_BYTES = 16


@dataclass(frozen=True)
class UploadTarget:
    """Where and how a device uploads one blob.

    `url=None` means "upload to the app's own evidence route": the local store has no URL of its
    own, so the caller fills in the route. The device must send exactly `headers` with the PUT.
    """

    method: str
    url: str | None
    headers: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class BlobStore(Protocol):
    """Store evidence bytes under opaque keys; every method refuses a malformed key with ValueError.

    `trust_checksums`: `head` reports a SHA-256 the store itself checked against the bytes.
    """

    trust_checksums: bool

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing any blob already there."""

    def head(self, key: str) -> BlobInfo | None:
        """Return the blob's size and content type, or None when nothing is stored under `key`."""

    def read(self, key: str) -> bytes:
        """Return the blob's bytes.

        :raises BlobNotFound: when nothing is stored under `key`.
        """

    def sha256_hex(self, key: str) -> str:
        """Return the hex SHA-256 of the stored bytes, hashed as a stream.

        :raises BlobNotFound: when nothing is stored under `key`.
        """

    def scan(self, key: str, prefix_bytes: int = PREFIX_BYTES, max_bytes: int | None = None) -> BlobScan:
        """Stream the blob once: size, write time, hex SHA-256 and the first `prefix_bytes` bytes.

        A blob larger than `max_bytes` is not read: only its size and write time come back.
        :raises BlobNotFound: when nothing is stored under `key`.
        """

    def read_prefix(self, key: str, prefix_bytes: int = PREFIX_BYTES) -> bytes:
        """Return only the first `prefix_bytes` bytes (fewer if the blob is shorter).

        :raises BlobNotFound: when nothing is stored under `key`.
        """

    def open(self, key: str) -> BinaryIO:
        """Return a readable stream of the blob's bytes; the caller closes it.

        :raises BlobNotFound: when nothing is stored under `key`.
        """

    def delete(self, key: str) -> None:
        """Remove the blob; removing a missing blob is not an error."""

    def copy(self, key: str, to_key: str) -> None:
        """Copy the blob at `key` to `to_key` inside the store (no bytes through the app), replacing any blob there.

        :raises BlobNotFound: when nothing is stored under `key`.
        """

    def upload_target(self, key: str, content_type: str, size: int, sha256_b64: str,
                      expires_in: int = 300) -> UploadTarget:
        """Return where the device PUTs the blob and the headers it must send."""

    def download_url(self, key: str, filename: str, content_type: str, expires_in: int = 300) -> str | None:
        """Return a short-lived URL that downloads the blob, or None when the app must serve it."""


def validate_key(key: object) -> str:
    """Return `key` when it is `evidence/<uuid>/<uuid>` or `evidence/final/<uuid>/<uuid>` (lower-case UUIDs).

    :raises ValueError: for anything else (user filenames, paths, traversal, absolute paths).
    """
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise ValueError(f"not an evidence key (evidence/[final/]<uuid>/<uuid>): {key!r}")
    return key


def validate_upload_key(key: object) -> str:
    """Return `key` when a device may upload to it: an evidence key that is not a final one.

    :raises ValueError: for a final key (verified files are never written over) or a malformed one.
    """
    if validate_key(key).startswith(FINAL_PREFIX):
        raise ValueError(f"no upload target is made for a final key: {key!r}")
    return key


def validate_content_type(content_type: object) -> str:
    """Return `content_type` when it is a plain `type/subtype[; params]` header value.

    :raises ValueError: when it is empty, not type/subtype, or holds control characters.
    """
    if (not isinstance(content_type, str) or "/" not in content_type or len(content_type) > 255
            or not content_type.isascii() or not content_type.isprintable()):
        raise ValueError(f"not a content type: {content_type!r}")
    return content_type


def validate_upload(size: object, sha256_b64: object, expires_in: object) -> None:
    """Check the upload target arguments: size >= 0, a base64 SHA-256, a sane expiry.

    :raises ValueError: when any of them is malformed.
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"size must be a whole number of bytes, not {size!r}")
    try:
        digest = base64.b64decode(sha256_b64, validate=True) if isinstance(sha256_b64, str) else b""
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 32:
        raise ValueError("sha256_b64 must be the base64 of a 32-byte SHA-256 digest")
    check_expires_in(expires_in)


def check_expires_in(expires_in: object) -> int:
    """Return `expires_in` when it is 1 second to 7 days.

    :raises ValueError: otherwise.
    """
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or not 0 < expires_in <= MAX_EXPIRES_IN:
        raise ValueError(f"expires_in must be 1..{MAX_EXPIRES_IN} seconds, not {expires_in!r}")
    return expires_in


def safe_filename(filename: object) -> str:
    """Return a download filename of [A-Za-z0-9._-] only, at most 100 characters, never hidden.

    Falls back to "evidence" when nothing usable is left.
    """
    name = _UNSAFE_FILENAME_CHARS.sub("", filename if isinstance(filename, str) else "").lstrip(".")
    if len(name) > FILENAME_MAX:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext) <= 10:
            name = stem[: FILENAME_MAX - len(ext) - 1] + "." + ext
        else:
            name = name[:FILENAME_MAX]
    return name if name.strip("._-") else FALLBACK_FILENAME


def browser_origins(config: dict) -> tuple[str, ...]:
    """Origins a browser talks to for evidence besides the app itself: the S3 endpoint in S3 mode.

    Presigned URLs go to the configured endpoint (path style), or on AWS to the bucket's virtual
    host; both AWS forms are listed because botocore picks the global one for presigning.
    """
    if config.get("EVIDENCE_STORE") != "s3":
        return ()
    endpoint = config.get("S3_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(str(endpoint))
        return (f"{parts.scheme}://{parts.netloc}",)
    bucket, region = config["S3_BUCKET"], config.get("S3_REGION") or "us-east-1"
    return (f"https://{bucket}.s3.amazonaws.com", f"https://{bucket}.s3.{region}.amazonaws.com")


def upload_headers(content_type: str, sha256_b64: str) -> dict[str, str]:
    """Return the headers a device sends with its upload PUT (the same for every store).

    S3 refuses a body whose SHA-256 differs from the signed `x-amz-checksum-sha256`; the algorithm
    header (PutObject's ChecksumAlgorithm) makes S3-compatible stores that would otherwise ignore
    the checksum keep it, so their HEAD reports it as AWS's does.
    """
    return {"Content-Type": content_type, "x-amz-checksum-sha256": sha256_b64, "x-amz-sdk-checksum-algorithm": "SHA256"}


def trusts_checksums(config: dict) -> bool:
    """Whether confirm may take the store's own SHA-256 instead of reading the object back.

    S3_TRUST_CHECKSUMS when set; otherwise yes on AWS (no S3_ENDPOINT_URL), which refuses a PUT
    whose bytes differ from the signed checksum, and no on other endpoints: moto, for one, keeps
    whatever checksum the uploader claims without checking it.
    """
    explicit = config.get("S3_TRUST_CHECKSUMS")
    return bool(explicit) if explicit is not None else not config.get("S3_ENDPOINT_URL")


def build_blob_store(config: dict, s3_client=None) -> BlobStore:
    """Return the store that EVIDENCE_STORE names; builds no S3 client when `s3_client` is given.

    :raises ValueError: when EVIDENCE_STORE is neither "local" nor "s3".
    """
    # Imported here, not at the top: both modules import the contract from this package, and the
    # local store should not pull in boto3.
    kind = config.get("EVIDENCE_STORE", "local")
    if kind == "local":
        from .local import LocalBlobStore

        return LocalBlobStore(Path(config["EVIDENCE_DIR"]))
    if kind == "s3":
        from .s3 import S3BlobStore, make_s3_client

        return S3BlobStore(s3_client if s3_client is not None else make_s3_client(config), config["S3_BUCKET"],
                           trust_checksums=trusts_checksums(config))
    raise ValueError(f"EVIDENCE_STORE must be 'local' or 's3', not {kind!r}")


def init_app(app: Flask) -> None:
    """Build the app's one BlobStore (and its one S3 client) into app.extensions; no network call."""
    app.extensions[EXTENSION_KEY] = build_blob_store(app.config)


def get_blob_store(app: Flask | None = None) -> BlobStore:
    """Return the BlobStore of `app`, or of the current app."""
    return (app if app is not None else current_app).extensions[EXTENSION_KEY]
