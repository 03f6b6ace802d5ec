"""Reports of finalised audits (HTML and PDF, for the council and for the provider) and the CSV export.

Everything shown comes from the audit's frozen snapshot (services/reports.py). Who may see:
council roles (admin, maintainer, QoE teacher), lead reviewers and the audit's own auditor; both
reports alike, and the provider's report also through a share link. Schools never. Need to know:
QoE teachers read quality-of-education reports; of the other audits the list gives them the outcome only.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

from flask import Blueprint, Response, make_response, render_template, request, stream_with_context, url_for
from flask_login import current_user
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy import exists, func, select
from sqlalchemy.orm import aliased

from .. import clock
from ..db import db
from ..models import Audit, Provider, Visit, VisitAssignment
from ..models.enums import AUDIT_TYPES
from ..security import roles
from ..services import access, csv_export, reports
from . import render

bp = Blueprint("reports", __name__)
REPORT_ROLES = ("admin", "maintainer", "qoe_teacher", "auditor")  # services.reports.may_see_report narrows
EXPORT_ROLES = ("admin", "maintainer")
AUDIENCE_PAGES = {"la": "reports.full_report", "provider": "reports.provider_report"}
AUDIENCE_PDFS = {"la": "reports.full_report_pdf", "provider": "reports.provider_report_pdf"}
LIST_LIMIT = 200


class ReportFilters(Schema):
    class Meta:
        unknown = EXCLUDE

    audit_type = fields.Str(load_default="", validate=validate.OneOf(("",) + AUDIT_TYPES, error="Choose a valid audit type"))
    q = fields.Str(load_default="", validate=validate.Length(max=100, error="Search for 100 characters or fewer"))
    finalised_from = fields.Date(load_default=None, error_messages={"invalid": "Enter a real date, for example 2026-04-01"})
    finalised_to = fields.Date(load_default=None, error_messages={"invalid": "Enter a real date, for example 2027-03-31"})


@bp.get("/reports/")
@roles(*REPORT_ROLES)
def index():
    """Finalised audits the user may see, newest first; an HTMX request gets only the results."""
    try:
        filters = ReportFilters().load({k: v for k, v in request.args.items() if v != ""})
    except ValidationError as exc:
        return render("reports/index.html", "reports/_results.html", status=422, audits=[], filters=request.args,
                      errors=exc.messages, may_export=current_user.role in EXPORT_ROLES)
    return render("reports/index.html", "reports/_results.html", audits=_finalised(filters), filters=filters,
                  errors={}, may_export=current_user.role in EXPORT_ROLES,
                  sees_detail=lambda audit: access.sees_detail(current_user, audit.audit_type))


@bp.get("/audits/<uuid:audit_id>/report")
@roles(*REPORT_ROLES)
def full_report(audit_id: uuid.UUID):
    """The council's full report of a finalised audit."""
    return _page(audit_id, "la")


@bp.get("/audits/<uuid:audit_id>/provider-report")
@roles(*REPORT_ROLES)
def provider_report(audit_id: uuid.UUID):
    """The provider's report: no conversation notes, no evidence file names."""
    return _page(audit_id, "provider")


@bp.get("/audits/<uuid:audit_id>/report.pdf")
@roles(*REPORT_ROLES)
def full_report_pdf(audit_id: uuid.UUID):
    """The council's full report as a PDF."""
    return _pdf(audit_id, "la")


@bp.get("/audits/<uuid:audit_id>/provider-report.pdf")
@roles(*REPORT_ROLES)
def provider_report_pdf(audit_id: uuid.UUID):
    """The provider's report as a PDF."""
    return _pdf(audit_id, "provider")


@bp.get("/reports/finalised-audits.csv")
@roles(*EXPORT_ROLES)
def export_csv():
    """Every item of every finalised audit (filtered), streamed as CSV."""
    try:
        data = ReportFilters().load({k: v for k, v in request.args.items() if v != ""})
    except ValidationError as exc:
        return render("reports/index.html", "reports/_results.html", status=422, audits=[], filters=request.args,
                      errors=exc.messages, may_export=True)
    filters = csv_export.ExportFilters(data["finalised_from"], data["finalised_to"], data["audit_type"])
    chunks = csv_export.csv_chunks(csv_export.item_rows(db.session, filters))
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="finalised-audits.csv"'
    return response


def _page(audit_id: uuid.UUID, audience: str):
    audit = reports.finalised_audit(db.session, current_user, audit_id)
    view = reports.report_view(audit.snapshot, audience)
    other = "provider" if audience == "la" else "la"
    return render("reports/report.html", report=view, audit=audit,
                  pdf_url=url_for(AUDIENCE_PDFS[audience], audit_id=audit.id),
                  other_url=url_for(AUDIENCE_PAGES[other], audit_id=audit.id),
                  plan_url=url_for("actions.plan", audit_id=audit.id))


def _pdf(audit_id: uuid.UUID, audience: str):
    audit = reports.finalised_audit(db.session, current_user, audit_id)
    view = reports.report_view(audit.snapshot, audience)
    response = make_response(reports.render_pdf(render_template("reports/document.html", report=view)))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{reports.report_filename(view, audience)}"'
    return response


def _finalised(filters: dict) -> list:
    """(audit, provider, replaced) rows the user may see, by the same rule as services.reports.may_see_report."""
    correction = aliased(Audit)
    replaced = exists().where(correction.corrects_audit_id == Audit.id, correction.status == "finalised")
    query = (select(Audit, Provider, replaced.label("replaced")).join(Visit, Visit.id == Audit.visit_id)
             .join(Provider, Provider.id == Visit.provider_id).where(Audit.status == "finalised")
             .order_by(Audit.finalised_at.desc()).limit(LIST_LIMIT))
    user = current_user
    if user.role == "auditor" and not user.is_lead_reviewer:
        assigned = exists().where(VisitAssignment.visit_id == Audit.visit_id, VisitAssignment.user_id == user.id)
        query = query.where((Audit.created_by_id == user.id) | assigned)
    if filters.get("audit_type"):
        query = query.where(Audit.audit_type == filters["audit_type"])
    if filters.get("q"):
        pattern = f"%{filters['q'].lower()}%"
        query = query.where(func.lower(Provider.legal_name).like(pattern)
                            | func.lower(func.coalesce(Provider.trading_name, "")).like(pattern))
    if filters.get("finalised_from"):
        query = query.where(Audit.finalised_at >= clock.day_start(filters["finalised_from"]))
    if filters.get("finalised_to"):
        query = query.where(Audit.finalised_at < clock.day_start(filters["finalised_to"] + timedelta(days=1)))
    return db.session.execute(query).all()
