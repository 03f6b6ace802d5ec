"""The role-aware home page and a health check for load balancers."""
from __future__ import annotations

from flask import Blueprint
from flask_login import current_user
from sqlalchemy import text

from .. import clock, grading_queries, maintainer_queries, queries
from ..db import db
from ..models.enums import ROLES
from ..security import public, roles
from ..services import review
from . import render

bp = Blueprint("home", __name__)


@bp.get("/")
@roles(*ROLES)
def index():
    """Show each role what it works on first."""
    session, user = db.session, current_user
    context: dict = {}
    if user.role in ("auditor", "qoe_teacher"):
        context["visits"] = queries.visits_for(session, user, upcoming_only=True)
    elif user.role == "maintainer":
        context["queue"] = maintainer_queries.queue(session)
        context["concerns"] = queries.open_concerns(session)
        context["counts"] = queries.status_counts(session)
    elif user.role == "school":
        context["listed"] = queries.listed_count(session)
    elif user.role == "admin":
        context["counts"] = queries.status_counts(session)
        context["templates"] = queries.template_version_summaries(session)
    if user.role in ("admin", "qoe_teacher") or (user.role == "auditor" and user.is_lead_reviewer):
        context["review_waiting"] = len(review.queue(session, user))
    if user.role in ("qoe_teacher", "maintainer"):
        context["queue_counts"] = grading_queries.home_counts(session, user, clock.now())
    return render(f"home/{user.role}.html", **context)


@bp.get("/healthz")
@public
def health():
    """Answer 200 when the database answers (for the load balancer)."""
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}
