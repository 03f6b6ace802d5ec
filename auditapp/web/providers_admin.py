"""Maintainers' provider records and re-audit planning: create and edit a provider, attach a site,
mark it closed, record a re-audit trigger, the planner, and "schedule a visit". Views parse, call
services.provider_records / services.planner, render; bad input gets its form back with 422 and
the field messages, a stale edit 409 with what changed, and nothing is written."""
from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from .. import maintainer_queries as mq
from ..db import db
from ..security import roles
from ..services import planner, provider_records
from ..services.errors import Conflict, DomainError
from ..services.providers import NewSite
from . import done, render
from .maintainer_forms import (CloseSchema, EditProviderSchema, NewProviderSchema, ScheduleSchema, SiteSchema,
                               TriggerSchema, flat_errors, form_data)
from .maintainer_pages import (labels, provider_context, provider_or_404, record_form, record_options,
                               schedule_options, today)

bp = Blueprint("provider_records", __name__, url_prefix="/maintainers")
SITE_FIELDS = ("name", "address_line1", "town", "postcode")


@bp.get("/providers/new")
@roles("maintainer")
def new():
    """The form for a new provider (Pending until a maintainer approves its first listing)."""
    return _record_page(None, {}, {})


@bp.post("/providers/new")
@roles("maintainer")
def create():
    """Create the provider with its main site."""
    try:
        data = NewProviderSchema().load(form_data(request.form))
        site = NewSite(**{f: data.pop(f"site_{f}") for f in SITE_FIELDS})
        created = provider_records.create_record(db.session, current_user, _details(data), site, today())
    except (ValidationError, DomainError) as exc:
        return _again(exc, lambda errors, status, stale=None: _record_page(None, form_data(request.form), errors,
                                                                           status))
    db.session.commit()
    return done(url_for("maintainers.provider", provider_id=created.id, done="created"))


@bp.get("/providers/<int:provider_id>/edit")
@roles("maintainer")
def edit(provider_id: int):
    """The provider's record as a form."""
    found = provider_or_404(db.session, provider_id)
    return _record_page(found, record_form(found), {})


@bp.post("/providers/<int:provider_id>/edit")
@roles("maintainer")
def update(provider_id: int):
    """Save the record; the provider's version moves on and its status is recomputed."""
    try:
        data = EditProviderSchema().load(form_data(request.form))
        version = data.pop("version")
        provider_records.edit_record(db.session, current_user, provider_id, _details(data), version, today())
    except (ValidationError, DomainError) as exc:
        return _again(exc, lambda errors, status, stale=None: _record_page(
            provider_or_404(db.session, provider_id), _fresh_version(form_data(request.form), provider_id, stale),
            errors, status, stale))
    db.session.commit()
    return done(url_for("maintainers.provider", provider_id=provider_id, done="edited"))


@bp.get("/providers/<int:provider_id>/sites/new")
@roles("maintainer")
def new_site(provider_id: int):
    """The form to attach a site."""
    return _site_page(provider_or_404(db.session, provider_id), {"record_trigger": "yes"}, {})


@bp.post("/providers/<int:provider_id>/sites/new")
@roles("maintainer")
def add_site(provider_id: int):
    """Attach the site, recording a "new premises" trigger unless unticked."""
    try:
        data = SiteSchema().load(form_data(request.form))
        trigger = data.pop("record_trigger")
        provider_records.add_site(db.session, current_user, provider_id, NewSite(**data), today(), trigger)
    except (ValidationError, DomainError) as exc:
        return _again(exc, lambda errors, status, stale=None: _site_page(provider_or_404(db.session, provider_id),
                                                                         form_data(request.form), errors, status))
    db.session.commit()
    return done(url_for("maintainers.provider", provider_id=provider_id, done="site"))


@bp.get("/providers/<int:provider_id>/close")
@roles("maintainer")
def close_form(provider_id: int):
    """Confirm closing the provider, with a reason."""
    found = provider_or_404(db.session, provider_id)
    return _close_page(found, {"version": found.version}, {})


@bp.post("/providers/<int:provider_id>/close")
@roles("maintainer")
def close(provider_id: int):
    """Mark the provider closed: removed from the directory by a decision, history kept."""
    try:
        data = CloseSchema().load(request.form)
        provider_records.close_record(db.session, current_user, provider_id, data["reason"], data["version"], today())
    except (ValidationError, DomainError) as exc:
        return _again(exc, lambda errors, status, stale=None: _close_page(
            provider_or_404(db.session, provider_id), _fresh_version(dict(request.form), provider_id, stale),
            errors, status, stale))
    db.session.commit()
    return done(url_for("maintainers.provider", provider_id=provider_id, done="closed"))


@bp.post("/providers/<int:provider_id>/triggers")
@roles("maintainer")
def add_trigger(provider_id: int):
    """Record a notified change calling for a re-audit; the provider is recomputed."""
    try:
        data = TriggerSchema().load(request.form)
        provider_records.add_trigger(db.session, current_user, provider_id, data["kind"], data["note"], today())
    except (ValidationError, DomainError) as exc:
        return _again(exc, lambda errors, status, stale=None: render(
            "maintainers/provider.html", "maintainers/_triggers.html", status=status, **provider_context(
                db.session, provider_or_404(db.session, provider_id), current_user, trigger_form=dict(request.form),
                trigger_errors=errors)))
    db.session.commit()
    return done(url_for("maintainers.provider", provider_id=provider_id, done="trigger"))


@bp.get("/planner")
@roles("maintainer", "admin")
def planner_page():
    """Providers due a re-audit: expiring within the warning window, open triggers, recent concerns."""
    return render("maintainers/planner.html", rows=mq.planner(db.session, today()), today=today(), **labels())


@bp.get("/planner/<int:provider_id>/visits/new")
@roles("maintainer")
def schedule_form(provider_id: int):
    """The form to schedule a visit, with the provider's open triggers ticked."""
    found = provider_or_404(db.session, provider_id)
    options = schedule_options(db.session, found)
    form = {"trigger_ids": [t.id for t in options["triggers"]], "announced": "yes",
            "site_id": options["sites"][0].id if options["sites"] else ""}
    return render("maintainers/schedule.html", provider=found, form=form, errors={}, **options, **labels())


@bp.post("/planner/<int:provider_id>/visits/new")
@roles("maintainer")
def schedule(provider_id: int):
    """Create the visit for its auditors or teachers and link the chosen triggers to it."""
    try:
        data = ScheduleSchema().load(form_data(request.form))
        planner.schedule(db.session, current_user, planner.VisitPlan(provider_id=provider_id, **{
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}), today())
    except (ValidationError, DomainError) as exc:
        return _again(exc, lambda errors, status, stale=None: _schedule_page(provider_id, errors, status))
    db.session.commit()
    return done(url_for("provider_records.planner_page", scheduled=provider_id))


# ---- helpers -----------------------------------------------------------------------------------

def _details(data: dict) -> provider_records.ProviderDetails:
    lists = {k: tuple(data.pop(k)) for k in ("provision_types", "key_stages", "council_ids")}
    return provider_records.ProviderDetails(**data, **lists)


def _again(exc: Exception, page):
    """Roll back, then the page again: 422 with field errors, or 409 with what changed meanwhile."""
    db.session.rollback()
    if isinstance(exc, ValidationError):
        return page(flat_errors(exc.messages), 422)
    if isinstance(exc, Conflict):
        return page({}, 409, stale=exc.details.get("changes", [exc.message]))
    if exc.status not in (403, 422):
        raise exc
    return page(flat_errors(exc.details) or {"form": exc.message}, 422)


def _fresh_version(form: dict, provider_id: int, stale) -> dict:
    """After a stale form, the next save is made on the version the maintainer has now seen."""
    if stale:
        form["version"] = provider_or_404(db.session, provider_id).version
    return form


def _record_page(provider, form: dict, errors: dict, status: int = 200, stale=None):
    return render("maintainers/record.html", "maintainers/_record_form.html", status=status, provider=provider,
                  form=form, errors=errors, stale=stale, **record_options(db.session))


def _site_page(provider, form: dict, errors: dict, status: int = 200):
    return render("maintainers/site.html", "maintainers/_site_form.html", status=status, provider=provider,
                  form=form, errors=errors)


def _close_page(provider, form: dict, errors: dict, status: int = 200, stale=None):
    return render("maintainers/close.html", "maintainers/_close_form.html", status=status, provider=provider,
                  form=form, errors=errors, stale=stale)


def _schedule_page(provider_id: int, errors: dict, status: int):
    found = provider_or_404(db.session, provider_id)
    return render("maintainers/schedule.html", "maintainers/_schedule_form.html", status=status, provider=found,
                  form=form_data(request.form), errors=errors, **schedule_options(db.session, found), **labels())
