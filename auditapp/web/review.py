"""Review pages: the reviewers' queue, an audit's review page (return, finalise, sync conflicts),
corrections after finalisation and the diff between revisions. Views parse, call the review
services, render; state changes are plain POST forms answered with 303 (done), 422 (the page with
its errors) or 409 (someone acted first: what changed, nothing saved)."""
from __future__ import annotations

import uuid

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from .. import clock
from ..db import db
from ..security import roles
from ..services import corrections, review, review_conflicts
from ..services.errors import DomainError, Forbidden, NotFound
from . import render
from .review_forms import (CommentsSchema, ConflictSchema, CorrectionItemSchema, CorrectionSchema,
                           QueueFiltersSchema, VersionSchema, item_comments)
from .review_pages import audit_context, correction_context, diff_context

bp = Blueprint("review", __name__, url_prefix="/review")
REVIEW_ROLES = ("auditor", "qoe_teacher", "admin")
VIEW_ROLES = ("auditor", "qoe_teacher", "admin", "maintainer")
ACTOR_ROLES = ("auditor", "qoe_teacher")
STALE_CODES = ("review.stale", "conflict.resolved", "review.not_submitted", "correction.exists",
               "correction.not_finalised", "correction.not_editable")


@bp.app_template_filter("local_time")
def _local_time(moment, fmt: str = "%-d %b %Y %H:%M") -> str:
    return clock.local(moment).strftime(fmt) if moment else ""


@bp.get("/")
@roles(*REVIEW_ROLES)
def queue():
    """Submitted audits awaiting review, oldest first; an HTMX request gets only the list."""
    try:
        filters = QueueFiltersSchema().load(request.args)
    except ValidationError as exc:
        return render("review/queue.html", "review/_queue.html", status=422, entries=[], filters=request.args,
                      errors=exc.messages, types=_types())
    entries = review.queue(db.session, current_user, filters["audit_type"])
    return render("review/queue.html", "review/_queue.html", entries=entries, filters=filters, errors={},
                  types=_types())


@bp.get("/audits/<uuid:audit_id>")
@roles(*VIEW_ROLES)
def audit(audit_id: uuid.UUID):
    """One audit for review: header, sections with RAGs, items, evidence, actions, conflicts, decisions."""
    found = review.audit_for_view(db.session, current_user, audit_id)
    return render("review/audit.html", **audit_context(db.session, current_user, found, done=request.args.get("done")))


@bp.post("/audits/<uuid:audit_id>/return")
@roles(*ACTOR_ROLES)
def return_audit(audit_id: uuid.UUID):
    """Return the audit to its author with comments."""
    _must_review(audit_id)
    try:
        form = CommentsSchema().load(request.form)
        review.return_audit(db.session, current_user, audit_id, form["version"], form["overall"],
                            item_comments(request.form))
    except (ValidationError, DomainError) as exc:
        return _failed(exc, audit_id, "return")
    db.session.commit()
    return redirect(url_for("review.audit", audit_id=audit_id, done="returned"), code=303)


@bp.post("/audits/<uuid:audit_id>/finalise")
@roles(*ACTOR_ROLES)
def finalise(audit_id: uuid.UUID):
    """Finalise the audit when every guard passes."""
    _must_review(audit_id)
    try:
        review.finalise_audit(db.session, current_user, audit_id, VersionSchema().load(request.form)["version"])
    except (ValidationError, DomainError) as exc:
        return _failed(exc, audit_id, "finalise")
    db.session.commit()
    return redirect(url_for("review.audit", audit_id=audit_id, done="finalised"), code=303)


@bp.post("/audits/<uuid:audit_id>/conflicts/<int:conflict_id>")
@roles(*ACTOR_ROLES)
def resolve_conflict(audit_id: uuid.UUID, conflict_id: int):
    """Keep one value of a sync conflict."""
    _must_review(audit_id)
    try:
        form = ConflictSchema().load(request.form)
        review_conflicts.resolve_conflict(db.session, current_user, audit_id, conflict_id, form["choice"],
                                          form["note"], form["version"])
    except (ValidationError, DomainError) as exc:
        return _failed(exc, audit_id, f"conflict-{conflict_id}")
    db.session.commit()
    return redirect(url_for("review.audit", audit_id=audit_id, done="resolved", _anchor="conflicts"), code=303)


@bp.post("/audits/<uuid:audit_id>/corrections")
@roles(*ACTOR_ROLES)
def start_correction(audit_id: uuid.UUID):
    """Start a correction of a finalised audit (a new revision with a reason)."""
    _must_review(audit_id, any_author=True)
    try:
        form = CorrectionSchema().load(request.form)
        correction = corrections.start_correction(db.session, current_user, audit_id, form["reason"], form["version"])
    except (ValidationError, DomainError) as exc:
        return _failed(exc, audit_id, "correction")
    db.session.commit()
    return redirect(url_for("review.correction", audit_id=correction.id), code=303)


@bp.get("/corrections/<uuid:audit_id>")
@roles(*VIEW_ROLES)
def correction(audit_id: uuid.UUID):
    """A correction in progress: its reason, the change form and the diff against the finalised revision."""
    found = review.audit_for_view(db.session, current_user, audit_id)
    if found.corrects_audit_id is None:
        raise NotFound("correction.not_found", "This audit is not a correction")
    return render("review/correction.html", **correction_context(db.session, current_user, found,
                                                                 done=request.args.get("done")))


@bp.post("/corrections/<uuid:audit_id>/items")
@roles(*ACTOR_ROLES)
def correct_item(audit_id: uuid.UUID):
    """Change one item of a correction."""
    corrections.correction_for_edit(db.session, current_user, audit_id)
    try:
        form = CorrectionItemSchema().load(request.form)
        corrections.correct_item(db.session, current_user, audit_id, form["item_key"], form["rating"], form["note"],
                                 form["na_reason"])
    except (ValidationError, DomainError) as exc:
        return _failed(exc, audit_id, "item", page="correction")
    db.session.commit()
    return redirect(url_for("review.correction", audit_id=audit_id, done="changed", _anchor="diff"), code=303)


@bp.post("/corrections/<uuid:audit_id>/submit")
@roles(*ACTOR_ROLES)
def submit_correction(audit_id: uuid.UUID):
    """Send a correction for review."""
    corrections.correction_for_edit(db.session, current_user, audit_id)
    try:
        corrections.submit_correction(db.session, current_user, audit_id, VersionSchema().load(request.form)["version"])
    except (ValidationError, DomainError) as exc:
        return _failed(exc, audit_id, "submit", page="correction")
    db.session.commit()
    return redirect(url_for("review.audit", audit_id=audit_id, done="submitted"), code=303)


@bp.get("/audits/<uuid:audit_id>/diff")
@roles(*VIEW_ROLES)
def diff(audit_id: uuid.UUID):
    """What a revision changed against the revision it corrects, item by item."""
    found = review.audit_for_view(db.session, current_user, audit_id)
    return render("review/diff.html", **diff_context(db.session, found))


@bp.post("/lead-reviewers/<int:user_id>")
@roles("admin")
def set_lead_reviewer(user_id: int):
    """Make an auditor a lead reviewer, or stop them being one."""
    review.set_lead_reviewer(db.session, current_user, user_id, request.form.get("lead") == "yes")
    db.session.commit()
    return redirect(url_for("admin.users", lead_changed=user_id), code=303)


def _failed(exc, audit_id: uuid.UUID, form: str, page: str = "audit"):
    """Bad input: the page again with its errors (422); someone acted first: what changed (409)."""
    db.session.rollback()
    if isinstance(exc, DomainError) and exc.code in STALE_CODES:
        return render("review/stale.html", status=409, message=exc.message, audit_id=audit_id,
                      changed=exc.details.get("changed", []), back_to=page)
    if isinstance(exc, DomainError) and exc.status != 422:
        raise exc
    errors = exc.messages if isinstance(exc, ValidationError) else exc.details
    found = review.audit_for_view(db.session, current_user, audit_id)
    build = correction_context if page == "correction" else audit_context
    return render(f"review/{page}.html", status=422,
                  **build(db.session, current_user, found, errors=errors, failed_form=form, form=request.form))


def _must_review(audit_id: uuid.UUID, any_author: bool = False) -> None:
    """Refuse someone who may not act before reading their form (403/404, never a 422 for them)."""
    found = review.audit_for_view(db.session, current_user, audit_id)
    problem = review.reviewer_role_problem(current_user, found.audit_type)
    if any_author and problem:
        raise Forbidden("review.not_reviewer", problem)
    if not any_author:
        review.check_reviewer(db.session, current_user, found)


def _types() -> list[str]:
    return [t for t in ("safeguarding", "health_safety", "quality_education")
            if current_user.role == "admin" or review.reviewer_role_problem(current_user, t) is None]
