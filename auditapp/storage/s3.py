"""S3 BlobStore: evidence objects in one bucket of any S3-compatible endpoint, through boto3.

Layer: models (storage). One boto3 client per app, built by `make_s3_client` from `init_app`;
credentials come from boto3's own chain (environment, shared files, instance role), never from our
config. In S3 mode no evidence bytes pass through Flask: devices PUT to a presigned URL and
download from a presigned GET. The app still re-hashes every upload (`sha256_hex`) because an
S3 emulator such as moto accepts a body that does not match the signed checksum (RECIPES.md §4).
"""
from __future__ import annotations

import contextlib
import hashlib
from typing import BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from . import (PREFIX_BYTES, BlobInfo, BlobNotFound, BlobScan, BlobStoreUnavailable, UploadTarget,
               check_expires_in, safe_filename, upload_headers, validate_content_type, validate_key,
               validate_upload)

CHUNK = 1024 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound"}
# What a browser sends with a presigned PUT: the content type and the signed checksum header.
CORS_ALLOWED_HEADERS = ["content-type", "x-amz-checksum-sha256"]


def make_s3_client(config: dict):
    """Return the app's S3 client for S3_REGION and S3_ENDPOINT_URL (no request is sent)."""
    return boto3.client(
        "s3",
        region_name=config.get("S3_REGION") or None,
        endpoint_url=config.get("S3_ENDPOINT_URL") or None,
        config=Config(signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"},
                      connect_timeout=5, read_timeout=30),
    )


class S3BlobStore:
    """Keep blobs as objects in `bucket`; the client is shared, never built per call."""

    def __init__(self, client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

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
        try:
            with _reachable():
                meta = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        return BlobInfo(size=int(meta["ContentLength"]),
                        content_type=meta.get("ContentType") or "application/octet-stream",
                        modified_at=meta.get("LastModified"))

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

    def scan(self, key: str, prefix_bytes: int = PREFIX_BYTES) -> BlobScan:
        """Stream the object once in 1 MiB chunks: size, hex SHA-256 and its first bytes.

        :raises BlobNotFound: when nothing is stored under `key`.
        :raises BlobStoreUnavailable: when the endpoint cannot be reached or fails mid-stream.
        """
        digest, size, prefix = hashlib.sha256(), 0, b""
        with self._body(key) as body, _reachable():
            for chunk in body.iter_chunks(CHUNK):
                if len(prefix) < prefix_bytes:
                    prefix += chunk[: prefix_bytes - len(prefix)]
                digest.update(chunk)
                size += len(chunk)
        return BlobScan(size=size, sha256_hex=digest.hexdigest(), prefix=prefix)

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
        """Return a presigned PUT that signs the content type and the SHA-256 checksum header.

        Real S3 then rejects a body whose hash differs; the size is checked at confirm time.
        """
        validate_key(key)
        validate_content_type(content_type)
        validate_upload(size, sha256_b64, expires_in)
        with _reachable():  # presigning makes no request, but needs credentials (NoCredentialsError)
            url = self.client.generate_presigned_url(
                "put_object", ExpiresIn=expires_in, HttpMethod="PUT",
                Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type, "ChecksumSHA256": sha256_b64},
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


def _is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING
