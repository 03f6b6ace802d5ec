"""Action plans: reviewers confirm actions at review; the auditor or a maintainer follows them up.

The review page (web/review.py) links to the confirm page and may embed actions/_confirm.html.
"""
from __future__ import annotations

import uuid

from flask import Blueprint, current_app, redirect, request, url_for
from flask_login import current_user
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy import select

from .. import clock
from ..db import db
from ..models import Action, Audit, Evidence, User
from ..models.enums import ACTION_PRIORITIES
from ..security import roles
from ..services import actions, review, share_links
from ..services.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from ..services.reports import finalised_audit
from . import render

bp = Blueprint("actions", __name__)
REVIEW_ROLES = ("auditor", "qoe_teacher")  # services.actions.may_review narrows to the audit's reviewers
PLAN_ROLES = ("admin", "maintainer", "qoe_teacher", "auditor")  # services.reports.may_see_report narrows
FOLLOW_UP_ROLES = ("maintainer", "auditor", "qoe_teacher")  # services.actions.may_follow_up narrows
DATE_ERROR = "Enter a real date, for example 15 January 2027"


class _ConfirmSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    owner_role = fields.Str(load_default="")
    due_date = fields.Date(load_default=None, error_messages={"invalid": DATE_ERROR})
    priority = fields.Str(load_default="", validate=validate.OneOf(ACTION_PRIORITIES, error="Choose a priority"))
    description = fields.Str(load_default=None)
    version = fields.Int(load_default=None, strict=False)


@bp.get("/audits/<uuid:audit_id>/actions/confirm")
@roles(*REVIEW_ROLES)
def confirm_form(audit_id: uuid.UUID):
    """The reviewer's form: owner, due date and priority of each action, before finalising."""
    audit = _reviewed_audit(audit_id)
    return render("actions/confirm.html", "actions/_confirm.html", **_confirm_context(audit, {}, None))


@bp.post("/audits/<uuid:audit_id>/actions/confirm")
@roles(*REVIEW_ROLES)
def confirm(audit_id: uuid.UUID):
    """Confirm the actions; bad input gets the form back with 422, a stale form with 409 and what changed."""
    audit = _reviewed_audit(audit_id)
    confirmations, errors = _parse_confirmations(request.form)
    try:
        if errors:
            raise Invalid("action.invalid", "Check the actions", errors)
        actions.confirm_actions(db.session, current_user, audit, confirmations)
    except (Invalid, Conflict) as exc:
        db.session.rollback()
        return render("actions/confirm.html", "actions/_confirm.html", status=exc.status,
                      **_confirm_context(audit, exc.details if exc.status == 422 else {}, exc, request.form))
    db.session.commit()
    if request.headers.get("HX-Request"):
        return render("actions/confirm.html", "actions/_confirm.html", **_confirm_context(audit, {}, None, done=True))
    return redirect(url_for("actions.confirm_form", audit_id=audit.id, confirmed=1), code=303)


@bp.get("/audits/<uuid:audit_id>/actions")
@roles(*PLAN_ROLES)
def plan(audit_id: uuid.UUID):
    """A finalised audit's action plan: status of each action, follow-up forms and share links."""
    audit = finalised_audit(db.session, current_user, audit_id)
    return render("actions/plan.html", **plan_context(audit))


@bp.post("/actions/<uuid:action_id>/provider-done")
@roles(*FOLLOW_UP_ROLES)
def provider_done(action_id: uuid.UUID):
    """Record that the provider says an action is done (it stays open until verified)."""
    return _follow_up(action_id, lambda: actions.report_provider_done(
        db.session, current_user, action_id, request.form.get("note", "")))


@bp.post("/actions/<uuid:action_id>/verify")
@roles(*FOLLOW_UP_ROLES)
def verify(action_id: uuid.UUID):
    """Close an action as verified, with a note and an evidence item."""
    return _follow_up(action_id, lambda: actions.verify_action(
        db.session, current_user, action_id, request.form.get("note", ""), _uuid(request.form.get("evidence_id"))))


def _follow_up(action_id: uuid.UUID, change):
    row = db.session.get(Action, action_id)
    if row is None:
        raise NotFound("action.not_found", "There is no such action")
    errors: dict = {}
    try:
        change()
    except DomainError as exc:
        if exc.status != 422:
            raise
        db.session.rollback()
        errors = exc.details
    else:
        db.session.commit()
        if not request.headers.get("HX-Request"):
            return redirect(url_for("actions.plan", audit_id=row.audit_id, _anchor=f"action-{row.id}"), code=303)
    audit = db.session.get(Audit, row.audit_id)
    entry = next(e for e in actions.action_plan(db.session, audit, clock.today()) if e.action.id == action_id)
    context = plan_context(audit) | {"entry": entry, "errors": {str(action_id): errors}, "form": request.form}
    return render("actions/plan.html", "actions/_action.html", status=422 if errors else 200, **context)


def _reviewed_audit(audit_id: uuid.UUID) -> Audit:
    audit = review.audit_for_view(db.session, current_user, audit_id)  # audit.not_found also when not theirs
    if not actions.may_review(db.session, current_user, audit):
        raise Forbidden("review.not_reviewer", "Only a reviewer of this audit, not its author, may confirm its actions")
    return audit


def _parse_confirmations(form) -> tuple[list[actions.ActionConfirmation], dict]:
    confirmations, errors = [], {}
    for raw_id in form.getlist("action_id"):
        action_id = _uuid(raw_id)
        if action_id is None:
            continue
        values = {name: form.get(f"{name}-{action_id}") for name in _ConfirmSchema().fields}
        values = {name: value for name, value in values.items()
                  if value is not None and not (value == "" and name in ("due_date", "version"))}
        try:
            data = _ConfirmSchema().load(values)
        except ValidationError as exc:
            errors.update({f"{name}-{action_id}": messages for name, messages in exc.messages.items()})
            continue
        confirmations.append(actions.ActionConfirmation(action_id, data["owner_role"], data["due_date"], data["priority"],
                                                        data["description"], data["version"]))
    return confirmations, errors


def _confirm_context(audit: Audit, errors: dict, failure, form=None, done: bool = False) -> dict:
    rows = [a for a in actions.actions_of(db.session, audit.id) if a.status in ("proposed", "open")]
    return {"audit": audit, "confirm_actions": rows, "errors": errors or {}, "form": form or {},
            "stale": failure if failure is not None and failure.status == 409 else None,
            "done": done or request.args.get("confirmed") == "1", "priorities": actions.PRIORITY_LABELS,
            "status_labels": actions.STATUS_LABELS, "editable": audit.status == "submitted",
            "review_url": _optional_url("review.audit", audit_id=audit.id)}


def plan_context(audit: Audit) -> dict:
    session, user, today = db.session, current_user, clock.today()
    entries = actions.action_plan(session, audit, today)
    follow_up = actions.may_follow_up(session, user, audit)
    evidence = {e.action.id: actions.verification_evidence(session, e.action) for e in entries if follow_up and e.is_open}
    names = dict(session.execute(select(Evidence.id, Evidence.filename)
                                 .where(Evidence.id.in_([e.action.verification_evidence_id for e in entries
                                                         if e.action.verification_evidence_id]))).all())
    people = dict(session.execute(select(User.id, User.full_name).where(
        User.id.in_([e.action.verified_by_id for e in entries if e.action.verified_by_id]))).all())
    may_share = share_links.may_share(session, user, audit)
    return {"audit": audit, "entries": entries, "follow_up": follow_up, "people": people,
            "evidence_choices": evidence, "evidence_names": names, "errors": {}, "form": {},
            "priority_labels": actions.PRIORITY_LABELS,
            "may_share": may_share, "links": share_links.links_for(session, audit.id) if may_share else [],
            "link_state": share_links.link_state, "new_link": None,
            "share_days": current_app.config["SHARE_LINK_DAYS"], "today": today}


def _optional_url(endpoint: str, **values) -> str | None:
    """A link to another part of the service, when that part is installed."""
    return url_for(endpoint, **values) if endpoint in current_app.view_functions else None


def _uuid(raw) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except (TypeError, ValueError):
        return None
