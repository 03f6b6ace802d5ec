"""Evidence bytes: upload targets, the local upload, confirm (the server's own verification),
viewing and purge. Metadata (register, withdraw, counts) is services/evidence.py.

Confirm never trusts the device: the store tells the object's size and write time, and its SHA-256
comes either from the store itself or from streaming the object once (`_look`). Only a store trusted
for checksums (AWS S3: it refuses a presigned PUT whose bytes differ from the signed
`x-amz-checksum-sha256`) is believed about the SHA-256, and then only the first bytes of a large
file are read; moto, for one, keeps a claimed checksum without checking it. The type is the magic
number of the bytes, never the declared media type or the PUT's Content-Type.

Verified means immutable on any store: confirm first copies the upload inside the store to a final
key (`evidence/final/...`) that no upload URL can reach, checks that copy, records it in
`final_key` and deletes the upload key; viewing serves only the final key. An old presigned PUT
(which a store that ignores signed checksums or expiry still honours) can only write to the upload
key, which nothing reads any more. Purge deletes both keys.
"""
from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import clock
from ..models import Audit, Evidence, VisitAssignment
from ..models.people import Actor
from ..storage import BlobNotFound, BlobScan, BlobStore, BlobStoreUnavailable, BlobTooLarge, UploadTarget
from . import audit_log
from .access import capture_state
from .changes import log_changes
from .errors import Conflict, DomainError, NotFound
from .evidence import MEDIA_LABELS, final_storage_key, may_view

DEFAULT_TTL_SECONDS = 300
MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"%PDF-", "application/pdf"))
RETRY_CODES = ("evidence.not_uploaded", "evidence.checksum_mismatch", "evidence.size_mismatch",
               "evidence.target_expired")
UNAVAILABLE = "evidence.store_unavailable"
# Up to this size confirm reads the whole file even from a store trusted for checksums: one GET of
# a photo costs less than a HEAD plus a ranged GET (two round trips), and hashes it as well.
READ_WHOLE_UP_TO = 1024 * 1024


class TooLarge(DomainError):
    status = 413


class StoreUnavailable(DomainError):
    status = 503


def sniff_media_type(prefix: bytes) -> str | None:
    """The media type the bytes themselves announce (JPEG, PNG, PDF), or None."""
    return next((media_type for magic, media_type in MAGIC if prefix.startswith(magic)), None)


@dataclass(frozen=True)
class IssuedTarget:
    evidence: Evidence
    target: UploadTarget  # url None: the app's own upload route (local store)
    expires_at: datetime


@dataclass(frozen=True)
class Confirmation:
    """What confirm decided: `verified` or `rejected` (final), or `expected` with a code to retry on."""

    status: str
    code: str | None = None
    message: str | None = None


def writable_evidence(session: Session, actor: Actor, evidence_id: uuid.UUID, *, lock: bool = False) -> Evidence:
    """The evidence row, if `actor` may upload to it (the capture rules of its audit).

    :raises evidence.not_found: not registered (yet: push first), or on an audit that is not the user's to
        change (the same answer: a stranger does not learn which files exist).
    :raises audit.finalised: the audit is finalised.
    :raises evidence.purged: the file was deleted under the retention policy.
    """
    # One query for the row and what access.capture_state needs; audit_access would also load the
    # ~40 KB template.
    query = (select(Evidence, Audit.status, Audit.audit_type, VisitAssignment.user_id)
             .join(Audit, Audit.id == Evidence.audit_id)
             .outerjoin(VisitAssignment, (VisitAssignment.visit_id == Audit.visit_id)
                        & (VisitAssignment.user_id == actor.id))
             .where(Evidence.id == evidence_id))
    found = session.execute(query.with_for_update(of=Evidence) if lock else query).first()
    row, audit_status, audit_type, assigned = found or (None, None, None, None)
    state = row and capture_state(actor, audit_type, audit_status, assigned is not None)
    if row is None or state == "forbidden":
        raise NotFound("evidence.not_found", "This evidence is not registered on the server yet; sync first")
    if state == "finalised":
        raise Conflict("audit.finalised", "This audit is finalised and cannot change")
    if row.purged_at is not None:
        raise Conflict("evidence.purged", "This file was deleted under the retention policy")
    return row


def issue_upload_target(session: Session, actor: Actor, store: BlobStore, evidence_id: uuid.UUID,
                        ttl_seconds: int = DEFAULT_TTL_SECONDS) -> IssuedTarget:
    """Where the device uploads the file now; valid for `ttl_seconds`.

    :raises evidence.already_verified, evidence.withdrawn, evidence.rejected: nothing to upload.
    :raises evidence.store_unavailable: the store could not make a target.
    """
    row = writable_evidence(session, actor, evidence_id, lock=True)
    _refuse_if_settled(row)
    expires_at = clock.now() + timedelta(seconds=ttl_seconds)
    sha256_b64 = base64.b64encode(bytes.fromhex(row.sha256)).decode("ascii")
    try:
        target = store.upload_target(row.storage_key, row.media_type, row.size_bytes, sha256_b64, expires_in=ttl_seconds)
    except BlobStoreUnavailable:
        raise StoreUnavailable(UNAVAILABLE, "The file store cannot be reached; try again later") from None
    row.upload_expires_at = expires_at
    return IssuedTarget(row, target, expires_at)


def receive_upload(session: Session, actor: Actor, store, evidence_id: uuid.UUID, stream: BinaryIO,
                   content_length: int | None, valid_until: datetime) -> int:
    """Store an upload sent to the app itself (local store), streamed to disk, capped at the registered size.

    `valid_until` is the expiry signed into the upload URL. Confirm still does all the checking.
    :raises evidence.target_expired: the upload URL has expired.
    :raises evidence.too_large: more bytes than were registered (nothing is stored).
    """
    row = writable_evidence(session, actor, evidence_id)
    _refuse_if_settled(row)
    if clock.now() > valid_until:
        raise Conflict("evidence.target_expired", "This upload link has expired; ask for a new one")
    too_large = TooLarge("evidence.too_large", f"The file is larger than the {row.size_bytes} bytes registered",
                         {"size_bytes": row.size_bytes})
    if content_length is not None and content_length > row.size_bytes:
        raise too_large
    try:
        written = store.put_stream(row.storage_key, stream, row.media_type, max_bytes=row.size_bytes)
    except BlobTooLarge:
        raise too_large from None
    row.uploaded_at = clock.now()
    return written


def confirm_upload(session: Session, actor: Actor, store: BlobStore, evidence_id: uuid.UUID) -> Confirmation:
    """Check the uploaded object and settle the evidence: verified, rejected, or still expected.

    Still expected (retry with a new target) when nothing was uploaded, it was uploaded after its
    target expired, or its size or SHA-256 differ; the bad object is deleted. Rejected, for good,
    when the bytes are not the registered type. Expected with `evidence.store_unavailable` when
    the store cannot be reached; the status does not change.
    :raises evidence.withdrawn: the file was withdrawn.
    """
    row = writable_evidence(session, actor, evidence_id, lock=True)
    if row.status == "verified":
        return Confirmation("verified")
    if row.status == "rejected":
        return Confirmation("rejected", row.rejection_code, row.rejection_reason)
    if row.status == "withdrawn":
        raise Conflict("evidence.withdrawn", "This file was withdrawn")
    now, final_key = clock.now(), final_storage_key(row.audit_id, row.id)
    try:
        problem, written_at = _inspect(store, row, final_key)
        if problem is not None:
            _discard(store, row.storage_key, final_key)
    except BlobStoreUnavailable:
        row.last_error, row.last_error_at = UNAVAILABLE, now
        return Confirmation("expected", UNAVAILABLE, "The file store cannot be reached; the file waits on the device")
    if problem is None:
        row.final_key = final_key
        _settle(session, actor, row, "verified", now, uploaded_at=written_at)
        _discard(store, row.storage_key)  # if the store fails now, purge deletes it with the final key
        return Confirmation("verified")
    code, message = problem
    if code == "evidence.wrong_type":
        row.rejection_code, row.rejection_reason = code, message
        _settle(session, actor, row, "rejected", now)
        return Confirmation("rejected", code, message)
    row.last_error, row.last_error_at = code, now
    audit_log.record(session, actor, "evidence.upload_refused", "evidence", row.id, after={"code": code})
    return Confirmation("expected", code, message)


def _refuse_if_settled(row: Evidence) -> None:
    if row.status == "verified":
        raise Conflict("evidence.already_verified", "This file has already been received and checked")
    if row.status == "withdrawn":
        raise Conflict("evidence.withdrawn", "This file was withdrawn")
    if row.status == "rejected":
        raise Conflict("evidence.rejected", row.rejection_reason or "This file was rejected")


def _inspect(store: BlobStore, row: Evidence, final_key: str) -> tuple[tuple[str, str] | None, datetime | None]:
    """(problem code and message, or None; when the store wrote the upload).

    The upload's write time and size come from a HEAD; then it is copied to `final_key` inside the
    store and the copy is what is checked, so the bytes verified are the bytes kept, whatever is
    PUT to the upload key meanwhile.
    """
    not_uploaded = ("evidence.not_uploaded", "No file has been uploaded; ask for a target and upload it"), None
    info = store.head(row.storage_key)
    if info is None:
        return not_uploaded
    if row.upload_expires_at is None or (info.modified_at is not None and info.modified_at > row.upload_expires_at):
        return ("evidence.target_expired", "The file arrived after its upload link expired; upload it again"), None
    if info.sha256_hex is not None and info.sha256_hex != row.sha256:  # a store trusted for checksums: no copy
        found = BlobScan(info.size, info.sha256_hex, b"", info.modified_at)
    elif info.size == row.size_bytes:
        try:
            store.copy(row.storage_key, final_key)
        except BlobNotFound:
            return not_uploaded
        found = _look(store, row, final_key)
    else:
        found = BlobScan(info.size, None, b"", info.modified_at)
    if found is None:
        return not_uploaded
    problem = _check(row, found)
    return problem, (info.modified_at if problem is None else None)


def finalise_verified(store: BlobStore, row: Evidence) -> str:
    """The final key of a verified file, moving one verified before final keys existed (its bytes checked again).

    :raises evidence.altered: the stored bytes are no longer those verified (nothing is served).
    :raises evidence.missing: the file is not in the store.
    :raises evidence.store_unavailable: the store cannot be reached.
    """
    if row.final_key is not None:
        return row.final_key
    final_key = final_storage_key(row.audit_id, row.id)
    try:
        try:
            store.copy(row.storage_key, final_key)
        except BlobNotFound:  # already moved by a view whose transaction did not commit: check that copy
            pass
        found = _look(store, row, final_key)
        if found is not None and _check(row, found) is not None:
            _discard(store, final_key)
    except BlobStoreUnavailable:
        raise StoreUnavailable(UNAVAILABLE, "The file store cannot be reached; try again later") from None
    if found is None:
        raise NotFound("evidence.missing", "The file is missing from the store; contact the AP team")
    if _check(row, found) is not None:
        raise Conflict("evidence.altered", "The stored file is no longer the one checked on upload; contact the AP team")
    row.final_key = final_key
    _discard(store, row.storage_key)
    return final_key


def _check(row: Evidence, found: BlobScan) -> tuple[str, str] | None:
    if found.size != row.size_bytes:
        return ("evidence.size_mismatch", f"{found.size} bytes arrived, not the {row.size_bytes} registered")
    if found.sha256_hex != row.sha256:
        return ("evidence.checksum_mismatch", "The file changed on the way (its SHA-256 differs); upload it again")
    actual = sniff_media_type(found.prefix)
    if actual != row.media_type:
        label = MEDIA_LABELS.get(actual, "another kind of file")
        return ("evidence.wrong_type",
                f"The file is not a {MEDIA_LABELS.get(row.media_type, row.media_type)}: its contents are {label}")
    return None


def _look(store: BlobStore, row: Evidence, key: str) -> BlobScan | None:
    """The object's size, write time, SHA-256 and first bytes, in as few requests as the store allows; None if absent.

    A large file in a store trusted for checksums: HEAD gives the SHA-256 the store checked, then
    16 bytes are read for the type (nothing more when size or hash are already wrong). Otherwise,
    or when the store kept no SHA-256, one GET streams the object through the hash; a small file is
    read whole anyway, as one GET costs less than a HEAD and a ranged GET.
    """
    try:
        if store.trust_checksums and row.size_bytes > READ_WHOLE_UP_TO:
            info = store.head(key)
            if info is None:
                return None
            if info.sha256_hex is not None or info.size != row.size_bytes:
                intact = (info.size, info.sha256_hex) == (row.size_bytes, row.sha256)
                prefix = store.read_prefix(key) if intact else b""
                return BlobScan(info.size, info.sha256_hex, prefix, info.modified_at)
        return store.scan(key, max_bytes=row.size_bytes)
    except BlobNotFound:
        return None


def _discard(store: BlobStore, *keys: str) -> None:
    """Delete refused or spent objects; if the store fails now, the next upload or purge removes them."""
    try:
        for key in keys:
            store.delete(key)
    except BlobStoreUnavailable:
        pass


def _settle(session: Session, actor: Actor, row: Evidence, status: str, now: datetime,
            uploaded_at: datetime | None = None) -> None:
    before = row.status
    row.status, row.version, row.last_error, row.last_error_at = status, row.version + 1, None, None
    if status == "verified":
        row.verified_at, row.uploaded_at = now, uploaded_at or row.uploaded_at or now
    audit_log.record(session, actor, "evidence.verify" if status == "verified" else "evidence.reject", "evidence",
                     row.id, before={"status": before},
                     after={"status": status, "sha256": row.sha256, "size_bytes": row.size_bytes,
                            **({"code": row.rejection_code} if status == "rejected" else {})})
    session.flush()  # the row and the audit-log entry before the change-log lock, so it is held for one insert
    log_changes(session, [{"entity": "evidence", "entity_id": str(row.id), "version": row.version,
                           "audit_id": row.audit_id}])


# ---- viewing ---------------------------------------------------------------------------------

def open_for_viewing(session: Session, actor: Actor, evidence_id: uuid.UUID) -> Evidence:
    """A verified file the user may see; the view is logged.

    :raises evidence.not_found: none, or one the user may not see (the same answer).
    :raises evidence.purged, evidence.not_received:
    """
    row = session.get(Evidence, evidence_id)
    if row is None or not may_view(session, actor, row.audit_id):
        raise NotFound("evidence.not_found", "There is no such evidence")
    if row.purged_at is not None:
        raise Conflict("evidence.purged", "This file was deleted under the retention policy")
    if row.status != "verified":
        raise Conflict("evidence.not_received", "This file has not been received and checked")
    audit_log.record(session, actor, "evidence.viewed", "evidence", row.id,
                     after={"audit_id": str(row.audit_id), "item_key": row.item_key})
    return row


# ---- retention -------------------------------------------------------------------------------

def retention_cutoff(period: str, now: datetime) -> datetime:
    """`now` minus a period like "6y" (calendar years), "8w" or "2192d".

    :raises ValueError: for anything else, or a period of 0.
    """
    match = re.fullmatch(r"(\d{1,5})([ywd])", period.strip().lower()) if isinstance(period, str) else None
    if match is None or int(match[1]) == 0:
        raise ValueError(f"not a retention period like 6y, 8w or 2192d: {period!r}")
    n, unit = int(match[1]), match[2]
    if unit == "y":
        try:
            return now.replace(year=now.year - n)
        except ValueError:  # 29 February in a year that has none
            return now.replace(year=now.year - n, day=28)
    return now - timedelta(days=n * 7 if unit == "w" else n)


@dataclass(frozen=True)
class PurgeItem:
    evidence_id: uuid.UUID
    audit_id: uuid.UUID
    item_key: str
    status: str
    storage_key: str
    finalised_at: datetime
    final_key: str | None = None


@dataclass
class PurgeReport:
    items: list[PurgeItem]
    purged: int = 0
    error: str | None = None


def purge_candidates(session: Session, finalised_before: datetime) -> list[PurgeItem]:
    """Evidence of audits finalised before the cutoff that is not purged yet, oldest audit first."""
    rows = session.execute(select(Evidence.id, Evidence.audit_id, Evidence.item_key, Evidence.status,
                                  Evidence.storage_key, Audit.finalised_at, Evidence.final_key)
                           .join(Audit, Audit.id == Evidence.audit_id)
                           .where(Audit.finalised_at < finalised_before, Evidence.purged_at.is_(None))
                           .order_by(Audit.finalised_at, Evidence.id))
    return [PurgeItem(*row) for row in rows]


def purge_evidence(session: Session, actor: Actor | None, store: BlobStore, finalised_before: datetime,
                   *, dry_run: bool = False) -> PurgeReport:
    """Delete from the store the evidence of audits finalised before the cutoff, and mark the rows.

    Both keys go: the upload key (a spent or refused upload may linger there) and the final key.
    Each purge is logged. The row stays (the audit record keeps that a file existed and its hash)
    but loses its display filename, which may name a person. Stops at the first store failure; what
    was purged before it stays purged.
    """
    report = PurgeReport(purge_candidates(session, finalised_before))
    if dry_run:
        return report
    for item in report.items:
        try:
            for key in (item.storage_key, final_storage_key(item.audit_id, item.evidence_id)):
                store.delete(key)
        except BlobStoreUnavailable as exc:
            report.error = str(exc)
            break
        session.execute(update(Evidence).where(Evidence.id == item.evidence_id)
                        .values(purged_at=clock.now(), filename="purged"))
        audit_log.record(session, actor, "evidence.purge", "evidence", item.evidence_id,
                         before={"status": item.status},
                         after={"storage_key": item.storage_key, "final_key": item.final_key,
                                "finalised_at": item.finalised_at.isoformat()})
        report.purged += 1
    return report
