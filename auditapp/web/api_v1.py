"""The directory's read-only JSON API (`/api/v1`), described at /api/v1/openapi.json.

Who may call it: any signed-in directory user (school staff and LA roles, LA officers included) with the session
cookie; auditors may not. Whoever calls, it gives the directory *as a school sees it* — the same
visibility (never Pending, Removed or closed providers) and the same fields as the schools' pages
and CSV — so one response shape serves everyone and caches never mix audiences. Every 200 carries
a strong ETag from the providers' change stamp; `If-None-Match` with it answers 304.
"""
from __future__ import annotations

import re

from flask import Blueprint, current_app, request, url_for
from marshmallow import Schema, fields

from .. import directory_queries
from ..db import db
from ..directory_queries import OUTCOME_LABELS, STATUS_MEANINGS
from ..models.enums import AUDIT_TYPE_LABELS, DIRECTORY_STATUS_LABELS
from ..security import public, roles
from ..services.errors import Invalid
from .api_v1_openapi import DISCLAIMER, FILTERS, OPENAPI
from .directory_forms import CONTROL, parse_filters

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")
API_ROLES = ("school", "maintainer", "qoe_teacher", "admin", "la_officer")
DEFAULT_PER_PAGE, MAX_PER_PAGE = 50, 200


class ProviderSummarySchema(Schema):
    """A provider in the list: the fields of a school's search result."""

    id = fields.Int()
    name = fields.Str(attribute="display_name")
    legal_name = fields.Str()
    status = fields.Str(attribute="directory_status")
    status_label = fields.Function(lambda p: DIRECTORY_STATUS_LABELS[p.directory_status])
    status_since = fields.Function(lambda p: p.status_changed_at.date().isoformat() if p.status_changed_at else None)
    valid_until = fields.Date(allow_none=True)
    district = fields.Str()
    provision_types = fields.Function(lambda p: sorted(t.provision_type for t in p.provision_types))
    key_stages = fields.Function(lambda p: sorted(k.key_stage for k in p.key_stages))
    age_min = fields.Int()
    age_max = fields.Int()
    send_specialism = fields.Bool()
    semh_specialism = fields.Bool()
    time_basis = fields.Str()
    delivery_mode = fields.Str()
    url = fields.Function(lambda p: url_for("api_v1.provider", provider_id=p.id))


class ProviderDetailSchema(ProviderSummarySchema):
    """One provider: what its page shows a school, plus the disclaimer."""

    offer_summary = fields.Str(allow_none=True)
    cost_per_day_pence = fields.Int(allow_none=True)
    contact_name = fields.Str()
    contact_email = fields.Str()
    listed_by = fields.Function(lambda p: sorted(c.organisation.name for c in p.councils))


@bp.get("/providers")
@roles(*API_ROLES)
def providers():
    """A page of the directory, filtered like the search page. :raises directory.bad_filter:"""
    _as_documented(request.args)
    filters = parse_filters(request.args, school=True)
    per_page = _per_page()
    found = directory_queries.search(db.session, None, filters, page_size=per_page, school=True)
    stamp = directory_queries.change_stamp(found.providers, "list", sorted(request.args.items(multi=True)),
                                           found.total, found.page, per_page)
    return _conditional(stamp, lambda: {
        "providers": ProviderSummarySchema(many=True).dump(found.providers), "total": found.total,
        "page": found.page, "pages": found.pages, "per_page": per_page})


@bp.get("/providers/<int:provider_id>")
@roles(*API_ROLES)
def provider(provider_id: int):
    """One provider as a school sees it. :raises provider.not_found: unknown or hidden from schools."""
    found = directory_queries.visible_provider(db.session, None, provider_id, school=True)
    stamp = directory_queries.change_stamp([found], "detail")
    return _conditional(stamp, lambda: _detail(found))


@bp.get("/openapi.json")
@public  # describes the API; holds no data
def openapi():
    """The OpenAPI document of the directory API."""
    return OPENAPI


def _detail(found) -> dict:
    view = directory_queries.provider_for_school(db.session, found)
    return {**ProviderDetailSchema().dump(found), "status_meaning": STATUS_MEANINGS[found.directory_status],
            "reasons": view.reasons, "open_actions": view.open_actions,
            "open_action_headings": view.open_action_headings,
            "latest_audits": [{"audit_type": a.audit_type, "audit_type_label": AUDIT_TYPE_LABELS[a.audit_type],
                               "visit_date": a.visit_date.isoformat(), "outcome": a.outcome,
                               "outcome_label": OUTCOME_LABELS[a.outcome]} for a in view.latest_audits],
            "disclaimer": DISCLAIMER}


_QUERY = {p["name"]: p["schema"] for p in FILTERS if p["in"] == "query"}
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,9}\Z")


def _as_documented(args) -> None:
    """Refuse what the OpenAPI document excludes, as it says (the search page is more forgiving: it takes an
    empty choice as no filter). :raises directory.bad_filter: naming the parameters."""
    errors = {}
    for name, schema in _QUERY.items():
        for value in args.getlist(name):
            allowed = schema.get("enum") or schema.get("items", {}).get("enum")
            if allowed is not None and value not in allowed:
                errors[name] = ["Choose one of: " + ", ".join(allowed)]
            elif schema["type"] == "integer" and not WHOLE_NUMBER.match(value):
                errors[name] = ["Enter a whole number"]
            elif schema["type"] == "string" and "enum" not in schema and (
                    len(value) > schema["maxLength"] or CONTROL.search(value)):
                errors[name] = [f"Search for {schema['maxLength']} characters or fewer, without control characters"]
    if errors:
        raise Invalid("directory.bad_filter", "Check the search filters", errors)


def _per_page() -> int:
    raw = request.args.get("per_page", "").strip()
    if not raw:
        return DEFAULT_PER_PAGE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PER_PAGE:
        raise Invalid("directory.bad_filter", "Check the search filters",
                      {"per_page": [f"Choose a number from 1 to {MAX_PER_PAGE}"]})
    return int(raw)


def _conditional(stamp: str, body):
    """200 with the body and its ETag, or 304 when the client already holds this version."""
    if stamp in request.if_none_match:
        response = current_app.response_class(status=304)
    else:
        response = current_app.json.response(body())
    response.set_etag(stamp)
    # Clients may keep a copy but must revalidate (the ETag makes that cheap); never a shared cache.
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Cookie")
    return response
