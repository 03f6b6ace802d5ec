"""Visits: the auditor's and teacher's assigned visits; every visit for admins and maintainers."""
from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from .. import queries
from ..db import db
from ..security import roles
from ..services import access, evidence
from . import render

bp = Blueprint("visits", __name__, url_prefix="/visits")
VISIT_ROLES = ("auditor", "qoe_teacher", "maintainer", "admin")


@bp.get("/")
@roles(*VISIT_ROLES)
def index():
    """List the visits the user may see."""
    return render("visits/index.html", visits=queries.visits_for(db.session, current_user))


@bp.get("/<int:visit_id>")
@roles(*VISIT_ROLES)
def detail(visit_id: int):
    """Show one visit: provider, site, date, audit types, who is assigned."""
    visit = queries.visit_for(db.session, current_user, visit_id)
    return render("visits/detail.html", visit=visit, audit_types=queries.audit_types_of(visit),
                  evidence_summary=[(audit, count) for audit, count in evidence.visit_evidence(db.session, visit.id)
                                    if access.sees_detail(current_user, audit.audit_type)])  # need to know
