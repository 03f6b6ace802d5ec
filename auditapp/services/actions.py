"""Action plans after the visit: confirmed at review, reported done, verified, overdue.

Actions are proposed on the tablet (services/capture.py). From review on they are the council's:
- a reviewer confirms owner, due date and priority (`proposed` → `open`), while the audit is submitted;
- the provider may say an action is done (`provider_done`); that never closes it;
- the audit's auditor or a maintainer verifies it with a note and an evidence item (`verified_closed`);
- an open action past its due date is `overdue`: computed at read time (`effective_status`) and
  stored by `mark_overdue(session, today)`, which the daily roll-up calls.
Every change bumps the row version and lands in the change log (tablets pull actions) and the audit log.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from .. import clock
from ..models import Action, Audit, Evidence, Visit, VisitAssignment
from ..models.people import Actor
from ..models.enums import ACTION_PRIORITIES
from . import audit_log, rollup
from .access import CAPTURE_TYPES, items_of
from .changes import log_changes
from .errors import Conflict, Forbidden, Invalid, NotFound

STATUS_LABELS = {
    "proposed": "Proposed",
    "open": "Open",
    "provider_done": "Provider reports done",
    "verified_closed": "Verified and closed",
    "overdue": "Overdue",
    "no_longer_relevant": "No longer relevant",
}
PRIORITY_LABELS = {"immediate": "Immediate", "high": "High", "normal": "Normal"}
STILL_OPEN = ("open", "provider_done", "overdue")  # confirmed and not yet verified
CAN_BECOME_OVERDUE = ("open", "provider_done")
LONGEST_DUE = timedelta(days=366)  # a due date more than a year after the visit is a typing slip
NOTE_MAX = 2000


@dataclass(frozen=True)
class ActionConfirmation:
    """The reviewer's decision on one proposed action.

    `base_version` is the action's version the form was built on: when someone changed the action
    since, the confirmation is refused as stale instead of silently overwriting their change.
    """

    action_id: uuid.UUID
    owner_role: str
    due_date: date | None
    priority: str
    description: str | None = None  # None keeps the auditor's wording
    base_version: int | None = None


def may_review(session: Session, actor: Actor, audit: Audit) -> bool:
    """True for the audit's reviewers: a lead-reviewer auditor (SG, HS) or a QoE teacher (QE), never one
    who carried out this audit or a revision it corrects (the same rule as services/review.py)."""
    if audit.audit_type == "quality_education":
        role_ok = actor.role == "qoe_teacher"
    else:
        role_ok = actor.role == "auditor" and bool(actor.is_lead_reviewer)
    if not role_ok or actor.id == audit.created_by_id:
        return False
    corrected = audit.corrects_audit_id
    while corrected is not None:  # walk back through the revisions this one corrects
        author, corrected = session.execute(select(Audit.created_by_id, Audit.corrects_audit_id)
                                            .where(Audit.id == corrected)).one()
        if author == actor.id:
            return False
    return True


def may_follow_up(session: Session, actor: Actor, audit: Audit) -> bool:
    """True for a maintainer, or the auditor (or QoE teacher) assigned to the audit's visit."""
    if actor.role == "maintainer":
        return True
    if audit.audit_type not in CAPTURE_TYPES.get(actor.role, set()):
        return False
    return actor.id == audit.created_by_id or bool(session.scalar(select(exists().where(
        VisitAssignment.visit_id == audit.visit_id, VisitAssignment.user_id == actor.id))))


def effective_status(action: Action, today: date) -> str:
    """The status as of `today`: an open action past its due date is overdue even before the roll-up runs."""
    if action.status in CAN_BECOME_OVERDUE and action.due_date < today:
        return "overdue"
    return action.status


def actions_of(session: Session, audit_id: uuid.UUID) -> list[Action]:
    """An audit's actions in checklist order of their item keys (then by creation)."""
    rows = session.scalars(select(Action).where(Action.audit_id == audit_id).order_by(Action.created_at, Action.id))
    return sorted(rows, key=lambda a: key_order(a.item_key))


@dataclass(frozen=True)
class PlanEntry:
    """One action as the plan pages show it: the item's question and the status as of today."""

    action: Action
    question: str
    status: str  # effective_status(action, today)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def is_open(self) -> bool:
        return self.status in STILL_OPEN


def action_plan(session: Session, audit: Audit, today: date) -> list[PlanEntry]:
    """An audit's confirmed actions (never the merely proposed) with their items' questions, in checklist order."""
    questions = {key: item.get("question", "") for key, item in items_of(audit.template_version.content).items()}
    return [PlanEntry(a, questions.get(a.item_key, ""), effective_status(a, today))
            for a in actions_of(session, audit.id) if a.status != "proposed"]


def unconfirmed_actions(session: Session, audit_id: uuid.UUID) -> list[Action]:
    """Actions still only proposed: the review's finalise should block on these."""
    return [a for a in actions_of(session, audit_id) if a.status == "proposed"]


def confirm_actions(session: Session, actor: Actor, audit: Audit,
                    confirmations: list[ActionConfirmation]) -> list[Action]:
    """Confirm owner, due date and priority of proposed actions at review: proposed → open.

    All or nothing: any invalid confirmation refuses the whole set. Confirming an open action
    again updates it (the reviewer corrects a date before finalising).
    :raises review.not_reviewer: the actor may not review this audit (or it is their own).
    :raises audit.not_under_review: the audit is not submitted.
    :raises action.not_found: an action is not one of this audit's.
    :raises action.stale: an action changed since the form was built (details: what changed).
    :raises action.invalid: a field is wrong (details: `<field>-<action id>` → messages).
    """
    if not may_review(session, actor, audit):
        raise Forbidden("review.not_reviewer", "Only a reviewer of this audit, not its author, may confirm its actions")
    if audit.status != "submitted":
        raise Conflict("audit.not_under_review", "Actions are confirmed while the audit is submitted for review")
    rows = {a.id: a for a in session.scalars(select(Action).where(
        Action.audit_id == audit.id, Action.id.in_([c.action_id for c in confirmations])))}
    visit_date = session.scalar(select(Visit.visit_date).where(Visit.id == audit.visit_id))
    errors: dict[str, list[str]] = {}
    for c in confirmations:
        row = rows.get(c.action_id)
        if row is None:
            raise NotFound("action.not_found", "There is no such action on this audit")
        if c.base_version is not None and c.base_version != row.version:
            raise Conflict("action.stale", "Someone changed this action after you opened the page; reload to see it",
                           details={"action_id": str(row.id), "version": row.version,
                                    "current": _confirmable(row)})
        if row.status not in ("proposed", "open"):
            raise Conflict("action.not_confirmable", f"This action is {STATUS_LABELS[row.status].lower()}")
        errors.update(_confirmation_errors(c, visit_date))
    if errors:
        raise Invalid("action.invalid", "Check the actions", details=errors)
    now, changed = clock.now(), []
    for c in confirmations:
        row = rows[c.action_id]
        before = {"status": row.status, **_confirmable(row)}
        wanted = {"owner_role": c.owner_role.strip(), "due_date": c.due_date, "priority": c.priority}
        if c.description is not None:
            wanted["description"] = c.description.strip()
        edited = [name for name, value in wanted.items() if getattr(row, name) != value]
        for name in edited:
            setattr(row, name, wanted[name])
        row.status, row.confirmed_by_id, row.confirmed_at = "open", actor.id, now
        row.version += 1
        # Reviewer's edits win over a tablet's stale edit of the same field (capture.py keeps it as a conflict).
        row.field_meta = {**(row.field_meta or {}), **{name: [row.version, None, None] for name in edited}}
        changed.append(row)
        audit_log.record(session, actor, "action.confirm", "action", row.id, before=before,
                         after={"status": "open", **_confirmable(row)})
    _log_versions(session, changed)
    rollup.recompute(session, [audit.visit.provider_id], clock.today(), "action", actor, audit.id)  # ARCHITECTURE §5
    return changed


def report_provider_done(session: Session, actor: Actor, action_id: uuid.UUID, note: str = "") -> Action:
    """Record that the provider says an action is done. It stays open until someone verifies it.

    :raises action.not_found: :raises action.forbidden: :raises action.not_open:
    """
    row = _follow_up_target(session, actor, action_id)
    if row.status not in ("open", "overdue"):
        raise Conflict("action.not_open", f"This action is {STATUS_LABELS[row.status].lower()}")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise Invalid("action.invalid", "Check the note", details={"note": [f"Use {NOTE_MAX} characters or fewer"]})
    before = row.status
    row.status, row.provider_reported_at = "provider_done", clock.now()
    row.version += 1
    audit_log.record(session, actor, "action.provider_reported_done", "action", row.id,
                     before={"status": before}, after={"status": "provider_done", "note": note or None})
    _log_versions(session, [row])
    return row


def verify_action(session: Session, actor: Actor, action_id: uuid.UUID, note: str,
                  evidence_id: uuid.UUID | None) -> Action:
    """Close an action as verified, with a note and a verified evidence item of the provider's audits.

    :raises action.not_found: :raises action.forbidden: :raises action.not_open:
    :raises action.invalid: no note, or the evidence is not a verified item of this provider.
    """
    row = _follow_up_target(session, actor, action_id)
    if row.status not in STILL_OPEN:
        raise Conflict("action.not_open", f"This action is {STATUS_LABELS[row.status].lower()}")
    note = (note or "").strip()
    errors = {}
    if not note:
        errors["note"] = ["Say what you checked and what you found"]
    elif len(note) > NOTE_MAX:
        errors["note"] = [f"Use {NOTE_MAX} characters or fewer"]
    if evidence_id is None or evidence_id not in {e.id for e in verification_evidence(session, row)}:
        errors["evidence_id"] = ["Choose a verified evidence item from this provider's audits"]
    if errors:
        raise Invalid("action.invalid", "Check the verification", details=errors)
    before = row.status
    row.status, row.verification_note, row.verification_evidence_id = "verified_closed", note, evidence_id
    row.verified_by_id, row.verified_at = actor.id, clock.now()
    row.version += 1
    audit_log.record(session, actor, "action.verify", "action", row.id, before={"status": before},
                     after={"status": "verified_closed", "note": note, "evidence_id": str(evidence_id)})
    _log_versions(session, [row])
    rollup.recompute(session, [row.provider_id], clock.today(), "action", actor, row.audit_id)  # ARCHITECTURE §5
    return row


def verification_evidence(session: Session, action: Action) -> list[Evidence]:
    """Evidence a verifier may rely on: verified files of the action's audit and of the provider's later audits.

    New evidence arrives through a follow-up visit's capture (uploaded from the tablet), never here.
    """
    later = aliased(Audit)
    first = session.get(Audit, action.audit_id)
    query = (select(Evidence).join(later, later.id == Evidence.audit_id).join(Visit, Visit.id == later.visit_id)
             .where(Evidence.status == "verified", Visit.provider_id == action.provider_id,
                    (later.id == action.audit_id) | (later.created_at >= first.created_at)))
    rows = list(session.scalars(query))
    # This item's files first: they are the likeliest proof.
    return sorted(rows, key=lambda e: (e.item_key != action.item_key, e.audit_id != action.audit_id,
                                       key_order(e.item_key), e.created_at))


def mark_overdue(session: Session, today: date) -> list[Action]:
    """Store `overdue` on confirmed actions of finalised audits whose due date has passed. Idempotent.

    An audit replaced by a finalised correction no longer counts: its correction carries the plan.
    """
    correction = aliased(Audit)
    superseded = exists().where(correction.corrects_audit_id == Audit.id, correction.status == "finalised")
    rows = list(session.scalars(select(Action).join(Audit, Audit.id == Action.audit_id).where(
        Audit.status == "finalised", ~superseded, Action.status.in_(CAN_BECOME_OVERDUE), Action.due_date < today)))
    for row in rows:
        before = row.status
        row.status = "overdue"
        row.version += 1
        audit_log.record(session, None, "action.overdue", "action", row.id, before={"status": before},
                         after={"status": "overdue", "due_date": row.due_date.isoformat(), "as_of": today.isoformat()})
    _log_versions(session, rows)
    return rows


def _follow_up_target(session: Session, actor: Actor, action_id: uuid.UUID) -> Action:
    from .reports import may_see_report  # reports builds on this module
    row = session.get(Action, action_id)
    audit = row and session.get(Audit, row.audit_id)
    if row is None or not may_see_report(session, actor, audit):  # one answer: a stranger learns nothing
        raise NotFound("action.not_found", "There is no such action")
    if not may_follow_up(session, actor, audit):
        raise Forbidden("action.forbidden", "Only the audit's auditor or a maintainer may follow up its actions")
    if audit.status != "finalised":
        raise Conflict("action.audit_not_finalised", "Actions are followed up once the audit is finalised")
    return row


def _confirmation_errors(c: ActionConfirmation, visit_date: date) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    suffix = f"-{c.action_id}"
    owner = (c.owner_role or "").strip()
    if not owner:
        errors["owner_role" + suffix] = ["Enter who at the provider owns the action"]
    elif len(owner) > 100:
        errors["owner_role" + suffix] = ["Use 100 characters or fewer"]
    if c.due_date is None:
        errors["due_date" + suffix] = ["Enter a due date"]
    elif c.due_date < visit_date:
        errors["due_date" + suffix] = [f"The due date must be on or after the visit ({visit_date:%-d %B %Y})"]
    elif c.due_date > visit_date + LONGEST_DUE:
        errors["due_date" + suffix] = ["The due date must be within a year of the visit"]
    if c.priority not in ACTION_PRIORITIES:
        errors["priority" + suffix] = ["Choose a priority"]
    if c.description is not None and not c.description.strip():
        errors["description" + suffix] = ["Describe the action"]
    elif c.description is not None and len(c.description) > NOTE_MAX:
        errors["description" + suffix] = [f"Use {NOTE_MAX} characters or fewer"]
    return errors


def _confirmable(row: Action) -> dict:
    return {"description": row.description, "owner_role": row.owner_role,
            "due_date": row.due_date.isoformat() if row.due_date else None, "priority": row.priority}


def _log_versions(session: Session, rows: list[Action]) -> None:
    session.flush()
    log_changes(session, [{"entity": "action", "entity_id": str(r.id), "version": r.version, "audit_id": r.audit_id}
                          for r in rows])


def key_order(key: str) -> tuple:
    """SG-3.10 after SG-3.9: compare the numeric parts as numbers."""
    prefix, _, rest = key.partition("-")
    return (prefix, tuple(int(p) if p.isdigit() else 0 for p in rest.split(".")))
