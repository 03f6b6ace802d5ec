"""Placement notifications: schools notify the LA of each AP placement, review it and record the outcome.

Schools write their own; LA roles (maintainers, LA officers, admins) read every submitted one.
Every read of a placement is logged by the service.
"""
from __future__ import annotations

import uuid
from datetime import date

from flask import Blueprint, current_app, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import clock
from ..db import db
from ..models import Organisation, PlacementReview, Provider
from ..models.enums import DIRECTORY_STATUS_LABELS, PLACEMENT_OUTCOME_LABELS
from ..security import roles
from ..services import placements as service
from ..services.errors import DomainError, Invalid, NotFound
from . import done, render

bp = Blueprint("placements", __name__, url_prefix="/placements")
READERS = ("school",) + service.LA_ROLES


@bp.get("", endpoint="index")
@roles(*READERS)
def index():
    """The school's own placements, or every submitted one for LA roles."""
    rows = db.session.scalars(service.visible(db.session, current_user).limit(500)).all()
    providers = _provider_names({p.provider_id for p in rows if p.provider_id})
    return render("placements/index.html", placements=rows, providers=providers)


@bp.get("/new")
@roles("school")
def new():
    """An empty notification form."""
    return _form_page(None, {}, {}, [])


@bp.post("/new")
@roles("school")
def create():
    """Save a draft, or submit, a new notification."""
    return _save(None)


@bp.get("/<uuid:placement_id>/edit")
@roles("school")
def edit(placement_id: uuid.UUID):
    """The school's draft, to finish."""
    placement = service.read(db.session, current_user, placement_id)
    db.session.commit()  # the read is logged
    if placement.status != "draft":
        return redirect(url_for("placements.detail", placement_id=placement.id), code=303)
    return _form_page(placement, _values(placement), {}, service.warnings(placement))


@bp.post("/<uuid:placement_id>/edit")
@roles("school")
def update(placement_id: uuid.UUID):
    """Save or submit the draft."""
    return _save(placement_id)


@bp.get("/<uuid:placement_id>")
@roles(*READERS)
def detail(placement_id: uuid.UUID):
    """One placement with its reviews; the view is logged."""
    placement = service.read(db.session, current_user, placement_id)
    reviews = db.session.scalars(select(PlacementReview).where(PlacementReview.placement_id == placement.id)
                                 .order_by(PlacementReview.review_date)).all()
    provider = db.session.get(Provider, placement.provider_id) if placement.provider_id else None
    db.session.commit()
    return render("placements/detail.html", placement=placement, reviews=reviews, provider=provider,
                  warnings=service.warnings(placement), outcomes=PLACEMENT_OUTCOME_LABELS, errors={}, form={})


@bp.post("/<uuid:placement_id>/reviews")
@roles("school")
def add_review(placement_id: uuid.UUID):
    """Record a review of a running placement."""
    form = request.form
    try:
        review_date = _date(form.get("review_date"), "review_date")
        next_date = _date(form.get("next_review_date"), "next_review_date", required=False)
        service.add_review(db.session, current_user, placement_id, review_date, form.get("progress", ""), next_date)
    except Invalid as exc:
        return _detail_again(placement_id, exc.details)
    db.session.commit()
    return redirect(url_for("placements.detail", placement_id=placement_id, reviewed=1), code=303)


@bp.post("/<uuid:placement_id>/end")
@roles("school")
def end(placement_id: uuid.UUID):
    """Record how the placement ended."""
    form = request.form
    try:
        ended_on = _date(form.get("ended_on"), "ended_on")
        service.end(db.session, current_user, placement_id, form.get("outcome", ""), ended_on, form.get("outcome_note"))
    except Invalid as exc:
        return _detail_again(placement_id, exc.details)
    db.session.commit()
    return redirect(url_for("placements.detail", placement_id=placement_id, ended=1), code=303)


@bp.get("/at-provider/<int:provider_id>")
@roles(*service.LA_ROLES)
def at_provider(provider_id: int):
    """LA roles: a provider's running placements, and those a status drop affected (to tell commissioners)."""
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        raise NotFound("provider.not_found", "There is no such provider")
    running = db.session.scalars(service.running_at(db.session, provider.id, clock.today())).all()
    affected = service.affected_at(db.session, provider.id)
    schools = _school_names({p.school_id for p in running} | {p.school_id for p, _ in affected})
    return render("placements/at_provider.html", provider=provider, running=running, affected=affected,
                  schools=schools)


@bp.get("/provider-conditions")
@roles("school")
def provider_conditions():
    """The chosen provider's status and open conditions (an HTMX fragment beside the provider choice)."""
    provider = db.session.get(Provider, request.args.get("provider_id", type=int) or 0)
    return render("placements/_conditions.html", "placements/_conditions.html", provider=provider,
                  conditions=service.conditions(provider) if provider else [], form={}, errors={})


def _save(placement_id: uuid.UUID | None):
    submit = request.form.get("action") == "submit"
    form = service.PlacementInput(dict(request.form), acknowledge_conditions=request.form.get("acknowledge_conditions") == "yes")
    try:
        saved = service.save(db.session, current_user, placement_id, form, _upn_key(), submit=submit,
                             today=clock.today(), expected_version=request.form.get("version", type=int))
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        db.session.rollback()
        placement = service.read(db.session, current_user, placement_id) if placement_id else None
        errors = exc.details if exc.status == 422 else {"form": [exc.message]}
        return _form_page(placement, request.form, errors, [], status=exc.status)
    db.session.commit()
    if submit:
        return done(url_for("placements.detail", placement_id=saved.placement.id, submitted=1))
    return done(url_for("placements.edit", placement_id=saved.placement.id, saved=1))


def _form_page(placement, form, errors, warnings, status: int = 200):
    providers = db.session.scalars(select(Provider).where(Provider.directory_status.in_(service.PLACEABLE),
                                                          Provider.closed_at.is_(None))
                                   .order_by(Provider.legal_name)).all()
    chosen = next((p for p in providers if str(p.id) == str(form.get("provider_id", ""))), None)
    return render("placements/form.html", "placements/_form.html", status=status, placement=placement, form=form,
                  errors=errors, warnings=warnings, providers=providers, provider=chosen,
                  conditions=service.conditions(chosen) if chosen else [], status_labels=DIRECTORY_STATUS_LABELS)


def _detail_again(placement_id, errors):
    db.session.rollback()
    placement = service.read(db.session, current_user, placement_id)
    reviews = db.session.scalars(select(PlacementReview).where(PlacementReview.placement_id == placement.id)).all()
    provider = db.session.get(Provider, placement.provider_id) if placement.provider_id else None
    db.session.commit()
    return render("placements/detail.html", status=422, placement=placement, reviews=reviews, provider=provider,
                  warnings=service.warnings(placement), outcomes=PLACEMENT_OUTCOME_LABELS, errors=errors,
                  form=request.form)


def _date(text: str | None, field: str, required: bool = True) -> date | None:
    text = (text or "").strip()
    if not text and not required:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid("placement.date_invalid", "Check the date", {field: ["Enter a real date, like 2027-01-15"]}) from None


def _values(placement) -> dict:
    names = ("pupil_initials", "year_group", "date_of_birth", "contact_name", "contact_role", "contact_email",
             "contact_phone", "attendance_at_referral", "interventions", "family_support", "safety_information",
             "risk_assessment_ref", "provider_id", "hours_per_week", "start_date", "end_date", "learning_outcomes",
             "success_measures", "exit_strategy", "child_voice", "family_voice", "other_ap", "attendance_code",
             "sensitive_notes")
    values = {n: "" if getattr(placement, n) is None else str(getattr(placement, n)) for n in names}
    values.update({flag: "on" for flag in ("send_support", "has_ehcp", "health_needs", "part_time")
                   if getattr(placement, flag)})
    return values


def _school_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {o.id: o.name for o in db.session.scalars(select(Organisation).where(Organisation.id.in_(ids)))}


def _provider_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {p.id: p.display_name for p in db.session.scalars(select(Provider).where(Provider.id.in_(ids)))}


def _upn_key() -> bytes:
    return str(current_app.config["UPN_HASH_KEY"]).encode()
