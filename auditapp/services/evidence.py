"""Evidence metadata: registration and withdrawal (batch-first, as sync carries them), what each
audit has received, what is still outstanding, and who may see it.

The bytes side (upload targets, confirm and verify, viewing, purge) is services/evidence_files.py.
Writes follow the capture rules (services/access.py): the user is assigned to the visit and their
role carries out the audit's type. A registration is the server's promise of what an audit should
have, so it syncs even while the object store is unreachable.
"""
from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists, func, insert, select
from sqlalchemy.orm import Session

from .. import clock
from ..config import DEFAULTS
from ..models import Audit, Evidence, VisitAssignment
from ..models.people import Actor
from ..models.enums import EVIDENCE_MEDIA_TYPES
from . import audit_log
from .access import AuditAccess, audit_access, items_of, sees_detail_of
from .capture import Outcome
from .changes import log_changes
from .errors import NotFound

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
DISPLAY_NAME_MAX = 100
# Roles that review any audit's evidence; an auditor sees only evidence of visits assigned to them.
REVIEW_ROLES = ("admin", "maintainer", "qoe_teacher")
OUTSTANDING = ("expected", "uploaded", "rejected")
MEDIA_LABELS = {"image/jpeg": "JPEG photo", "image/png": "PNG image", "application/pdf": "PDF document"}


@dataclass(frozen=True)
class Limits:
    """What a device may register; the app passes its configured values."""

    max_bytes: int = int(DEFAULTS["EVIDENCE_MAX_BYTES"])
    media_types: tuple[str, ...] = EVIDENCE_MEDIA_TYPES


@dataclass(frozen=True)
class Registration:
    ref: object  # the caller's correlation, e.g. the mutation id
    evidence_id: uuid.UUID
    audit_id: uuid.UUID
    item_key: str
    media_type: str
    size_bytes: int
    sha256: str
    filename: str | None = None


@dataclass(frozen=True)
class Withdrawal:
    ref: object
    evidence_id: uuid.UUID
    audit_id: uuid.UUID
    reason: str


def storage_key(audit_id: uuid.UUID, evidence_id: uuid.UUID) -> str:
    """The opaque object key of one evidence file: never anything the user typed."""
    return f"evidence/{audit_id}/{evidence_id}"


def final_storage_key(audit_id: uuid.UUID, evidence_id: uuid.UUID) -> str:
    """Where confirm copies a verified file: a key no upload target is ever made for."""
    return f"evidence/final/{audit_id}/{evidence_id}"


def display_filename(raw: object) -> str:
    """A filename fit to show: its last path part, no control characters, at most 100 characters."""
    name = re.split(r"[/\\]", raw)[-1] if isinstance(raw, str) else ""
    name = "".join(" " if c.isspace() else c for c in name if c.isspace() or unicodedata.category(c)[0] != "C")
    name = " ".join(name.split()).lstrip(". ")
    if len(name) > DISPLAY_NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        keep = DISPLAY_NAME_MAX - len(ext) - 1
        name = stem[:keep] + "." + ext if dot and stem and 0 < len(ext) <= 10 else name[:DISPLAY_NAME_MAX]
    return name or "evidence"


def register_evidence(session: Session, actor: Actor, registrations: list[Registration],
                      limits: Limits = Limits()) -> list[Outcome]:
    """Record the files each audit should receive; re-registering the same file is a no-op.

    Per registration: `applied`, `held` (audit not here yet) or `rejected` with `sync.forbidden`,
    `audit.finalised`, `sync.invalid`, `evidence.type_not_allowed`, `evidence.too_large` or
    `evidence.mismatch` (the id is already registered with other metadata).
    """
    access = audit_access(session, actor, {r.audit_id for r in registrations})
    known = {row.id: row for row in session.execute(
        select(Evidence.id, Evidence.audit_id, Evidence.item_key, Evidence.media_type, Evidence.size_bytes,
               Evidence.sha256, Evidence.filename, Evidence.version)
        .where(Evidence.id.in_({r.evidence_id for r in registrations}))).mappings()}
    outcomes, rows = [], []
    for r in registrations:
        problem = _refusal(r.ref, r.evidence_id, access[r.audit_id])
        if problem is None and r.evidence_id in known:
            problem = _replay(r, known[r.evidence_id])
        if problem is None:
            problem = _invalid(r, access[r.audit_id].template, limits)
        if problem is not None:
            outcomes.append(problem)
            continue
        row = {"id": r.evidence_id, "audit_id": r.audit_id, "item_key": r.item_key, "media_type": r.media_type,
               "size_bytes": r.size_bytes, "sha256": r.sha256, "filename": display_filename(r.filename),
               "storage_key": storage_key(r.audit_id, r.evidence_id), "status": "expected", "version": 1,
               "field_meta": {}, "created_by_id": actor.id, "created_at": clock.now()}
        known[r.evidence_id] = row
        rows.append(row)
        outcomes.append(Outcome(r.ref, "applied", r.evidence_id, 1))
    if rows:
        session.execute(insert(Evidence), rows)
        log_changes(session, [{"entity": "evidence", "entity_id": str(row["id"]), "version": 1,
                               "audit_id": row["audit_id"]} for row in rows])
        for row in rows:
            audit_log.record(session, actor, "evidence.register", "evidence", row["id"], after={
                k: str(row[k]) if k == "audit_id" else row[k]
                for k in ("audit_id", "item_key", "media_type", "size_bytes", "sha256", "filename")})
    return outcomes


def withdraw_evidence(session: Session, actor: Actor, withdrawals: list[Withdrawal]) -> list[Outcome]:
    """Withdraw files the auditor no longer expects to send, each with a reason.

    Withdrawing again is a no-op. The object, if any, stays in the store until purge: a withdrawal
    syncs with the answers, even while the store is unreachable.
    """
    access = audit_access(session, actor, {w.audit_id for w in withdrawals})
    rows = {row.id: row for row in session.scalars(
        select(Evidence).where(Evidence.id.in_({w.evidence_id for w in withdrawals})))}
    outcomes, changed = [], []
    for w in withdrawals:
        problem = _refusal(w.ref, w.evidence_id, access[w.audit_id])
        row = rows.get(w.evidence_id)
        reason = (w.reason or "").strip()
        if problem is None and (row is None or row.audit_id != w.audit_id):
            problem = Outcome(w.ref, "rejected", w.evidence_id, code="evidence.not_found",
                              message="No such evidence is registered for this audit")
        if problem is None and not reason:
            problem = Outcome(w.ref, "rejected", w.evidence_id, code="sync.invalid", message="Give a reason",
                              details={"reason": ["Say why the file is withdrawn"]})
        if problem is not None:
            outcomes.append(problem)
            continue
        if row.status != "withdrawn":
            before = row.status
            row.status, row.withdrawal_reason, row.version = "withdrawn", reason, row.version + 1
            row.withdrawn_by_id, row.withdrawn_at = actor.id, clock.now()
            changed.append(row)
            audit_log.record(session, actor, "evidence.withdraw", "evidence", row.id,
                             before={"status": before}, after={"status": "withdrawn", "reason": reason})
        outcomes.append(Outcome(w.ref, "applied", row.id, row.version))
    if changed:
        session.flush()
        log_changes(session, [{"entity": "evidence", "entity_id": str(row.id), "version": row.version,
                               "audit_id": row.audit_id} for row in changed])
    return outcomes


def _refusal(ref, evidence_id, access: AuditAccess) -> Outcome | None:
    if access.state == "missing":
        return Outcome(ref, "held", evidence_id, code="sync.parent_missing",
                       message="The audit is not on the server yet; this change waits for it")
    if access.state == "forbidden":
        return Outcome(ref, "rejected", evidence_id, code="sync.forbidden", message="You may not change this audit")
    if access.state == "finalised":
        return Outcome(ref, "rejected", evidence_id, code="audit.finalised",
                       message="This audit is finalised and cannot change; ask for a correction")
    return None


def _replay(r: Registration, row) -> Outcome:
    same = ((row["audit_id"], row["item_key"], row["media_type"], row["size_bytes"], row["sha256"], row["filename"])
            == (r.audit_id, r.item_key, r.media_type, r.size_bytes, r.sha256, display_filename(r.filename)))
    if same:
        return Outcome(r.ref, "applied", r.evidence_id, row["version"])
    return Outcome(r.ref, "rejected", r.evidence_id, code="evidence.mismatch",
                   message="This evidence id is already registered with other details; register the file under a new id")


def _invalid(r: Registration, template: dict, limits: Limits) -> Outcome | None:
    errors = {}
    if r.item_key not in items_of(template):
        errors["item_key"] = [f"{r.item_key!r} is not a checklist item of this audit's template"]
    if not isinstance(r.sha256, str) or not SHA256_HEX.fullmatch(r.sha256):
        errors["sha256"] = ["Must be 64 lower-case hexadecimal characters"]
    if not isinstance(r.size_bytes, int) or r.size_bytes < 1:
        errors["size_bytes"] = ["Must be a whole number of bytes, 1 or more"]
    if errors:
        return Outcome(r.ref, "rejected", r.evidence_id, code="sync.invalid", message="The evidence is not valid",
                       details=errors)
    if r.media_type not in limits.media_types:
        return Outcome(r.ref, "rejected", r.evidence_id, code="evidence.type_not_allowed",
                       message="Only " + ", ".join(MEDIA_LABELS.get(t, t) for t in limits.media_types) + " files are accepted",
                       details={"media_type": list(limits.media_types)})
    if r.size_bytes > limits.max_bytes:
        return Outcome(r.ref, "rejected", r.evidence_id, code="evidence.too_large",
                       message=f"The file is larger than {limits.max_bytes // (1024 * 1024)} MB",
                       details={"max_bytes": limits.max_bytes})
    return None


# ---- what has arrived ------------------------------------------------------------------------

@dataclass
class EvidenceCount:
    """Files registered for an audit or item: `expected` excludes withdrawn ones, `received` is verified."""

    expected: int = 0
    received: int = 0
    waiting: int = 0
    rejected: int = 0
    withdrawn: int = 0

    def add(self, status: str, n: int) -> None:
        if status == "withdrawn":
            self.withdrawn += n
            return
        self.expected += n
        if status == "verified":
            self.received += n
        elif status == "rejected":
            self.rejected += n
        else:
            self.waiting += n

    @property
    def summary(self) -> str:
        """"3 of 5 files received"."""
        return f"{self.received} of {self.expected} file{'' if self.expected == 1 else 's'} received"


def evidence_counts(session: Session, audit_ids) -> dict[uuid.UUID, EvidenceCount]:
    """Per audit: how many files are expected, received, waiting, rejected and withdrawn."""
    counts = {audit_id: EvidenceCount() for audit_id in audit_ids}
    if counts:
        for audit_id, status, n in session.execute(
                select(Evidence.audit_id, Evidence.status, func.count())
                .where(Evidence.audit_id.in_(list(counts))).group_by(Evidence.audit_id, Evidence.status)):
            counts[audit_id].add(status, n)
    return counts


def item_evidence_counts(session: Session, audit_id: uuid.UUID) -> dict[str, EvidenceCount]:
    """Per item of one audit: the same counts as `evidence_counts`."""
    counts: dict[str, EvidenceCount] = {}
    for item_key, status, n in session.execute(
            select(Evidence.item_key, Evidence.status, func.count()).where(Evidence.audit_id == audit_id)
            .group_by(Evidence.item_key, Evidence.status)):
        counts.setdefault(item_key, EvidenceCount()).add(status, n)
    return counts


def visit_evidence(session: Session, visit_id: int) -> list[tuple[Audit, EvidenceCount]]:
    """The audits started on a visit, each with its evidence counts."""
    audits = session.scalars(select(Audit).where(Audit.visit_id == visit_id)
                             .order_by(Audit.audit_type, Audit.revision)).all()
    counts = evidence_counts(session, [a.id for a in audits])
    return [(audit, counts[audit.id]) for audit in audits]


def outstanding_evidence(session: Session, audit_id: uuid.UUID) -> list[Evidence]:
    """Files that still block finalisation: registered, neither verified nor withdrawn (rejected ones too).

    An empty list means every expected file is verified or explicitly withdrawn with a reason.
    """
    return list(session.scalars(select(Evidence).where(Evidence.audit_id == audit_id, Evidence.status.in_(OUTSTANDING))
                                .order_by(Evidence.item_key, Evidence.created_at, Evidence.id)))


def serialise(row: Evidence) -> dict:
    """Evidence as a device stores it (pull feed)."""
    return {"id": str(row.id), "audit_id": str(row.audit_id), "item_key": row.item_key, "version": row.version,
            "status": row.status, "media_type": row.media_type, "size_bytes": row.size_bytes, "sha256": row.sha256,
            "filename": row.filename, "rejection_code": row.rejection_code, "rejection_reason": row.rejection_reason,
            "withdrawal_reason": row.withdrawal_reason,
            "verified_at": row.verified_at.isoformat() if row.verified_at else None}


# ---- who may see it --------------------------------------------------------------------------

def may_view(session: Session, actor: Actor, audit_id: uuid.UUID) -> bool:
    """True for reviewers (admin, maintainer, QoE teacher: of quality-of-education audits only, need to know),
    a lead reviewer once the safeguarding or H&S audit is submitted (they review it), and the auditor assigned
    to the visit; never schools."""
    if actor.role in REVIEW_ROLES:
        return sees_detail_of(session, actor, audit_id)
    if actor.role != "auditor":
        return False
    if actor.is_lead_reviewer and session.scalar(select(exists().where(
            Audit.id == audit_id, Audit.audit_type != "quality_education", Audit.status != "draft"))):
        return True
    return bool(session.scalar(select(exists().where(
        Audit.id == audit_id, VisitAssignment.visit_id == Audit.visit_id, VisitAssignment.user_id == actor.id))))


@dataclass
class ItemEvidence:
    item_key: str
    question: str
    count: EvidenceCount
    files: list[Evidence] = field(default_factory=list)


@dataclass
class AuditEvidence:
    """The reviewers' view of one audit's evidence."""

    audit: Audit
    total: EvidenceCount
    items: list[ItemEvidence]
    store_unreachable_since: datetime | None  # the newest confirm that could not reach the store


def audit_evidence(session: Session, actor: Actor, audit_id: uuid.UUID) -> AuditEvidence:
    """Every file registered for an audit, grouped by item in template order.

    :raises audit.not_found: no such audit, or the user may not see its evidence (the same answer).
    """
    audit = session.get(Audit, audit_id)
    if audit is None or not may_view(session, actor, audit_id):
        raise NotFound("audit.not_found", "There is no such audit")
    files = session.scalars(select(Evidence).where(Evidence.audit_id == audit_id)
                            .order_by(Evidence.created_at, Evidence.id)).all()
    questions = items_of(audit.template_version.content)
    order = {key: index for index, key in enumerate(questions)}
    items: dict[str, ItemEvidence] = {}
    total = EvidenceCount()
    for row in files:
        item = items.setdefault(row.item_key, ItemEvidence(row.item_key, questions.get(row.item_key, {}).get(
            "question", ""), EvidenceCount()))
        item.files.append(row)
        item.count.add(row.status, 1)
        total.add(row.status, 1)
    unreachable = [row.last_error_at for row in files
                   if row.status == "expected" and row.last_error == "evidence.store_unavailable" and row.last_error_at]
    return AuditEvidence(audit, total, sorted(items.values(), key=lambda i: (order.get(i.item_key, len(order)), i.item_key)),
                         max(unreachable) if unreachable else None)
