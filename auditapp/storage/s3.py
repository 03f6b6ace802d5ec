"""S3 BlobStore: evidence objects in one bucket of any S3-compatible endpoint, through boto3.

Layer: models (storage). One boto3 client per app, built by `make_s3_client` from `init_app`;
credentials come from boto3's own chain (environment, shared files, instance role), never from our
config. In S3 mode no evidence bytes pass through Flask: devices PUT to a presigned URL and
download from a presigned GET. The presigned PUT signs the SHA-256 and the length, so AWS S3 itself
refuses other bytes; with `trust_checksums` HEAD reports the SHA-256 S3 checked, and confirm reads
no more than the first bytes. Without it (the default off AWS) the app re-hashes every upload
(`scan`), because an S3 emulator such as moto keeps a claimed checksum unchecked (RECIPES.md §4).
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
from typing import BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..config import DEFAULTS
from . import (PREFIX_BYTES, BlobInfo, BlobNotFound, BlobScan, BlobStoreUnavailable, UploadTarget,
               check_expires_in, safe_filename, upload_headers, validate_content_type, validate_key,
               validate_upload, validate_upload_key)

CHUNK = 1024 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound"}  # HEAD of a missing bucket is a bare 404 too
# What a browser sends with a presigned PUT: the content type and the signed checksum header.
CORS_ALLOWED_HEADERS = ["content-type", "x-amz-checksum-sha256", "x-amz-sdk-checksum-algorithm"]


def make_s3_client(config: dict):
    """Return the app's S3 client for S3_REGION and S3_ENDPOINT_URL (no request is sent).

    Every call is bounded so a silent store cannot hold a worker: S3_CONNECT_TIMEOUT_SECONDS to
    connect, S3_READ_TIMEOUT_SECONDS for each wait on the socket (not the whole transfer), and
    S3_MAX_ATTEMPTS attempts in all (botocore's "standard" retries, with its short jittered backoff).
    The defaults give up on a frozen store in about 7 s; the caller then answers 503.
    botocore does not check downloads against the store's checksum (`when_required`): the app
    hashes what it reads itself, against the registered SHA-256, and a store such as moto may hold
    a claimed checksum that botocore would turn from "wrong bytes" into a transport error.
    """
    def setting(name: str) -> float:
        value = config.get(name)
        return float(DEFAULTS[name] if value is None else value)

    return boto3.client(
        "s3",
        region_name=config.get("S3_REGION") or None,
        endpoint_url=config.get("S3_ENDPOINT_URL") or None,
        config=Config(signature_version="s3v4",
                      # total_max_attempts counts the first try; botocore's max_attempts would count retries only
                      retries={"total_max_attempts": int(setting("S3_MAX_ATTEMPTS")), "mode": "standard"},
                      connect_timeout=setting("S3_CONNECT_TIMEOUT_SECONDS"),
                      read_timeout=setting("S3_READ_TIMEOUT_SECONDS"),
                      response_checksum_validation="when_required"),
    )


class S3BlobStore:
    """Keep blobs as objects in `bucket`; the client is shared, never built per call.

    `trust_checksums`: the store checks an upload's `x-amz-checksum-sha256` against its bytes (AWS
    S3 does), so `head` may report the SHA-256 it keeps. Never set it for a store that only records
    the header (moto): a device could then vouch for bytes that changed on the way.
    """

    def __init__(self, client, bucket: str, *, trust_checksums: bool = False) -> None:
        self.client = client
        self.bucket = bucket
        self.trust_checksums = trust_checksums

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing any object already there."""
        validate_key(key)
        validate_content_type(content_type)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(data), ContentType=content_type)

    def head(self, key: str) -> BlobInfo | None:
        """Return the object's size and content type, or None when nothing is stored under `key`.

        A HEAD has no error body, so a missing bucket also reads as None.
        """
        validate_key(key)
        extra = {"ChecksumMode": "ENABLED"} if self.trust_checksums else {}
        try:
            with _reachable():
                meta = self.client.head_object(Bucket=self.bucket, Key=key, **extra)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        return BlobInfo(size=int(meta["ContentLength"]),
                        content_type=meta.get("ContentType") or "application/octet-stream",
                        modified_at=meta.get("LastModified"),
                        sha256_hex=_whole_object_sha256(meta) if self.trust_checksums else None)

    def read(self, key: str) -> bytes:
        """Return the object's bytes.

        :raises BlobNotFound: when nothing is stored under `key`.
        """
        with self._body(key) as body:
            return body.read()

    def sha256_hex(self, key: str) -> str:
        """Return the hex SHA-256 of the stored bytes, streamed in 1 MiB chunks.

        :raises BlobNotFound: when nothing is stored under `key`.
        """
        digest = hashlib.sha256()
        with self._body(key) as body:
            for chunk in body.iter_chunks(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def scan(self, key: str, prefix_bytes: int = PREFIX_BYTES, max_bytes: int | None = None) -> BlobScan:
        """Stream the object once in 1 MiB chunks: size, write time, hex SHA-256 and its first bytes.

        One GET: its headers give the size and write time, so an object larger than `max_bytes`
        is closed unread (a HEAD first would cost every confirm a round trip).
        :raises BlobNotFound: when nothing is stored under `key`.
        :raises BlobStoreUnavailable: when the endpoint cannot be reached or fails mid-stream.
        """
        validate_key(key)
        response = self._get(key)
        body, modified_at = response["Body"], response.get("LastModified")
        digest, size, prefix = hashlib.sha256(), 0, b""
        with contextlib.closing(body), _reachable():
            if max_bytes is not None and int(response["ContentLength"]) > max_bytes:
                return BlobScan(size=int(response["ContentLength"]), sha256_hex=None, prefix=b"", modified_at=modified_at)
            for chunk in body.iter_chunks(CHUNK):
                if len(prefix) < prefix_bytes:
                    prefix += chunk[: prefix_bytes - len(prefix)]
                digest.update(chunk)
                size += len(chunk)
        return BlobScan(size=size, sha256_hex=digest.hexdigest(), prefix=prefix, modified_at=modified_at)

    def read_prefix(self, key: str, prefix_bytes: int = PREFIX_BYTES) -> bytes:
        """Return the object's first `prefix_bytes` bytes with one ranged GET.

        :raises BlobNotFound: when nothing is stored under `key`.
        """
        validate_key(key)
        try:
            with _reachable():
                try:
                    body = self.client.get_object(Bucket=self.bucket, Key=key,
                                                  Range=f"bytes=0-{prefix_bytes - 1}")["Body"]
                except ClientError as exc:  # 416: an empty object has no byte 0, so S3 refuses the range
                    if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                        return b""
                    raise
        except ClientError:  # only a missing key gets through _reachable
            raise BlobNotFound(key) from None
        with contextlib.closing(body), _reachable():
            return body.read(prefix_bytes)

    def open(self, key: str) -> BinaryIO:
        """Return the object's streaming body; the caller closes it.

        :raises BlobNotFound: when nothing is stored under `key`.
        """
        validate_key(key)
        return self._get(key)["Body"]

    def delete(self, key: str) -> None:
        """Remove the object; S3 answers 204 for a missing key too."""
        validate_key(key)
        with _reachable():
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def copy(self, key: str, to_key: str) -> None:
        """Copy the object to `to_key` with one server-side CopyObject; no bytes pass through the app.

        In a store trusted for checksums the copy gets a SHA-256 of its own, which S3 computes.
        :raises BlobNotFound: when nothing is stored under `key`.
        """
        validate_key(key)
        validate_key(to_key)
        extra = {"ChecksumAlgorithm": "SHA256"} if self.trust_checksums else {}
        try:
            with _reachable():
                self.client.copy_object(Bucket=self.bucket, Key=to_key,
                                        CopySource={"Bucket": self.bucket, "Key": key}, **extra)
        except ClientError:  # only a missing key gets through _reachable
            raise BlobNotFound(key) from None

    def ensure_bucket(self, region: str | None) -> bool:
        """Create the bucket in `region` when it does not exist; True when it was created.

        :raises BlobStoreUnavailable: the store cannot be reached or refuses (e.g. the name is taken by another account).
        """
        try:
            with _reachable():
                self.client.head_bucket(Bucket=self.bucket)
            return False
        except ClientError:  # 404: only a missing bucket gets through _reachable
            pass
        where = {"CreateBucketConfiguration": {"LocationConstraint": region}} if region and region != "us-east-1" else {}
        with _reachable():
            self.client.create_bucket(Bucket=self.bucket, **where)
        return True

    def allow_browser_uploads(self, origins: list[str]) -> dict:
        """Set the bucket's CORS rules so pages from `origins` may PUT and GET presigned URLs; return them."""
        rules = {"CORSRules": [{"AllowedOrigins": list(origins), "AllowedMethods": ["PUT", "GET"],
                                "AllowedHeaders": CORS_ALLOWED_HEADERS, "ExposeHeaders": ["ETag"],
                                "MaxAgeSeconds": 3000}]}
        with _reachable():
            self.client.put_bucket_cors(Bucket=self.bucket, CORSConfiguration=rules)
        return rules

    def upload_target(self, key: str, content_type: str, size: int, sha256_b64: str,
                      expires_in: int = 300) -> UploadTarget:
        """Return a presigned PUT that signs the content type, the length and the SHA-256 checksum header.

        Real S3 then refuses a body of another length or hash (the browser sends Content-Length
        itself); confirm checks both again, since other stores may not.
        """
        validate_upload_key(key)
        validate_content_type(content_type)
        validate_upload(size, sha256_b64, expires_in)
        with _reachable():  # presigning makes no request, but needs credentials (NoCredentialsError)
            url = self.client.generate_presigned_url(
                "put_object", ExpiresIn=expires_in, HttpMethod="PUT",
                Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type, "ContentLength": size,
                        "ChecksumSHA256": sha256_b64, "ChecksumAlgorithm": "SHA256"},
            )
        return UploadTarget(method="PUT", url=url, headers=upload_headers(content_type, sha256_b64))

    def download_url(self, key: str, filename: str, content_type: str, expires_in: int = 300) -> str | None:
        """Return a presigned GET that downloads the object as an attachment with a safe filename."""
        validate_key(key)
        validate_content_type(content_type)
        check_expires_in(expires_in)
        with _reachable():
            return self.client.generate_presigned_url(
                "get_object", ExpiresIn=expires_in,
                Params={"Bucket": self.bucket, "Key": key, "ResponseContentType": content_type,
                        "ResponseContentDisposition": f'attachment; filename="{safe_filename(filename)}"'},
            )

    @contextlib.contextmanager
    def _body(self, key: str):
        """Yield the object's streaming body and always close it (an open body leaks a socket)."""
        validate_key(key)
        body = self._get(key)["Body"]
        try:
            yield body
        finally:
            body.close()

    def _get(self, key: str) -> dict:
        try:
            with _reachable():
                return self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):  # NoSuchBucket is a configuration fault, not a missing blob
                raise BlobNotFound(key) from None
            raise


@contextlib.contextmanager
def _reachable():
    """Turn "cannot talk to the store" into BlobStoreUnavailable; a missing key stays a ClientError.

    Connection failures, timeouts and missing credentials are BotoCoreErrors; 5xx answers,
    throttling and refusals (expired credentials, a deleted bucket) are ClientErrors.
    """
    try:
        yield
    except BotoCoreError as exc:
        raise BlobStoreUnavailable(f"the S3 endpoint cannot be reached: {exc}") from exc
    except ClientError as exc:
        if _is_missing(exc):
            raise
        raise BlobStoreUnavailable(f"the S3 endpoint refused: {exc}") from exc


def _whole_object_sha256(meta: dict) -> str | None:
    """The hex SHA-256 of the whole object from a HEAD with ChecksumMode=ENABLED, or None.

    None when the store keeps no SHA-256, or only a multipart upload's checksum of part checksums
    (COMPOSITE, "<b64>-<parts>"), which is not the SHA-256 of the bytes.
    """
    value = meta.get("ChecksumSHA256")
    if not isinstance(value, str) or meta.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
        return None
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest.hex() if len(digest) == 32 else None


def _is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING
