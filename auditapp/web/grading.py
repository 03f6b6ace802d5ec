"""Quality-of-education grading and moderation pages, the QoE teachers' queues, and the
maintainers' list of audits finalised this week. Views parse, call services.grading, render."""
from __future__ import annotations

import uuid

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from .. import clock, grading_queries as gq
from ..db import db
from ..extensions import htmx
from ..security import roles
from ..services import grading
from ..services.errors import Conflict, Invalid
from ..services.scoring import OUTCOME_LABELS, RATING_LABELS
from . import render
from .grading_forms import QueueFiltersSchema, grade_changes, moderation_decisions

bp = Blueprint("grading", __name__)
VIEWERS = ("qoe_teacher", "admin")


@bp.context_processor
def _helpers() -> dict:
    return {"when": lambda moment, fmt="%-d %b %Y %H:%M": clock.local(moment).strftime(fmt)}


@bp.get("/grading/")
@roles(*VIEWERS)
def queues():
    """Visits waiting for grades and grades waiting for a second teacher, oldest first."""
    filters, errors = _filters()
    now = clock.now()
    context = {"to_grade": [], "to_moderate": []} if errors else {
        "to_grade": gq.visits_to_grade(db.session, current_user, filters),
        "to_moderate": gq.moderations_to_do(db.session, current_user, filters)}
    return render("grading/queues.html", "grading/_queues.html", status=422 if errors else 200, now=now,
                  errors=errors, filters=request.args, councils=gq.councils(db.session), **context)


@bp.get("/grading/<uuid:qe_audit_id>")
@roles(*VIEWERS)
def grade_form(qe_audit_id: uuid.UUID):
    """The grading form: each judgement area with its items, the grade descriptors and a rationale."""
    sheet = grading.load_sheet(db.session, qe_audit_id)
    return _grade_page(sheet, _stored(sheet, "grade", "rationale"), saved=request.args.get("saved"))


@bp.post("/grading/<uuid:qe_audit_id>")
@roles("qoe_teacher")
def grade_submit(qe_audit_id: uuid.UUID):
    """Save grades; bad input gets the form back (422), a stale form a clear message and no change (409)."""
    sheet = grading.load_sheet(db.session, qe_audit_id)
    try:
        written = grading.record_grades(db.session, current_user, grade_changes(sheet, request.form))
    except (ValidationError, Invalid, Conflict) as exc:
        return _again(exc, qe_audit_id, _grade_page, "grade", "rationale")
    db.session.commit()
    if htmx:
        fresh = grading.load_sheet(db.session, qe_audit_id)
        return _grade_page(fresh, _stored(fresh, "grade", "rationale"), saved=str(len(written)))
    return redirect(url_for("grading.grade_form", qe_audit_id=qe_audit_id, saved=len(written)), code=303)


@bp.get("/grading/<uuid:qe_audit_id>/moderation")
@roles(*VIEWERS)
def moderation_form(qe_audit_id: uuid.UUID):
    """The moderation form: agree with each grade or change it with a reason."""
    sheet = grading.load_sheet(db.session, qe_audit_id)
    return _moderation_page(sheet, _stored(sheet, "moderation", "reason"), saved=request.args.get("saved"))


@bp.post("/grading/<uuid:qe_audit_id>/moderation")
@roles("qoe_teacher")
def moderation_submit(qe_audit_id: uuid.UUID):
    """Save moderation decisions; same answers as grading for bad input and stale forms."""
    sheet = grading.load_sheet(db.session, qe_audit_id)
    try:
        decisions = moderation_decisions(sheet, _moderatable(sheet), request.form)
        written = grading.moderate_grades(db.session, current_user, decisions)
    except (ValidationError, Invalid, Conflict) as exc:
        return _again(exc, qe_audit_id, _moderation_page, "moderation", "reason")
    db.session.commit()
    if htmx:
        fresh = grading.load_sheet(db.session, qe_audit_id)
        return _moderation_page(fresh, _stored(fresh, "moderation", "reason"), saved=str(len(written)))
    return redirect(url_for("grading.moderation_form", qe_audit_id=qe_audit_id, saved=len(written)), code=303)


@bp.get("/finalised-this-week")
@roles("maintainer", "admin")
def finalised():
    """Audits of every type finalised since Monday, with outcome and provider; filter by type and council."""
    filters, errors = _filters()
    now = clock.now()
    rows = [] if errors else gq.finalised_since(db.session, gq.week_start(now), filters)
    return render("grading/finalised.html", "grading/_finalised.html", status=422 if errors else 200, rows=rows,
                  errors=errors, filters=request.args, councils=gq.councils(db.session), since=gq.week_start(now),
                  outcome_labels=OUTCOME_LABELS)


# ---- helpers -----------------------------------------------------------------------------------

def _filters() -> tuple[gq.QueueFilters, dict]:
    try:
        data = QueueFiltersSchema().load(request.args)
    except ValidationError as exc:
        return gq.QueueFilters(), exc.messages
    return gq.QueueFilters(int(data["council"]) if data["council"] else None, data["show"] == "mine",
                           data["audit_type"]), {}


def _stored(sheet: grading.Sheet, choice: str, text: str) -> dict:
    """Form values as stored: what a fresh form shows."""
    form = {}
    for key, row in sheet.rows.items():
        form[f"version-{key}"] = row.version
        if choice == "grade":
            form[f"grade-{key}"], form[f"rationale-{key}"] = row.grade, row.rationale or ""
        elif row.moderation:
            form[f"moderation-{key}"] = "agreed" if row.moderation == "agreed" else row.moderated_grade
            form[f"reason-{key}"] = row.moderation_reason or ""
    return form


def _again(exc: Exception, audit_id: uuid.UUID, page, choice: str, text: str):
    """The form again with what was entered: 422 with field errors, or 409 with what changed meanwhile."""
    db.session.rollback()
    sheet = grading.load_sheet(db.session, audit_id)
    form = {key: value for key, value in request.form.items() if key != "csrf_token"}
    if isinstance(exc, Conflict):
        # The teacher has now seen the other change: a second save may overwrite it on purpose.
        form.update({k: v for k, v in _stored(sheet, choice, text).items() if k.startswith("version-")})
        return page(sheet, form, conflict=exc.message, status=409)
    return page(sheet, form, errors=exc.messages if isinstance(exc, ValidationError) else exc.details, status=422)


def _moderatable(sheet: grading.Sheet) -> list[str]:
    """Areas the signed-in teacher may moderate: graded by someone else, on an audit they did not carry out."""
    if current_user.role != "qoe_teacher" or sheet.audit.created_by_id == current_user.id:
        return []
    return [a["key"] for a in sheet.areas if a["key"] in sheet.rows
            and sheet.rows[a["key"]].graded_by_id != current_user.id]


def _common(sheet: grading.Sheet) -> dict:
    ids = {sheet.audit.created_by_id} | {r.graded_by_id for r in sheet.rows.values()} | {
        r.moderated_by_id for r in sheet.rows.values() if r.moderated_by_id}
    visit = sheet.audit.visit
    return {"sheet": sheet, "audit": sheet.audit, "visit": visit, "provider": visit.provider,
            "people": gq.people(db.session, ids), "labels": {g["value"]: g["label"] for g in sheet.grades},
            "items": gq.area_context(db.session, sheet.audit, sheet.areas), "rating_labels": RATING_LABELS,
            "open": sheet.audit.status == "submitted" and current_user.role == "qoe_teacher",
            "blockers": grading.finalise_blockers(db.session, sheet.audit)}


def _grade_page(sheet, form, errors=None, conflict=None, saved=None, status=200):
    return render("grading/grade.html", "grading/_grade_form.html", status=status, form=form, errors=errors or {},
                  conflict=conflict, saved=saved, **_common(sheet))


def _moderation_page(sheet, form, errors=None, conflict=None, saved=None, status=200):
    return render("grading/moderate.html", "grading/_moderation_form.html", status=status, form=form,
                  errors=errors or {}, conflict=conflict, saved=saved, moderatable=_moderatable(sheet),
                  **_common(sheet))
