"""Audit lifecycle on capture: start (idempotent, derived ids), submit, and safeguarding concerns."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from .. import clock
from ..models import (Answer, Audit, ReviewComment, SafeguardingConcern, TemplateVersion, Visit, VisitAssignment,
                      VisitAuditType)
from ..models.people import Actor
from . import audit_log, rollup
from .access import CAPTURE_TYPES, AuditAccess, audit_access, items_of
from .capture import Outcome
from .changes import log_changes
from .scoring import score

# Audit ids are derived so two offline tablets on one visit start the same audit (sync/PROTOCOL.md).
AUDIT_NAMESPACE = uuid.UUID("6d1f6c1e-5b4a-4b8e-9a57-3f0f0c1a2b7d")


def audit_id_for(visit_id: int, audit_type: str, revision: int = 1) -> uuid.UUID:
    """The id every device derives for one audit of one visit."""
    return uuid.uuid5(AUDIT_NAMESPACE, f"{visit_id}:{audit_type}:{revision}")


@dataclass(frozen=True)
class StartAudit:
    ref: object
    audit_id: uuid.UUID
    visit_id: int
    audit_type: str
    template_version_id: int


def start_audits(session: Session, actor: Actor, starts: list[StartAudit]) -> list[Outcome]:
    """Create the audits a device has started; starting an existing audit again is a no-op."""
    visits = _assigned_visit_types(session, actor, {s.visit_id for s in starts})
    versions = dict(session.execute(select(TemplateVersion.id, TemplateVersion.template_id)).all())
    types_by_template = _template_types(session)
    existing = dict(session.execute(select(Audit.id, Audit.version)
                                    .where(Audit.id.in_({s.audit_id for s in starts}))).all())
    outcomes, rows = [], []
    for s in starts:
        problem = _start_problem(actor, s, visits, versions, types_by_template)
        if problem:
            outcomes.append(Outcome(s.ref, "rejected", s.audit_id, code=problem[0], message=problem[1]))
        elif s.audit_id in existing:
            outcomes.append(Outcome(s.ref, "applied", s.audit_id, existing[s.audit_id]))
        else:
            existing[s.audit_id] = 1
            rows.append({"id": s.audit_id, "visit_id": s.visit_id, "audit_type": s.audit_type, "status": "draft",
                         "template_version_id": s.template_version_id, "version": 1, "revision": 1,
                         "created_by_id": actor.id})
            outcomes.append(Outcome(s.ref, "applied", s.audit_id, 1))
    if rows:
        session.execute(insert(Audit), rows)
        log_changes(session, [{"entity": "audit", "entity_id": str(r["id"]), "version": 1, "audit_id": r["id"]}
                              for r in rows])
        for r in rows:
            audit_log.record(session, actor, "audit.start", "audit", r["id"],
                             after={"visit_id": r["visit_id"], "audit_type": r["audit_type"]})
        _set_visit_status(session, actor, {r["visit_id"] for r in rows}, ("planned",), "in_progress")
    return outcomes


def complete_visit_if_done(session: Session, actor: Actor, visit_id: int) -> None:
    """The visit is completed once every audit type planned on it has a finalised audit (the finalise
    service calls this in its transaction); a cancelled visit stays cancelled."""
    planned = set(session.scalars(select(VisitAuditType.audit_type).where(VisitAuditType.visit_id == visit_id)))
    finalised = set(session.scalars(select(Audit.audit_type).where(Audit.visit_id == visit_id,
                                                                   Audit.status == "finalised")))
    if planned and planned <= finalised:
        _set_visit_status(session, actor, {visit_id}, ("planned", "in_progress"), "completed")


def _set_visit_status(session: Session, actor: Actor, visit_ids: set[int], from_statuses: tuple[str, ...],
                      status: str) -> None:
    """Move the visits that are in one of `from_statuses` to `status`, each change logged."""
    for visit in session.scalars(select(Visit).where(Visit.id.in_(visit_ids), Visit.status.in_(from_statuses))
                                 .order_by(Visit.id).with_for_update(of=Visit)):
        audit_log.record(session, actor, "visit.status", "visit", visit.id, before={"status": visit.status},
                         after={"status": status})
        visit.status = status
    session.flush()


def submit_audits(session: Session, actor: Actor, refs_and_ids: list[tuple[object, uuid.UUID]],
                  access: dict[uuid.UUID, AuditAccess] | None = None) -> list[Outcome]:
    """Submit (or, after a return, resubmit) complete audits for review; an already submitted audit answers as applied.

    `access` is for services/corrections.py, which decides itself who may submit a correction.
    """
    access = access if access is not None else audit_access(session, actor, {audit_id for _, audit_id in refs_and_ids})
    outcomes = []
    for ref, audit_id in refs_and_ids:
        acc = access[audit_id]
        if acc.state == "missing":
            outcomes.append(Outcome(ref, "held", audit_id, code="sync.parent_missing", message="The audit is not here yet"))
        elif acc.state == "forbidden":
            outcomes.append(Outcome(ref, "rejected", audit_id, code="sync.forbidden", message="You may not submit this audit"))
        elif acc.state in ("submitted", "finalised"):
            outcomes.append(Outcome(ref, "applied", audit_id, session.get(Audit, audit_id).version))
        else:
            outcomes.append(_submit_one(session, actor, ref, acc))
    return outcomes


def _submit_one(session: Session, actor: Actor, ref, acc) -> Outcome:
    rated = {key for key, item in items_of(acc.template).items() if item.get("answer", "rating") == "rating"}
    answered = set(session.scalars(select(Answer.item_key).where(Answer.audit_id == acc.audit_id,
                                                                 Answer.rating.is_not(None))))
    missing = sorted(rated - answered)
    if missing:
        return Outcome(ref, "rejected", acc.audit_id, code="audit.incomplete",
                       message=f"{len(missing)} items are not rated yet", details={"missing": missing})
    audit = session.get(Audit, acc.audit_id)
    before = audit.status
    audit.status, audit.version = "submitted", audit.version + 1
    audit.submitted_at = clock.now()
    # The server's score from the stored ratings is the truth; the device's figure is display only.
    scored = score(acc.template, dict(session.execute(select(Answer.item_key, Answer.rating)
                                                      .where(Answer.audit_id == audit.id)).all()))
    audit.section_rags, audit.outcome = scored.section_rags, scored.outcome
    session.execute(update(ReviewComment).where(ReviewComment.audit_id == audit.id, ReviewComment.addressed_at.is_(None))
                    .values(addressed_at=audit.submitted_at))
    session.flush()
    log_changes(session, [{"entity": "audit", "entity_id": str(audit.id), "version": audit.version,
                           "audit_id": audit.id}])
    audit_log.record(session, actor, "audit.resubmit" if before == "returned" else "audit.submit", "audit", audit.id,
                     before={"status": before}, after={"status": "submitted", "version": audit.version,
                                                       "outcome": audit.outcome})
    return Outcome(ref, "applied", audit.id, audit.version)


@dataclass(frozen=True)
class NewConcern:
    ref: object
    concern_id: uuid.UUID
    visit_id: int
    occurred_at: datetime
    referred_to_role: str
    reference_number: str | None
    about_provider_or_staff: bool
    summary: str | None


def raise_concerns(session: Session, actor: Actor, concerns: list[NewConcern]) -> list[Outcome]:
    """Record safeguarding concerns outside the audit record; replays of a concern are no-ops."""
    visits = _assigned_visit_types(session, actor, {c.visit_id for c in concerns})
    known = set(session.scalars(select(SafeguardingConcern.id)
                                .where(SafeguardingConcern.id.in_({c.concern_id for c in concerns}))))
    outcomes, raised = [], set()
    for c in concerns:
        if c.visit_id not in visits:
            outcomes.append(Outcome(c.ref, "rejected", c.concern_id, code="sync.forbidden",
                                    message="You are not assigned to this visit"))
            continue
        if c.concern_id not in known:
            known.add(c.concern_id)
            raised.add(visits[c.visit_id][0])
            session.add(SafeguardingConcern(id=c.concern_id, provider_id=visits[c.visit_id][0], visit_id=c.visit_id,
                                            raised_by_id=actor.id, occurred_at=c.occurred_at,
                                            referred_to_role=c.referred_to_role, reference_number=c.reference_number,
                                            about_provider_or_staff=c.about_provider_or_staff, summary=c.summary))
            session.flush()
            # The log records that a concern exists, never what it says.
            audit_log.record(session, actor, "concern.raise", "safeguarding_concern", c.concern_id,
                             after={"visit_id": c.visit_id, "about_provider_or_staff": c.about_provider_or_staff})
        outcomes.append(Outcome(c.ref, "applied", c.concern_id, 1))
    if raised:  # the provider shows Under review at once, in this transaction (ARCHITECTURE.md §5)
        rollup.recompute(session, sorted(raised), clock.today(), "concern", actor)
    return outcomes


def _assigned_visit_types(session: Session, actor: Actor, visit_ids: set[int]) -> dict[int, tuple[int, set[str]]]:
    rows = session.execute(select(Visit.id, Visit.provider_id, VisitAuditType.audit_type)
                           .join(VisitAssignment, (VisitAssignment.visit_id == Visit.id)
                                 & (VisitAssignment.user_id == actor.id))
                           .join(VisitAuditType, VisitAuditType.visit_id == Visit.id)
                           .where(Visit.id.in_(visit_ids))).all()
    visits: dict[int, tuple[int, set[str]]] = {}
    for visit_id, provider_id, audit_type in rows:
        visits.setdefault(visit_id, (provider_id, set()))[1].add(audit_type)
    return visits


def _template_types(session: Session) -> dict[int, str]:
    from ..models import AuditTemplate
    return dict(session.execute(select(AuditTemplate.id, AuditTemplate.audit_type)).all())


def _start_problem(actor, s: StartAudit, visits, versions, types_by_template) -> tuple[str, str] | None:
    if s.visit_id not in visits or s.audit_type not in visits[s.visit_id][1]:
        return "sync.forbidden", "This audit is not part of a visit assigned to you"
    if s.audit_type not in CAPTURE_TYPES.get(actor.role, set()):
        return "sync.forbidden", "Your role does not carry out this type of audit"
    if s.audit_id != audit_id_for(s.visit_id, s.audit_type):
        return "sync.invalid", "The audit id is not the one derived for this visit and audit type"
    if types_by_template.get(versions.get(s.template_version_id)) != s.audit_type:
        return "sync.invalid", "The template version does not belong to this audit type"
    return None
