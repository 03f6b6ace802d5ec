"""What the review pages show, gathered read-only for the templates (no writes here)."""
from __future__ import annotations

from datetime import date

from flask import current_app, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clock
from ..models import Audit, Evidence, User
from ..models.people import Actor
from ..services import actions, corrections, review, review_conflicts
from ..services import evidence
from ..services.evidence import item_evidence_counts
from ..services.scoring import OUTCOME_LABELS, RAG_LABELS, RATING_LABELS
from ..services.snapshot import build_snapshot

RAG_TAGS = {"green": "govuk-tag--green", "amber": "govuk-tag--orange", "red": "govuk-tag--red",
            "grey": "govuk-tag--grey"}
AUDIT_STATUS_TAGS = {"draft": ("Draft", "govuk-tag--grey"), "submitted": ("Waiting for review", "govuk-tag--blue"),
                     "returned": ("Returned for changes", "govuk-tag--yellow"),
                     "finalised": ("Finalised", "govuk-tag--green")}
DONE = {"returned": "The audit was returned to its author with your comments.",
        "finalised": "The audit is finalised. Its scores and report are now fixed.",
        "resolved": "The conflict is resolved.", "changed": "The item is changed in this correction.",
        "submitted": "The correction is submitted for review by another reviewer."}
LABELS = {"rag_labels": RAG_LABELS, "rag_tags": RAG_TAGS, "outcome_labels": OUTCOME_LABELS,
          "rating_labels": RATING_LABELS, "audit_status_tags": AUDIT_STATUS_TAGS,
          "action_status_labels": actions.STATUS_LABELS, "priority_labels": actions.PRIORITY_LABELS}


def snapshot_of(session: Session, audit: Audit) -> dict:
    """The frozen snapshot of a finalised audit; the live state of any other."""
    return audit.snapshot if audit.status == "finalised" and audit.snapshot else build_snapshot(session, audit)


def audit_context(session: Session, actor: Actor, audit: Audit, *, done: str | None = None, errors: dict | None = None,
                  failed_form: str | None = None, form=None) -> dict:
    """Everything the audit review page shows."""
    problem = review.reviewer_problem(session, actor, audit)
    under_review = audit.status == "submitted"
    comments = review.comments_of(session, audit.id)
    newer = session.scalar(select(Audit).where(Audit.corrects_audit_id == audit.id))
    snap = snapshot_of(session, audit)
    return {
        **LABELS, "audit": audit, "snap": snap, "done": DONE.get(done or ""),
        "can_act": problem is None and under_review, "problem": problem,
        "blockers": review.finalise_blockers(session, audit) if under_review else [],
        "conflicts": review_conflicts.open_conflicts(session, audit),
        "overall_comments": [c for c in comments if c.item_key is None],
        "item_comments": _by_item(comments), "commenters": _names(session, {c.author_id for c in comments}),
        "evidence_counts": item_evidence_counts(session, audit.id), "withdrawn_files": _withdrawn(session, audit),
        "policy_checks": {check["item_key"]: _policy_check(check) for check in snap.get("policy_checks") or []},
        "conversation_sets": conversation_sets(snap, audit.template_version.content),
        "actions": actions.actions_of(session, audit.id), "today": clock.today(),
        "effective_status": actions.effective_status,
        "may_correct": (audit.status == "finalised" and newer is None
                        and review.reviewer_role_problem(actor, audit.audit_type) is None),
        "newer": newer, "links": _links(session, actor, audit),
        "errors": errors or {}, "failed_form": failed_form, "form": form or {},
    }


def correction_context(session: Session, actor: Actor, audit: Audit, *, done: str | None = None,
                       errors: dict | None = None, failed_form: str | None = None, form=None) -> dict:
    """The correction page: reason, item change form, submit, and the diff so far."""
    editable = (audit.corrects_audit_id is not None and audit.created_by_id == actor.id
                and audit.status in corrections.EDITABLE)
    snap = snapshot_of(session, audit)
    return {**LABELS, **diff_context(session, audit), "audit": audit, "snap": snap, "editable": editable,
            "done": DONE.get(done or ""), "errors": errors or {}, "failed_form": failed_form, "form": form or {},
            "rated_items": [i for s in snap["sections"] for i in s["items"]],
            "comments": review.comments_of(session, audit.id)}


def diff_context(session: Session, audit: Audit) -> dict:
    """The revision this one corrects, and what changed between their snapshots."""
    previous = session.get(Audit, audit.corrects_audit_id) if audit.corrects_audit_id else None
    diff = (corrections.diff_snapshots(snapshot_of(session, previous), snapshot_of(session, audit))
            if previous is not None else None)
    return {**LABELS, "audit": audit, "previous": previous, "diff": diff}


def conversation_sets(snap: dict, content: dict) -> list[dict]:
    """The audit's conversations per prompt set (learner, staff), each answer beside its prompt, in template order."""
    sets = []
    for prompt_set in content.get("prompt_sets") or []:
        prompts = {p["key"]: p["prompt"] for p in prompt_set.get("prompts") or []}
        talks = []
        for talk in snap.get("conversations") or []:
            if talk.get("kind") != prompt_set["key"]:
                continue
            given = {key: value for key, value in (talk.get("responses") or {}).items() if value not in (None, "")}
            order = [key for key in prompts if key in given] + sorted(key for key in given if key not in prompts)
            talks.append({**talk, "answers": [(key, prompts.get(key, ""), given[key]) for key in order]})
        sets.append({"key": prompt_set["key"], "title": prompt_set.get("title", prompt_set["key"]), "talks": talks})
    return sets


def _policy_check(check: dict) -> dict:
    """A policy check as people read it: Yes/No, "1 May 2026"."""
    seen = check.get("document_seen")
    review_date = check.get("review_date")
    return {**check, "seen_label": "Not recorded" if seen is None else "Yes" if seen else "No",
            "review_date_label": f"{date.fromisoformat(review_date[:10]):%-d %B %Y}" if review_date else ""}


def _withdrawn(session: Session, audit: Audit) -> dict[str, list[Evidence]]:
    """Files the auditor withdrew, by item, each with its reason."""
    grouped: dict[str, list[Evidence]] = {}
    for row in session.scalars(select(Evidence).where(Evidence.audit_id == audit.id, Evidence.status == "withdrawn")
                               .order_by(Evidence.created_at, Evidence.id)):
        grouped.setdefault(row.item_key, []).append(row)
    return grouped


def _by_item(comments) -> dict:
    grouped: dict = {}
    for comment in comments:
        if comment.item_key is not None:
            grouped.setdefault(comment.item_key, []).append(comment)
    return grouped


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    return dict(session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all()) if ids else {}


def _links(session: Session, actor: Actor, audit: Audit) -> dict:
    """Pages of other parts of the service about this audit that `actor` may open, when they are installed."""
    candidates = {"evidence": ("evidence.audit_page", {"audit_id": audit.id}),
                  "grade": ("grading.grade_form", {"qe_audit_id": audit.id}),
                  "moderate": ("grading.moderation_form", {"qe_audit_id": audit.id}),
                  "actions": ("actions.confirm_form", {"audit_id": audit.id}),
                  "report": ("reports.full_report", {"audit_id": audit.id}),
                  "provider_report": ("reports.provider_report", {"audit_id": audit.id}),
                  "plan": ("actions.plan", {"audit_id": audit.id})}
    links = {}
    for name, (endpoint, args) in candidates.items():
        if endpoint in current_app.view_functions:
            links[name] = url_for(endpoint, **args)
    if not evidence.may_view(session, actor, audit.id):
        links.pop("evidence", None)
    if audit.audit_type != "quality_education":
        links.pop("grade", None)
        links.pop("moderate", None)
    if audit.status != "finalised":
        for name in ("report", "provider_report", "plan"):
            links.pop(name, None)
    if audit.status != "submitted":
        links.pop("actions", None)
    return links
