"""The maintainers' directory work: the decision queue, a provider's page with "why is it …?" and
the decision form, its history timeline, the weekly summary of status changes, and the roll-up
settings. Views parse, call services.decisions, render. A decision answers 303 (or HX-Redirect)
when recorded, 422 with the form and the service's message when refused, and 409 with what
changed when the form was stale; nothing is written in either case."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from .. import clock, maintainer_queries as mq
from ..db import db
from ..security import roles
from ..services import decisions
from ..services.eligibility import EligibilityConfig
from ..services.errors import Conflict, DomainError
from . import done, render
from .maintainer_forms import DecisionSchema, WeekSchema, flat_errors
from .maintainer_pages import labels, provider_context, provider_or_404, today

bp = Blueprint("maintainers", __name__)
VIEWERS = ("maintainer", "admin")
SETTING_LABELS = {
    "validity_months": ("Each audit is valid for", "months from its visit date"),
    "warning_days": ("Re-audit reminders start", "days before an audit expires"),
    "overdue_action_grace_days": ("A safeguarding or health and safety action overdue by more than",
                                  "days suspends the provider"),
    "expiry_grace_days": ("A safeguarding or health and safety audit expired more than", "days ago suspends"),
    "qe_window_months": ("A listed provider needs a quality of education audit within", "months of first listing"),
    "developing_is_conditional": ("A Developing quality of education grade makes the provider Conditional", ""),
    "weak_revisit_days": ("After a Weak grade, the quality of education revisit is due within", "days"),
    "developing_revisit_months": ("After a Developing grade, the revisit is due after", "months"),
}


@bp.app_template_filter("uk_time")
def _uk_time(moment, fmt: str = "%-d %b %Y %H:%M") -> str:
    return clock.local(moment).strftime(fmt) if moment else ""


@bp.get("/maintainers/queue")
@roles(*VIEWERS)
def queue():
    """Providers waiting for a decision: safeguarding first, then by urgency, then longest waiting."""
    return render("maintainers/queue.html", providers=mq.queue(db.session), **labels())


@bp.get("/maintainers/providers/<int:provider_id>")
@roles(*VIEWERS)
def provider(provider_id: int):
    """A provider as maintainers see it: published and computed status, why, decisions, triggers."""
    found = provider_or_404(db.session, provider_id)
    return render("maintainers/provider.html", **provider_context(db.session, found, current_user,
                                                                  done=request.args.get("done")))


@bp.get("/maintainers/providers/<int:provider_id>/why")
@roles(*VIEWERS)
def why(provider_id: int):
    """Why the provider has its computed status: rule, reasons, dates and the facts behind them."""
    found = provider_or_404(db.session, provider_id)
    return render("maintainers/why.html", "maintainers/_why.html", provider=found,
                  why=mq.why(db.session, found, today()), **labels())


@bp.post("/maintainers/providers/<int:provider_id>/decisions")
@roles("maintainer")
def decide(provider_id: int):
    """Record a decision with its reason on the version of the provider the maintainer saw."""
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        data = DecisionSchema().load(request.form)
        row = decisions.decide(db.session, current_user, decisions.Decision(
            provider_id, data["decision"], data["reason"], data["version"],
            safeguarding=data["safeguarding"] and data["decision"] == "suspend"), today())
    except ValidationError as exc:
        return _decision_again(provider_id, form, status=422, errors=flat_errors(exc.messages))
    except Conflict as exc:
        return _decision_again(provider_id, form, status=409, stale=exc.details.get("changes", [exc.message]))
    except DomainError as exc:
        if not exc.code.startswith("decision."):
            raise
        return _decision_again(provider_id, form, status=422, refused=exc.message, errors=flat_errors(exc.details))
    db.session.commit()
    return done(url_for("maintainers.provider", provider_id=provider_id, done=row.decision))


@bp.get("/maintainers/providers/<int:provider_id>/history")
@roles(*VIEWERS)
def history(provider_id: int):
    """The provider's status changes and decisions, newest first, with reasons and who."""
    found = provider_or_404(db.session, provider_id)
    return render("maintainers/history.html", provider=found, entries=mq.history(db.session, found.id), **labels())


@bp.get("/maintainers/summary")
@roles(*VIEWERS)
def summary():
    """Published status changes in one week (this week unless another is picked), counted by new status."""
    try:
        day = WeekSchema().load(request.args)["week"] or today()
    except ValidationError as exc:
        return render("maintainers/summary.html", "maintainers/_summary.html", status=422,
                      errors=flat_errors(exc.messages), week=None, weeks=_recent_weeks(), **labels())
    week = mq.week_summary(db.session, day)
    return render("maintainers/summary.html", "maintainers/_summary.html", errors={}, week=week,
                  weeks=_recent_weeks(), previous=week.start - timedelta(days=7),
                  following=week.start + timedelta(days=7) if week.start < mq.monday_of(today()) else None, **labels())


@bp.get("/settings/roll-up")
@roles(*VIEWERS)
def thresholds():
    """The roll-up's thresholds, read-only, and where they are set."""
    settings = [(SETTING_LABELS.get(name, (name, "")), name, value) for name, value in EligibilityConfig().describe()]
    return render("maintainers/thresholds.html", settings=settings)


def _decision_again(provider_id: int, form: dict, status: int, **problem):
    """The decision form again with what was entered, the fresh provider version and the problem."""
    db.session.rollback()
    found = provider_or_404(db.session, provider_id)
    context = provider_context(db.session, found, current_user, form=form, **problem)
    context["form"]["version"] = found.version if status == 409 else form.get("version", found.version)
    return render("maintainers/provider.html", "maintainers/_decision.html", status=status, **context)


def _recent_weeks() -> list:
    this_monday = mq.monday_of(today())
    return [this_monday - timedelta(days=7 * n) for n in range(26)]
