"""Share links: reviewers and maintainers make and withdraw them; anyone holding one sees the
action plan and the provider's report, read-only (services/share_links.py)."""
from __future__ import annotations

import uuid

from flask import Blueprint, current_app, make_response, render_template, url_for
from flask_login import current_user

from .. import clock
from ..db import db
from ..models import Audit, ShareLink
from ..security import public, roles
from ..services import actions, reports, share_links
from ..services.errors import NotFound
from . import render
from .actions import plan_context

bp = Blueprint("share_links", __name__)
SHARE_ROLES = ("maintainer", "auditor", "qoe_teacher")  # services.share_links.may_share narrows to reviewers


@bp.post("/audits/<uuid:audit_id>/share-links")
@roles(*SHARE_ROLES)
def create(audit_id: uuid.UUID):
    """Make a link to a finalised audit's action plan; the page shows it once."""
    audit = reports.finalised_audit(db.session, current_user, audit_id)
    _link, token = share_links.create_share_link(db.session, current_user, audit, current_app.config["SHARE_LINK_DAYS"])
    db.session.commit()
    context = plan_context(audit) | {"new_link": url_for("share_links.plan", token=token, _external=True)}
    return render("actions/plan.html", "actions/_share.html", **context)


@bp.post("/share-links/<int:link_id>/revoke")
@roles(*SHARE_ROLES)
def revoke(link_id: int):
    """Withdraw a link at once."""
    link = share_links.revoke_share_link(db.session, current_user, link_id)
    db.session.commit()
    audit = db.session.get(Audit, link.audit_id)
    return render("actions/plan.html", "actions/_share.html", **plan_context(audit))


@bp.get("/plan/<token>")
@public
def plan(token: str):
    """The provider's read-only action plan: items, actions, due dates and status; nothing else."""
    link, audit = _opened(token, "action_plan")
    entries = actions.action_plan(db.session, audit, clock.today())
    response = make_response(render_template("share/plan.html", audit=audit, link=link, entries=entries,
                                             token=token, priority_labels=actions.PRIORITY_LABELS,
                                             today_label=f"{clock.today():%-d %B %Y}",
                                             outcome=(audit.snapshot or {}).get("audit", {}).get("outcome_label")))
    return _private(response)


@bp.get("/plan/<token>/report.pdf")
@public
def report_pdf(token: str):
    """The provider's report as a PDF, through the same link."""
    _link, audit = _opened(token, "provider_report_pdf")
    view = reports.report_view(audit.snapshot, "provider")
    pdf = reports.render_pdf(render_template("reports/document.html", report=view))
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{reports.report_filename(view, "provider")}"'
    return _private(response)


def _opened(token: str, what: str) -> tuple[ShareLink, Audit]:
    link, audit = share_links.open_share_link(db.session, token, what)
    if audit.status != "finalised" or not audit.snapshot:
        raise NotFound("share_link.not_found", "This link is not recognised")
    db.session.commit()  # the view is logged even if rendering fails later
    return link, audit


def _private(response):
    # The token is the whole secret: never send it on in a Referer, and keep the page out of search engines.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response
