"""The directory: schools search, read a provider's status and watch it; LA roles see more.

One URL serves the search page or, for HTMX, only its results. Every search, page and export is
scoped by directory_queries (a school never sees Pending, Removed or closed providers). The CSV
is the directory as a school sees it, whoever downloads it.
"""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, current_app, make_response, redirect, render_template, request, url_for
from markupsafe import Markup
from flask_login import current_user

from .. import clock, directory_queries, queries, session_user
from ..db import db, read_only
from ..directory_queries import SCHOOL_STATUSES, school_view
from ..extensions import htmx
from ..models.enums import DIRECTORY_STATUS_LABELS, DIRECTORY_STATUSES, DISTRICTS, KEY_STAGES, PROVISION_TYPES
from ..security import roles
from ..services import watches
from ..services.errors import Invalid
from . import directory_cache, page_frame, render
from .directory_forms import DELIVERIES, SPECIALISMS, parse_filters, query_args
from .directory_forms import TIME_BASES as TIME_BASIS_LABELS

bp = Blueprint("directory", __name__, url_prefix="/directory")
DIRECTORY_ROLES = ("school", "maintainer", "qoe_teacher", "admin", "la_officer")
FILTER_OPTIONS = {"districts": DISTRICTS, "provision_types": PROVISION_TYPES, "key_stages": KEY_STAGES,
                  "specialisms": SPECIALISMS, "time_bases": TIME_BASIS_LABELS, "deliveries": DELIVERIES}
# Cells a spreadsheet would run as a formula (CSV injection) get a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ("Provider", "Legal name", "Status", "Status since", "Valid until", "District", "Types of provision",
               "Key stages", "Ages", "SEND specialism", "SEMH specialism", "Full or part time", "Delivery",
               "Cost per day (£)", "Contact name", "Contact email")


@bp.get("/")
@roles(*DIRECTORY_ROLES)
@read_only
def index():
    """Search the directory; an HTMX request gets only the results."""
    school = school_view(current_user)
    options = {**FILTER_OPTIONS, "statuses": SCHOOL_STATUSES if school else DIRECTORY_STATUSES}
    try:
        filters = parse_filters(request.args, school)
    except Invalid as exc:
        return _bad_search(exc, options)
    partial, stamp, kept = bool(htmx), _directory_stamp(), directory_cache.cache()
    body = kept.get_or_render(stamp, (school, filters, partial, request.script_root),
                              lambda: Markup(_render_search(school, filters, options)))
    if not partial:  # the whole page, kept for the role's layout (its navigation, this unread count)
        user = current_user._get_current_object()
        frame = kept.get_or_render(stamp, ("page", school, filters, request.script_root, user.role, user.unread_count),
                                   lambda: page_frame.build("directory/index.html", search_body=body, errors={}))
        return page_frame.response(frame)
    response = make_response(body)
    response.vary.add("HX-Request")
    # The address bar keeps the search, without the empty fields the form sends.
    response.headers["HX-Push-Url"] = url_for(".index", **query_args(filters, filters.page))
    return response


def _bad_search(exc: Invalid, options: dict):
    """The search form again with its field messages (422), the fields as they were sent."""
    form = {k: (request.args.getlist(k) if k == "specialism" else request.args.get(k, "")) for k in request.args}
    errors = {("specialism-send" if k == "specialism" else k): v for k, v in exc.details.items()}
    context = dict(result=None, form=form, errors=errors, export_args={}, **options)
    return render("directory/index.html", "directory/_results.html", status=422,
                  search_body=Markup(render_template("directory/_search.html", **context)), **context)


def _directory_stamp() -> int | None:
    """The stamp read with the session user in this request's first statement, else read now."""
    stamp = session_user.directory_stamp_read_with_user()
    return directory_queries.directory_stamp(db.session) if stamp is session_user.NOT_READ else stamp


def _render_search(school: bool, filters, options: dict) -> str:
    """The search page's body, or for HTMX only its results: nothing in it depends on the user but the audience."""
    result = directory_queries.search(db.session, None, filters, school=school)
    return render_template("directory/_results.html" if htmx else "directory/_search.html", result=result,
                           form=query_args(filters), errors={}, export_args=query_args(filters),
                           page_args=lambda n: query_args(filters, n), **options)


@bp.get("/export.csv")
@roles(*DIRECTORY_ROLES)
def export():
    """The matching providers as a school sees them, as CSV. :raises directory.bad_filter:"""
    filters = parse_filters(request.args, school=True)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows([_safe(cell) for cell in _csv_row(p)] for p in directory_queries.all_matching(db.session, filters))
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="ap-directory-{clock.today():%Y-%m-%d}.csv"'})


@bp.get("/providers/<int:provider_id>")
@roles(*DIRECTORY_ROLES)
def provider(provider_id: int):
    """One provider: its published status in plain words; LA roles also see contacts, sites and visits."""
    found = directory_queries.visible_provider(db.session, current_user, provider_id)
    la_view = not school_view(current_user)
    return render("directory/provider.html", view=directory_queries.provider_for_school(db.session, found),
                  provider=found, la_view=la_view, outcome_labels=directory_queries.OUTCOME_LABELS,
                  visits=queries.provider_visits(db.session, found.id) if la_view else [],
                  record_url=_maintainers_record(found.id),
                  watching=current_user.role == "school" and watches.is_watching(db.session, current_user, found.id))


@bp.post("/providers/<int:provider_id>/watch")
@roles("school")
def watch(provider_id: int):
    """Start watching a provider (HTMX swaps the button; without JS, back to the page)."""
    watches.watch(db.session, current_user, provider_id)
    db.session.commit()
    return _watch_answer(provider_id, watching=True)


@bp.post("/providers/<int:provider_id>/unwatch")
@roles("school")
def unwatch(provider_id: int):
    """Stop watching a provider."""
    watches.unwatch(db.session, current_user, provider_id)
    db.session.commit()
    return _watch_answer(provider_id, watching=False)



def _maintainers_record(provider_id: int) -> str | None:
    """The maintainers' record of the provider, for the roles that may open it."""
    if current_user.role in ("maintainer", "admin") and "maintainers.provider" in current_app.view_functions:
        return url_for("maintainers.provider", provider_id=provider_id)
    return None


def _watch_answer(provider_id: int, watching: bool):
    if htmx:
        return render("directory/_watch.html", provider_id=provider_id, watching=watching, changed=True)
    return redirect(url_for(".provider", provider_id=provider_id), 303)


def _csv_row(p) -> list:
    return [p.display_name, p.legal_name, DIRECTORY_STATUS_LABELS[p.directory_status],
            f"{p.status_changed_at:%Y-%m-%d}" if p.status_changed_at else "",
            f"{p.valid_until:%Y-%m-%d}" if p.valid_until else "", p.district,
            ", ".join(sorted(t.provision_type for t in p.provision_types)),
            ", ".join(sorted(k.key_stage for k in p.key_stages)), f"{p.age_min} to {p.age_max}",
            "yes" if p.send_specialism else "no", "yes" if p.semh_specialism else "no",
            p.time_basis.replace("_", " "), p.delivery_mode.replace("_", " "),
            f"{p.cost_per_day_pence / 100:.2f}" if p.cost_per_day_pence is not None else "",
            p.contact_name, p.contact_email]


def _safe(cell) -> str:
    text = str(cell)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
