"""Corrections after finalisation: a new audit revision with a reason, reviewed again, and a diff.

A finalised audit never changes. A reviewer of its type starts a correction: a new audit row
(id `audit_id_for(visit, type, revision)`) pinned to the same template version, its answers,
policy checks and conversations copied through the capture services. The corrector changes what
was wrong, submits it through the same submit path the tablet uses, and another reviewer returns
or finalises it. Evidence and actions stay with the revision they were captured on (the snapshot
of a correction lists them). The diff compares two snapshots item by item.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Answer, Audit, Conversation, PolicyCheck
from ..models.people import Actor
from ..models.enums import RATINGS
from . import audit_log
from .access import AuditAccess, items_of
from .audits import audit_id_for, submit_audits
from .capture import Change, Outcome, apply_changes
from .capture_rules import SPECS
from .changes import log_changes
from .errors import Conflict, Forbidden, Invalid
from .review import check_fresh, locked_audit, reviewer_role_problem
from .scoring import OUTCOME_LABELS, RAG_LABELS, is_rated

REASON_MAX = 2000
EDITABLE = ("draft", "returned")


def start_correction(session: Session, actor: Actor, audit_id: uuid.UUID, reason: str, base_version: int) -> Audit:
    """Open a correction of a finalised audit: a new revision with the answers copied.

    :raises audit.not_found / review.stale:
    :raises review.not_reviewer: only a reviewer of the audit's type corrects it.
    :raises correction.not_finalised: only a finalised audit is corrected (a submitted one is returned).
    :raises correction.exists: this revision was corrected already (details: the newer revision).
    :raises correction.invalid: no reason, or one too long.
    """
    audit = locked_audit(session, audit_id)
    problem = reviewer_role_problem(actor, audit.audit_type)
    if problem:
        raise Forbidden("review.not_reviewer", problem)
    check_fresh(session, audit, base_version)
    if audit.status != "finalised":
        raise Conflict("correction.not_finalised", "Only a finalised audit is corrected; return a submitted one instead")
    newer = session.scalar(select(Audit).where(Audit.corrects_audit_id == audit.id))
    if newer is not None:
        raise Conflict("correction.exists", f"Revision {newer.revision} already corrects this audit",
                       {"audit_id": str(newer.id)})
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX:
        raise Invalid("correction.invalid", "Check the reason",
                      {"reason": ["Say why the finalised audit needs correcting" if not reason
                                  else f"Keep the reason to {REASON_MAX} characters or fewer"]})
    correction = Audit(id=audit_id_for(audit.visit_id, audit.audit_type, audit.revision + 1), visit_id=audit.visit_id,
                       audit_type=audit.audit_type, template_version_id=audit.template_version_id, status="draft",
                       version=1, revision=audit.revision + 1, corrects_audit_id=audit.id, correction_reason=reason,
                       created_by_id=actor.id, review_round=0)
    session.add(correction)
    session.flush()
    log_changes(session, [{"entity": "audit", "entity_id": str(correction.id), "version": 1,
                           "audit_id": correction.id}])
    _copy_content(session, actor, audit, correction)
    audit_log.record(session, actor, "correction.start", "audit", correction.id,
                     after={"corrects_audit_id": str(audit.id), "revision": correction.revision, "reason": reason})
    audit_log.record(session, actor, "correction.start", "audit", audit.id,
                     after={"corrected_by_audit_id": str(correction.id), "revision": correction.revision,
                            "reason": reason})
    return correction


def correction_for_edit(session: Session, actor: Actor, audit_id: uuid.UUID) -> Audit:
    """:raises correction.forbidden: not a correction, or not the actor's. :raises correction.not_editable:"""
    audit = locked_audit(session, audit_id)
    if audit.corrects_audit_id is None or audit.created_by_id != actor.id:
        raise Forbidden("correction.forbidden", "Only the person who started this correction changes it")
    if audit.status not in EDITABLE:
        raise Conflict("correction.not_editable", f"This correction is {audit.status} and can no longer be changed",
                       {"status": audit.status})
    return audit


def correct_item(session: Session, actor: Actor, audit_id: uuid.UUID, item_key: str, rating: str, note: str,
                 na_reason: str) -> Outcome:
    """Change one rated item of a correction (rating, note, N/A reason) through the capture services.

    :raises correction.forbidden / correction.not_editable:
    :raises correction.invalid: an unknown item or rating, or N/A without a reason (details by field).
    """
    audit = correction_for_edit(session, actor, audit_id)
    item = items_of(audit.template_version.content).get(item_key or "")
    errors = {}
    if item is None or not is_rated(item):
        errors["item_key"] = ["Choose an item to change"]
    if rating not in RATINGS:
        errors["rating"] = ["Choose a rating"]
    elif rating == "not_applicable" and not (na_reason or "").strip():
        errors["na_reason"] = ["Give a reason when an item is not applicable"]
    if errors:
        raise Invalid("correction.invalid", "Check the change", errors)
    row = session.scalar(select(Answer).where(Answer.audit_id == audit.id, Answer.item_key == item_key))
    fields = {"rating": rating, "note": (note or "").strip() or None,
              "na_reason": (na_reason or "").strip() or None if rating == "not_applicable" else None}
    change = Change(item_key, row.id if row else uuid.uuid5(audit.id, item_key), audit.id, item_key,
                    row.version if row else 0, fields)
    outcome = apply_changes(session, actor, "answer", [change], access=_access(audit))[0]
    if outcome.status != "applied":
        raise Invalid("correction.invalid", outcome.message or "The change is not valid",
                      outcome.details or {"rating": [outcome.message or "The change is not valid"]})
    audit_log.record(session, actor, "correction.change", "audit", audit.id, after={"item_key": item_key, **fields})
    return outcome


def submit_correction(session: Session, actor: Actor, audit_id: uuid.UUID, base_version: int) -> Audit:
    """Send a correction for review through the submit path the tablet uses.

    :raises correction.forbidden / correction.not_editable / review.stale:
    :raises audit.incomplete: an item is not rated (details: the missing keys).
    """
    audit = correction_for_edit(session, actor, audit_id)
    check_fresh(session, audit, base_version)
    outcome = submit_audits(session, actor, [(audit.id, audit.id)], access=_access(audit))[0]
    if outcome.status != "applied":
        raise Invalid(outcome.code or "audit.incomplete", outcome.message or "The correction cannot be submitted",
                      {"submit": [outcome.message or "The correction cannot be submitted"]})
    return audit


def revisions(session: Session, audit: Audit) -> list[Audit]:
    """Every revision of this audit's visit and type, oldest first."""
    return list(session.scalars(select(Audit).where(Audit.visit_id == audit.visit_id,
                                                    Audit.audit_type == audit.audit_type).order_by(Audit.revision)))


def _access(audit: Audit) -> dict[uuid.UUID, AuditAccess]:
    """Write access decided here (the corrector need not be assigned to the visit)."""
    return {audit.id: AuditAccess(audit.id, "writable", audit.visit.provider_id, audit.visit_id,
                                  audit.template_version.content)}


def _copy_content(session: Session, actor: Actor, source: Audit, target: Audit) -> None:
    access = _access(target)

    def copied_id(row_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(target.id, str(row_id))  # derived, so a copy is the same whoever repeats it

    for entity, model, key_of, order in (
            ("answer", Answer, lambda r: r.item_key, lambda r: r.item_key),
            ("policy_check", PolicyCheck, lambda r: r.item_key, lambda r: r.item_key),
            # In reference order (L1, L2 … L10), so the copies are given the same references.
            ("conversation", Conversation, lambda r: r.kind, lambda r: (r.kind, int(r.reference[1:] or 0)))):
        rows = sorted(session.scalars(select(model).where(model.audit_id == source.id)), key=order)
        spec = SPECS[entity]
        changes = []
        for row in rows:
            values = spec.from_columns({c: getattr(row, c) for c in spec.columns})
            fields = {k: v for k, v in values.items() if v is not None}
            if fields:
                changes.append(Change(row.id, copied_id(row.id), target.id, key_of(row), 0, fields))
        for outcome in apply_changes(session, actor, entity, changes, access=access) if changes else []:
            if outcome.status != "applied":
                raise Conflict("correction.copy_failed", f"Could not copy the audit: {outcome.message}",
                               outcome.details or {})


# ---- the diff ----------------------------------------------------------------------------------

@dataclass
class ItemDiff:
    key: str
    question: str
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (what, before, after)


@dataclass
class SnapshotDiff:
    outcome: tuple[str, str] | None
    sections: list[tuple[str, str, str, str]]  # (key, title, before, after) for changed RAGs
    items: list[ItemDiff]

    @property
    def empty(self) -> bool:
        return not (self.outcome or self.sections or self.items)


def diff_snapshots(before: dict, after: dict) -> SnapshotDiff:
    """What changed between two snapshots of an audit: outcome, section RAGs, each item's rating, note, N/A reason."""
    old_outcome, new_outcome = before["audit"]["outcome"], after["audit"]["outcome"]
    outcome = ((OUTCOME_LABELS.get(old_outcome, "-"), OUTCOME_LABELS.get(new_outcome, "-"))
               if old_outcome != new_outcome else None)
    old_sections = {s["key"]: s for s in before["sections"]}
    sections = [(s["key"], s["title"], RAG_LABELS[old_sections[s["key"]]["rag"]], RAG_LABELS[s["rag"]])
                for s in after["sections"] if s["key"] in old_sections and old_sections[s["key"]]["rag"] != s["rag"]]
    old_items = {i["key"]: i for s in before["sections"] for i in s["items"]}
    items = []
    for section in after["sections"]:
        for item in section["items"]:
            old = old_items.get(item["key"], {})
            diff = ItemDiff(item["key"], item["question"])
            for name, label in (("rating_label", "Rating"), ("note", "Note"), ("na_reason", "N/A reason")):
                if (old.get(name) or "") != (item.get(name) or ""):
                    diff.changes.append((label, old.get(name) or "(none)", item.get(name) or "(none)"))
            if diff.changes:
                items.append(diff)
    old_header = {h["key"]: h for h in before.get("header", [])}
    header = []
    for head in after.get("header", []):
        old = old_header.get(head["key"], {})
        diff = ItemDiff(head["key"], head["question"])
        for name, label in (("display", "Value"), ("note", "Note")):
            if (old.get(name) or "") != (head.get(name) or ""):
                diff.changes.append((label, old.get(name) or "(none)", head.get(name) or "(none)"))
        if diff.changes:
            header.append(diff)
    items = header + items
    return SnapshotDiff(outcome, sections, items)

