"""The review workflow: who reviews, returning with comments, finalising behind guards, the queue.

submitted → returned (comments per item and overall) → resubmitted through services/audits.py's
submit path (the one the tablet uses) → finalised: scored from the stored answers, snapshot
frozen, immutable from then on (the capture and evidence services refuse changes to it). Every
review form carries the audit version it was drawn from; a form drawn before someone else acted
is refused as `review.stale`, with what changed since, read from the audit log. Sync conflicts:
services/review_conflicts.py; corrections after finalisation: services/corrections.py.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from .. import clock
from ..models import Answer, Audit, AuditLogEntry, ReviewComment, SyncConflict, User, Visit, VisitAssignment
from ..models.people import Actor
from . import audit_log, rollup
from .access import items_of
from .actions import unconfirmed_actions
from .audits import complete_visit_if_done
from .changes import log_changes
from .errors import Conflict, Forbidden, Invalid, NotFound
from .evidence import outstanding_evidence
from .grading import finalise_blockers as grading_blockers
from .scoring import OUTCOME_LABELS, is_rated, score
from .snapshot import build_snapshot, chain_ids

QE = "quality_education"
COMMENT_MAX = 2000
EVIDENCE_WORDS = {"expected": "not uploaded yet", "uploaded": "uploaded but not verified yet",
                  "rejected": "rejected"}
# How the stale-form message describes each logged step (audit-log action → words).
STEP_WORDS = {
    "audit.submit": "submitted the audit", "audit.resubmit": "resubmitted the audit",
    "audit.return": "returned the audit for changes", "audit.finalise": "finalised the audit",
    "conflict.resolve": "resolved a sync conflict", "correction.start": "started a correction",
}


# ---- who ---------------------------------------------------------------------------------------

def reviewer_role_problem(actor: Actor, audit_type: str) -> str | None:
    """Why `actor` may not review audits of `audit_type` at all (None when their role may)."""
    if audit_type == QE:
        return None if actor.role == "qoe_teacher" else "Only a quality of education teacher reviews this audit"
    if actor.role == "auditor" and actor.is_lead_reviewer:
        return None
    return "Only an auditor whom an administrator has made a lead reviewer reviews this audit"


def set_lead_reviewer(session: Session, actor: Actor, user_id: int, lead: bool) -> User:
    """Make an auditor a lead reviewer of safeguarding and H&S audits, or stop them being one (admins).

    :raises review.forbidden: the actor is not an admin. :raises user.not_found:
    :raises review.invalid: the user is not an auditor (QoE teachers review QoE audits by role).
    """
    if actor.role != "admin":
        raise Forbidden("review.forbidden", "Only administrators choose lead reviewers")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user.not_found", "There is no such user")
    if user.role != "auditor":
        raise Invalid("review.invalid", "Only auditors are lead reviewers",
                      {"lead": ["Only auditors are lead reviewers; QoE teachers review each other's audits"]})
    if user.is_lead_reviewer != lead:
        audit_log.record(session, actor, "user.lead_reviewer", "user", user.id,
                         before={"is_lead_reviewer": user.is_lead_reviewer}, after={"is_lead_reviewer": lead})
        user.is_lead_reviewer = lead
        session.flush()
    return user


def authors(session: Session, audit: Audit) -> set[int]:
    """Who carried out this audit: its author and the author of every revision it corrects."""
    if audit.corrects_audit_id is None:
        return {audit.created_by_id}
    return set(session.scalars(select(Audit.created_by_id).where(Audit.id.in_(chain_ids(session, audit)))))


def reviewer_problem(session: Session, actor: Actor, audit: Audit) -> str | None:
    """Why `actor` may not review this audit (None when they may)."""
    problem = reviewer_role_problem(actor, audit.audit_type)
    if problem is None and actor.id in authors(session, audit):
        return "You carried out this audit, so another reviewer must review it"
    return problem


def check_reviewer(session: Session, actor: Actor, audit: Audit) -> None:
    """:raises review.own_audit: the actor carried it out. :raises review.not_reviewer: wrong role."""
    problem = reviewer_problem(session, actor, audit)
    if problem is None:
        return
    own = reviewer_role_problem(actor, audit.audit_type) is None
    raise Forbidden("review.own_audit" if own else "review.not_reviewer", problem)


def may_view(session: Session, actor: Actor, audit: Audit) -> bool:
    """Reviewers of the type, admins, the people who carried it out; maintainers once finalised."""
    if actor.role == "admin" or reviewer_role_problem(actor, audit.audit_type) is None:
        return True
    if actor.role == "maintainer":
        return audit.status == "finalised"
    if actor.role not in ("auditor", "qoe_teacher") or (audit.audit_type == QE) != (actor.role == "qoe_teacher"):
        return False
    return actor.id in authors(session, audit) or bool(session.scalar(select(func.count()).select_from(VisitAssignment)
                                                                      .where(VisitAssignment.visit_id == audit.visit_id,
                                                                             VisitAssignment.user_id == actor.id)))


def audit_for_view(session: Session, actor: Actor, audit_id: uuid.UUID) -> Audit:
    """:raises audit.not_found: unknown, or the actor may not see it (the same answer: a stranger does not
    learn which audits exist)."""
    audit = session.get(Audit, audit_id)
    if audit is None or not may_view(session, actor, audit):
        raise NotFound("audit.not_found", "There is no such audit")
    return audit


# ---- stale forms -------------------------------------------------------------------------------

def locked_audit(session: Session, audit_id: uuid.UUID) -> Audit:
    """The audit, re-read under a row lock so two reviewers' actions queue up. :raises audit.not_found:"""
    audit = session.get(Audit, audit_id, with_for_update=True, populate_existing=True)
    if audit is None:
        raise NotFound("audit.not_found", "There is no such audit")
    return audit


def check_fresh(session: Session, audit: Audit, base_version: int) -> None:
    """:raises review.stale: the audit changed since the form was drawn (details list what changed)."""
    if audit.version == base_version:
        return
    changed = changes_since(session, audit, base_version)
    raise Conflict("review.stale", "Someone else acted on this audit after you opened the page. Nothing was "
                   "changed. Check what they did, then try again if it is still needed.",
                   {"changed": changed or [f"The audit is now {audit.status}"], "status": audit.status,
                    "version": audit.version})


def changes_since(session: Session, audit: Audit, base_version: int) -> list[str]:
    """What happened to the audit after `base_version`, one sentence per logged step, oldest first."""
    entries = [e for e in session.scalars(select(AuditLogEntry).where(AuditLogEntry.entity == "audit",
                                                                      AuditLogEntry.entity_id == str(audit.id))
                                          .order_by(AuditLogEntry.id))
               if (e.after or {}).get("version", 0) > base_version and e.action in STEP_WORDS]
    names = dict(session.execute(select(User.id, User.full_name)
                                 .where(User.id.in_({e.actor_id for e in entries if e.actor_id}))).all())
    return [f"{names.get(e.actor_id, 'The service')} {STEP_WORDS[e.action]}{_step_detail(e.after or {})} "
            f"at {clock.local(e.at):%-d %b %Y %H:%M}" for e in entries]


def _step_detail(after: dict) -> str:
    if "comments" in after:
        return f" with {after['comments']} comment{'' if after['comments'] == 1 else 's'}"
    if "outcome" in after and after.get("status") == "finalised":
        return f" as {OUTCOME_LABELS.get(after['outcome'], after['outcome'])}"
    if "conflict" in after:
        return f" ({after['conflict']}: kept {after.get('kept', 'a value')})"
    return ""


# ---- transitions -------------------------------------------------------------------------------

def return_audit(session: Session, actor: Actor, audit_id: uuid.UUID, base_version: int, overall: str,
                 item_comments: dict[str, str]) -> Audit:
    """Return a submitted audit to its author with comments (overall and per item).

    :raises audit.not_found / review.not_reviewer / review.own_audit / review.stale:
    :raises review.not_submitted: the audit is not waiting for review.
    :raises review.invalid: no comment at all, an unknown item or a comment too long (details by field).
    """
    audit = _reviewable(session, actor, audit_id, base_version)
    comments = _checked_comments(audit, overall, item_comments)
    now = clock.now()
    audit.review_round += 1
    audit.status, audit.returned_at, audit.version = "returned", now, audit.version + 1
    for item_key, body in comments:
        session.add(ReviewComment(audit_id=audit.id, item_key=item_key, body=body, review_round=audit.review_round,
                                  author_id=actor.id, created_at=now))
        audit_log.record(session, actor, "review.comment", "audit", audit.id,
                         after={"item_key": item_key, "body": body, "review_round": audit.review_round})
    session.flush()
    # The change log carries the new status to the tablets, which make the audit editable again.
    log_changes(session, [{"entity": "audit", "entity_id": str(audit.id), "version": audit.version,
                           "audit_id": audit.id}])
    audit_log.record(session, actor, "audit.return", "audit", audit.id, before={"status": "submitted"},
                     after={"status": "returned", "version": audit.version, "review_round": audit.review_round,
                            "comments": len(comments)})
    return audit


def finalise_audit(session: Session, actor: Actor, audit_id: uuid.UUID, base_version: int) -> Audit:
    """Finalise a submitted audit: score it, freeze the snapshot; from now on it never changes.

    :raises audit.not_found / review.not_reviewer / review.own_audit / review.stale / review.not_submitted:
    :raises review.not_ready: a guard fails (details["finalise"] lists every reason).
    """
    audit = _reviewable(session, actor, audit_id, base_version)
    blockers = finalise_blockers(session, audit)
    if blockers:
        raise Invalid("review.not_ready", "This audit cannot be finalised yet", {"finalise": blockers})
    content = audit.template_version.content
    ratings = dict(session.execute(select(Answer.item_key, Answer.rating).where(Answer.audit_id == audit.id)).all())
    scored = score(content, ratings)
    audit.section_rags, audit.outcome = scored.section_rags, scored.outcome
    audit.status, audit.version = "finalised", audit.version + 1
    audit.finalised_at, audit.finalised_by_id = clock.now(), actor.id
    session.flush()
    audit.snapshot = build_snapshot(session, audit)
    session.flush()
    log_changes(session, [{"entity": "audit", "entity_id": str(audit.id), "version": audit.version,
                           "audit_id": audit.id}])
    audit_log.record(session, actor, "audit.finalise", "audit", audit.id, before={"status": "submitted"},
                     after={"status": "finalised", "version": audit.version, "outcome": audit.outcome,
                            "section_rags": audit.section_rags})
    # The provider's directory status follows every finalise, in the same transaction (ARCHITECTURE.md §5).
    rollup.recompute(session, [audit.visit.provider_id], clock.today(), "finalise", actor, audit.id)
    complete_visit_if_done(session, actor, audit.visit_id)
    return audit


def finalise_blockers(session: Session, audit: Audit) -> list[str]:
    """Every reason the audit cannot be finalised now, in the order a reviewer would fix them."""
    content = audit.template_version.content
    answers = {a.item_key: a for a in session.scalars(select(Answer).where(Answer.audit_id == audit.id))}
    blockers = []
    for key, item in items_of(content).items():
        answer = answers.get(key)
        if is_rated(item) and (answer is None or not answer.rating):
            blockers.append(f"{key} is not rated")
        elif is_rated(item) and answer.rating == "not_applicable" and not (answer.na_reason or "").strip():
            blockers.append(f"{key} is N/A without a reason")
    for row in outstanding_evidence(session, audit.id):
        blockers.append(f"Evidence for {row.item_key} ({row.filename}) is {EVIDENCE_WORDS.get(row.status, row.status)}: "
                        "it must be verified, or withdrawn with a reason")
    conflicts = session.scalar(select(func.count()).select_from(SyncConflict)
                               .where(SyncConflict.audit_id == audit.id, SyncConflict.resolved_at.is_(None)))
    if conflicts:
        blockers.append(f"{conflicts} sync conflict{' is' if conflicts == 1 else 's are'} not resolved")
    for action in unconfirmed_actions(session, audit.id):
        blockers.append(f"The action for {action.item_key} is not confirmed: confirm its owner, due date and priority")
    blockers.extend(grading_blockers(session, audit))
    return blockers


def returned_comments(session: Session, audits) -> dict[uuid.UUID, list[dict]]:
    """For the tablet (pull feed, visit pack): per audit, the comments it was returned with, overall first, while it
    is returned; an audit in any other state has none to act on."""
    rounds = {audit.id: audit.review_round for audit in audits if audit.status == "returned"}
    found: dict[uuid.UUID, list[dict]] = {audit.id: [] for audit in audits}
    if rounds:
        rows = session.scalars(select(ReviewComment).where(ReviewComment.audit_id.in_(rounds))
                               .order_by(ReviewComment.item_key.is_not(None), ReviewComment.id))
        for row in rows:
            if row.review_round == rounds[row.audit_id]:
                found[row.audit_id].append({"item_key": row.item_key, "body": row.body})
    return found


def comments_of(session: Session, audit_id: uuid.UUID) -> list[ReviewComment]:
    """Every review comment on an audit, oldest round first."""
    return list(session.scalars(select(ReviewComment).where(ReviewComment.audit_id == audit_id)
                                .order_by(ReviewComment.review_round, ReviewComment.id)))


def _reviewable(session: Session, actor: Actor, audit_id: uuid.UUID, base_version: int) -> Audit:
    audit = locked_audit(session, audit_id)
    check_reviewer(session, actor, audit)
    check_fresh(session, audit, base_version)
    if audit.status != "submitted":
        raise Conflict("review.not_submitted", f"This audit is {audit.status}, not waiting for review",
                       {"status": audit.status})
    return audit


def _checked_comments(audit: Audit, overall: str, item_comments: dict[str, str]) -> list[tuple[str | None, str]]:
    items = items_of(audit.template_version.content)
    errors: dict[str, list[str]] = {}
    comments: list[tuple[str | None, str]] = []
    for key, body in [(None, overall), *sorted(item_comments.items())]:
        body = (body or "").strip()
        field = "overall" if key is None else f"comment-{key}"
        if key is not None and key not in items:
            errors[field] = [f"{key} is not an item of this audit"]
        elif len(body) > COMMENT_MAX:
            errors[field] = [f"Keep the comment to {COMMENT_MAX} characters or fewer"]
        elif body:
            comments.append((key, body))
    if not comments and not errors:
        errors["overall"] = ["Say what needs to change: add an overall comment or a comment on an item"]
    if errors:
        raise Invalid("review.invalid", "Check the comments", errors)
    return comments


# ---- the queue ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueueEntry:
    audit: Audit
    provider: str
    visit_date: object
    author: str
    waiting_days: int


def queue(session: Session, actor: Actor, audit_type: str = "") -> list[QueueEntry]:
    """Submitted audits awaiting `actor`'s review, oldest first (admins see every one, read-only).

    :raises review.not_reviewer: the actor reviews no audit type.
    """
    types = [t for t in ("safeguarding", "health_safety", QE)
             if actor.role == "admin" or reviewer_role_problem(actor, t) is None]
    if not types:
        raise Forbidden("review.not_reviewer", "Only lead reviewers and quality of education teachers review audits")
    if audit_type:
        types = [t for t in types if t == audit_type]
    author = User.__table__.alias("author")
    query = (select(Audit, author.c.full_name).join(Visit, Audit.visit_id == Visit.id)
             .join(author, author.c.id == Audit.created_by_id)
             .where(Audit.status == "submitted", Audit.audit_type.in_(types))
             .options(selectinload(Audit.visit))  # each visit's provider comes joined with it
             .order_by(Audit.submitted_at, Audit.id))
    now = clock.now()
    entries = []
    for audit, author_name in session.execute(query):
        if actor.role != "admin" and actor.id in authors(session, audit):
            continue  # their own audit waits for someone else
        waited = (now - audit.submitted_at).days if audit.submitted_at else 0
        entries.append(QueueEntry(audit, audit.visit.provider.display_name, audit.visit.visit_date, author_name, waited))
    return entries
