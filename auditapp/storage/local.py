"""Local filesystem BlobStore: evidence files under one folder (EVIDENCE_DIR), the default store.

Layer: models (storage). The app serves and receives these files through its own authorised
routes, so `upload_target` has no URL and `download_url` is None. Each blob is two files: the bytes
at `<root>/<key>` and its content type in a `<key>.content-type` sidecar (a name no valid key can
take). Writes go to a temporary file that is renamed into place, so a reader never sees half a blob,
and a write never changes a file already in place: `copy` hard-links the file to its new name, so
the copy keeps the bytes it had whatever is later written under the old key.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from .. import clock
from . import (PREFIX_BYTES, BlobInfo, BlobNotFound, BlobScan, BlobTooLarge, UploadTarget, check_expires_in,
               upload_headers, validate_content_type, validate_key, validate_upload, validate_upload_key)

DEFAULT_CONTENT_TYPE = "application/octet-stream"
CHUNK = 1024 * 1024
_META_SUFFIX = ".content-type"


class LocalBlobStore:
    """Keep blobs as files under `root`; no key can name a path outside it."""

    trust_checksums = False  # no checksum is kept: confirm hashes the file (a local read)

    def __init__(self, root: Path) -> None:
        # Nothing is created here: the factory has no side effects. `put` makes folders on demand.
        self.root = Path(root)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing any blob already there."""
        path = self._path(key)
        validate_content_type(content_type)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path(key)  # re-check now the folders exist: a symlinked folder must not lead outside
        _atomic_write(path.with_name(path.name + _META_SUFFIX), content_type.encode("ascii"))
        _atomic_write(path, bytes(data))

    def head(self, key: str) -> BlobInfo | None:
        """Return the blob's size and content type, or None when nothing is stored under `key`."""
        path = self._path(key)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        try:
            content_type = path.with_name(path.name + _META_SUFFIX).read_text("ascii")
        except FileNotFoundError:
            content_type = DEFAULT_CONTENT_TYPE
        return BlobInfo(size=stat.st_size, content_type=content_type,
                        modified_at=datetime.fromtimestamp(stat.st_mtime, timezone.utc))

    def put_stream(self, key: str, stream: BinaryIO, content_type: str, max_bytes: int) -> int:
        """Copy `stream` to `key` in chunks, never holding the body in memory; return the bytes written.

        Written to a temporary file and renamed into place only when complete. Devices upload only
        to upload keys, never to a final key.
        :raises BlobTooLarge: when the stream holds more than `max_bytes` (nothing is stored).
        """
        path = self._path(validate_upload_key(key))
        validate_content_type(content_type)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path(key)  # re-check now the folders exist: a symlinked folder must not lead outside
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
        written = 0
        try:
            with os.fdopen(fd, "wb") as f:
                while chunk := stream.read(min(CHUNK, max_bytes + 1 - written)):
                    written += len(chunk)
                    if written > max_bytes:
                        raise BlobTooLarge(f"more than {max_bytes} bytes")
                    f.write(chunk)
            _atomic_write(path.with_name(path.name + _META_SUFFIX), content_type.encode("ascii"))
            _stamp(tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return written

    def read(self, key: str) -> bytes:
        """Return the blob's bytes.

        :raises BlobNotFound: when nothing is stored under `key`.
        """
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def sha256_hex(self, key: str) -> str:
        """Return the hex SHA-256 of the stored bytes, read in chunks.

        :raises BlobNotFound: when nothing is stored under `key`.
        """
        try:
            with self._path(key).open("rb") as f:
                return hashlib.file_digest(f, "sha256").hexdigest()
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def scan(self, key: str, prefix_bytes: int = PREFIX_BYTES, max_bytes: int | None = None) -> BlobScan:
        """Read the file once in chunks: size, write time, hex SHA-256 and its first bytes.

        A file larger than `max_bytes` is not read: only its size and write time come back.
        :raises BlobNotFound: when nothing is stored under `key`.
        """
        digest, size, prefix = hashlib.sha256(), 0, b""
        with self.open(key) as f:
            stat = os.fstat(f.fileno())
            modified_at = datetime.fromtimestamp(stat.st_mtime, timezone.utc)
            if max_bytes is not None and stat.st_size > max_bytes:
                return BlobScan(size=stat.st_size, sha256_hex=None, prefix=b"", modified_at=modified_at)
            while chunk := f.read(CHUNK):
                if len(prefix) < prefix_bytes:
                    prefix += chunk[: prefix_bytes - len(prefix)]
                digest.update(chunk)
                size += len(chunk)
        return BlobScan(size=size, sha256_hex=digest.hexdigest(), prefix=prefix, modified_at=modified_at)

    def read_prefix(self, key: str, prefix_bytes: int = PREFIX_BYTES) -> bytes:
        """Return the file's first `prefix_bytes` bytes.

        :raises BlobNotFound: when nothing is stored under `key`.
        """
        with self.open(key) as f:
            return f.read(prefix_bytes)

    def open(self, key: str) -> BinaryIO:
        """Return the file opened for reading; the caller closes it.

        :raises BlobNotFound: when nothing is stored under `key`.
        """
        try:
            return self._path(key).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def delete(self, key: str) -> None:
        """Remove the blob and its sidecar; removing a missing blob is not an error."""
        path = self._path(key)
        path.unlink(missing_ok=True)
        path.with_name(path.name + _META_SUFFIX).unlink(missing_ok=True)

    def copy(self, key: str, to_key: str) -> None:
        """Give the file a second name `to_key` (a hard link: no bytes copied; a copy where links are not
        supported), replacing any blob there.

        Every write renames a new file into place, so a later upload to `key` leaves `to_key` as it is.
        :raises BlobNotFound: when nothing is stored under `key`.
        """
        source, target = self._path(key), self._path(to_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        target = self._path(to_key)  # re-check now the folders exist: a symlinked folder must not lead outside
        content_type = self.head(key)
        if content_type is None:
            raise BlobNotFound(key)
        _atomic_write(target.with_name(target.name + _META_SUFFIX), content_type.content_type.encode("ascii"))
        link = target.with_name(f".{target.name}.{secrets.token_hex(8)}.link")
        try:
            try:
                os.link(source, link)
            except FileNotFoundError:
                raise
            except OSError:  # a filesystem without hard links: copy the bytes (and the write time) instead
                shutil.copy2(source, link)
        except FileNotFoundError:
            Path(link).unlink(missing_ok=True)
            raise BlobNotFound(key) from None
        os.replace(link, target)

    def upload_target(self, key: str, content_type: str, size: int, sha256_b64: str,
                      expires_in: int = 300) -> UploadTarget:
        """Return a PUT target with no URL: `url=None` means the app's own evidence route."""
        validate_upload_key(key)
        self._path(key)
        validate_content_type(content_type)
        validate_upload(size, sha256_b64, expires_in)
        return UploadTarget(method="PUT", url=None, headers=upload_headers(content_type, sha256_b64))

    def download_url(self, key: str, filename: str, content_type: str, expires_in: int = 300) -> str | None:
        """Return None: local blobs are served through the app's authorised evidence route."""
        self._path(key)
        validate_content_type(content_type)
        check_expires_in(expires_in)
        return None

    def _path(self, key: str) -> Path:
        """Return the file for `key`, resolved, after checking it stays under the root.

        :raises ValueError: for a malformed key or one that resolves outside the root.
        """
        validate_key(key)
        root = self.root.resolve()
        path = (root / key).resolve()
        if not path.is_relative_to(root) or path == root:
            raise ValueError(f"evidence key resolves outside the store: {key!r}")
        return path


def _stamp(path: str) -> None:
    """Set the file's write time from the app's clock: confirm compares it with upload expiries set by that clock
    (the kernel's time is another clock, which a frozen clock or libfaketime does not move)."""
    moment = clock.now().timestamp()
    os.utime(path, (moment, moment))


def _atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        _stamp(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
