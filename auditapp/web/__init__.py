"""HTMX pages: blueprints, the page-or-fragment `render` helper and template globals."""
from __future__ import annotations

from flask import Flask, make_response, redirect, render_template
from flask_login import current_user

from ..extensions import htmx
from ..services.access import CAPTURE_TYPES
from ..models.enums import (AUDIT_TYPE_LABELS, DIRECTORY_STATUS_LABELS, REGISTRATION_LABELS, ROLE_LABELS)

SERVICE_NAME = "AP provider audits"
STATUS_TAG_CLASSES = {
    "pending": "govuk-tag--grey",
    "eligible": "govuk-tag--green",
    "conditional": "govuk-tag--yellow",
    "under_review": "govuk-tag--orange",
    "suspended": "govuk-tag--red",
    "removed": "govuk-tag--grey",
}
# Navigation per role: every link must lead to a page that role may open.
NAVIGATION = {
    "auditor": [("home.index", "Home"), ("visits.index", "My visits"), ("reports.index", "Reports")],
    # An auditor whom an administrator made a lead reviewer (`is_lead_reviewer`): the auditor's menu and Review.
    "lead_reviewer": [("home.index", "Home"), ("visits.index", "My visits"), ("review.queue", "Review"),
                      ("reports.index", "Reports")],
    "qoe_teacher": [("home.index", "Home"), ("visits.index", "My visits"), ("grading.queues", "Grading"),
                    ("review.queue", "Review"), ("directory.index", "Directory"), ("reports.index", "Reports")],
    "maintainer": [("home.index", "Home"), ("maintainers.queue", "Queue"), ("directory.index", "Directory"),
                   ("dashboard.index", "Dashboard"), ("placements.index", "Placements"),
                   ("provider_records.planner_page", "Planner"), ("maintainers.summary", "Weekly changes"),
                   ("visits.index", "Visits"), ("grading.finalised", "Finalised this week"), ("reports.index", "Reports")],
    "school": [("home.index", "Home"), ("directory.index", "Directory"), ("placements.index", "Placements"),
               ("notifications.index", "Notifications")],
    "la_officer": [("home.index", "Home"), ("dashboard.index", "Dashboard"), ("placements.index", "Placements"), ("directory.index", "Directory")],
    "admin": [("home.index", "Home"), ("admin.users", "Users"), ("admin.templates", "Templates"),
              ("sync_import.form", "Import device data"), ("review.queue", "Review"),
              ("maintainers.thresholds", "Roll-up settings"),
              ("directory.index", "Directory"), ("visits.index", "Visits"), ("reports.index", "Reports")],
}


def render(page: str, fragment: str | None = None, status: int = 200, **context):
    """Render the page, or only its fragment for an HTMX request; always `Vary: HX-Request`."""
    template = fragment if fragment and htmx else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def done(url: str):
    """After a successful change: a 303, or for htmx an HX-Redirect (a full page load, not a swap)."""
    if htmx:
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=303)


def _template_globals() -> dict:
    role = current_user.role if current_user.is_authenticated else None
    return {
        "service_name": SERVICE_NAME,
        "navigation": NAVIGATION.get("lead_reviewer" if role == "auditor" and current_user.is_lead_reviewer else role, []),
        "role_labels": ROLE_LABELS,
        "audit_type_labels": AUDIT_TYPE_LABELS,
        "status_labels": DIRECTORY_STATUS_LABELS,
        "status_tag_classes": STATUS_TAG_CLASSES,
        "registration_labels": REGISTRATION_LABELS,
        # Audit types the signed-in user captures on a tablet (empty for other roles).
        "capture_types": sorted(CAPTURE_TYPES.get(role, ())),
    }


def init_app(app: Flask) -> None:
    from . import admin, auth, capture, directory, evidence, home, sync_import, visits

    for module in (auth, home, visits, directory, admin, capture, sync_import, evidence):
        app.register_blueprint(module.bp)
    from . import grading  # QoE grading, moderation and the queues after a visit
    app.register_blueprint(grading.bp)
    from . import review  # reviewers' queue, review, finalisation, corrections
    app.register_blueprint(review.bp)
    from . import maintainers, providers_admin  # maintainers' queue, decisions, records, planner
    app.register_blueprint(maintainers.bp)
    app.register_blueprint(providers_admin.bp)
    from . import concerns  # maintainers triage safeguarding concerns on the provider page
    app.register_blueprint(concerns.bp)
    from . import api_v1, notifications  # the directory's read-only JSON API; in-app notifications
    app.register_blueprint(api_v1.bp)
    app.register_blueprint(notifications.bp)
    from . import actions, reports, share_links  # action plans and share links, reports and the CSV export
    for module in (actions, share_links, reports):
        app.register_blueprint(module.bp)
    from . import dashboard, placements  # schools' placement notifications; the LA dashboard
    app.register_blueprint(placements.bp)
    app.register_blueprint(dashboard.bp)
    from . import directory_cache, layout  # rendered search results and page headers, reused
    directory_cache.init_app(app)
    layout.init_app(app)
    app.context_processor(_template_globals)
    # Macros imported without context (`{% from "_macros.html" import status_tag %}`) see only the
    # environment's globals, not context processors: the status tag needs its labels there.
    app.jinja_env.globals.update(status_labels=DIRECTORY_STATUS_LABELS, status_tag_classes=STATUS_TAG_CLASSES)
