"""The LA dashboard: the AP strategy's success measures as accessible SVG charts with data tables.

Maintainers, LA officers and admins only. Filters update the charts with HTMX (and work as a plain
GET form); every chart's data downloads as CSV. Counts only, never named children.
"""
from __future__ import annotations

import csv
import io
from datetime import date

from flask import Blueprint, Response, request

from .. import clock
from ..db import db
from ..models.enums import DISTRICTS, PROVISION_TYPES
from ..security import roles
from ..services.placement_stats import Dashboard, StatsFilter, dashboard
from ..services.errors import NotFound
from ..services.placements import LA_ROLES
from . import render

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
CHARTS = ("children-by-month", "by-provision-type", "by-district", "strategy-measures")
MAX_MONTHS = 36


@bp.get("", endpoint="index")
@roles(*LA_ROLES)
def index():
    """The dashboard page (or, for HTMX, just the figures for the chosen filters)."""
    filters, errors = _filters(request.args)
    figures = dashboard(db.session, filters)
    return render("dashboard/index.html", "dashboard/_figures.html", status=422 if errors else 200,
                  d=figures, f=filters, errors=errors, charts=_charts(figures), districts=DISTRICTS,
                  provision_types=PROVISION_TYPES, query=request.query_string.decode())


@bp.get("/<chart>.csv")
@roles(*LA_ROLES)
def chart_csv(chart: str):
    """One chart's data as CSV, for the chosen filters."""
    if chart not in CHARTS:
        raise NotFound("dashboard.no_such_chart", "There is no such chart")
    filters, _ = _filters(request.args)
    rows = _charts(dashboard(db.session, filters))[chart]["rows"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_charts_headers()[chart])
    writer.writerows(rows)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{chart}.csv"'})


def _filters(args) -> tuple[StatsFilter, dict]:
    """The filters from the query string; anything unreadable falls back to the last 12 months, with a message."""
    errors = {}
    today = clock.today()
    default_end = today.replace(day=1)
    default_start = date(default_end.year - 1, default_end.month, 1)
    start = _month(args.get("from"), default_start, "from", errors)
    end = _month(args.get("to"), default_end, "to", errors)
    if end < start:
        errors["to"] = ["The last month must not be before the first"]
        start, end = default_start, default_end
    if (end.year - start.year) * 12 + end.month - start.month >= MAX_MONTHS:
        errors["from"] = [f"Show at most {MAX_MONTHS} months at a time"]
        first = end.year * 12 + end.month - 1 - (MAX_MONTHS - 1)
        start = date(first // 12, first % 12 + 1, 1)
    provision = args.get("provision_type", "")
    district = args.get("district", "")
    if provision and provision not in PROVISION_TYPES:
        errors["provision_type"], provision = ["Choose a type of provision from the list"], ""
    if district and district not in DISTRICTS:
        errors["district"], district = ["Choose a district from the list"], ""
    return StatsFilter(start, end, provision, district), errors


def _month(text: str | None, default: date, field: str, errors: dict) -> date:
    if not text:
        return default
    try:
        year, month = (int(part) for part in text.split("-")[:2])
        return date(year, month, 1)
    except (ValueError, TypeError):
        errors[field] = ["Enter a month like 2026-09"]
        return default


def _charts_headers() -> dict[str, list[str]]:
    return {"children-by-month": ["month", "children in AP"],
            "by-provision-type": ["type of provision", "placements"],
            "by-district": ["district", "placements"],
            "strategy-measures": ["measure", "placements with it", "placements started", "percent", "target percent"]}


def _charts(d: Dashboard) -> dict[str, dict]:
    """Each chart's rows (the table beside it, the CSV) and its bars (label, value, share of the largest)."""
    def bars(rows, value_index=1, scale=None):
        top = scale or max([r[value_index] for r in rows] + [1])
        return [(str(r[0]), r[value_index], r[value_index] / top if top else 0) for r in rows]

    months = [(m.strftime("%Y-%m"), n) for m, n in d.months]
    measures = [(s.label, s.count, s.total, round(s.percent, 1), 100) for s in d.shares + [d.part_time]]
    return {
        "children-by-month": {"title": "Children in AP by month", "rows": months, "bars": bars(months)},
        "by-provision-type": {"title": "Placements by type of provision", "rows": d.by_provision_type,
                              "bars": bars(d.by_provision_type)},
        "by-district": {"title": "Placements by district", "rows": d.by_district, "bars": bars(d.by_district)},
        "strategy-measures": {"title": "Placements that started in the period, against the 100% target",
                              "rows": measures, "bars": bars(measures, 3, scale=100)},
    }
