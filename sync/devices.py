"""Starting with no HTML: a device signs in with JSON and lists its visits (PROTOCOL.md "Starting with no HTML").

`POST /sync/session` takes `{"email", "password"}` and starts the same session cookie as the sign-in form, through
the same code (web/auth.sign_in): the same lockout by account and address, the same one answer for an unknown
e-mail, a wrong password and a locked account. It answers the user and a CSRF token for the calls that follow.

CSRF: a request with no session yet cannot carry a token, so this one route is exempt from the token and checked
instead the way a browser cannot be made to forge it: the body must be `Content-Type: application/json` (a
cross-site form cannot send that, and a cross-site fetch that sends it needs a CORS preflight, which this app
never grants), and an `Origin` or `Sec-Fetch-Site` header, when the client sends one (browsers do), must say this
same site. Native clients send neither. `DELETE /sync/session` is an ordinary signed-in call: `X-CSRFToken`.

`GET /sync/visits` lists the visits assigned to the signed-in auditor or QoE teacher, each with the audits they
capture on it (derived ids, type, status, version) and the URL of its visit pack.
"""
from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_login import current_user, logout_user
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy import select

from auditapp.db import db
from auditapp.extensions import csrf
from auditapp.models import Audit
from auditapp.models.enums import AUDIT_TYPE_LABELS, ROLES
from auditapp.queries import audit_types_of, visits_for
from auditapp.security import csrf_token, public, roles
from auditapp.services import users
from auditapp.services.access import CAPTURE_TYPES
from auditapp.services.audits import audit_id_for
from auditapp.services.errors import DomainError, Forbidden, Invalid
from auditapp.web.auth import sign_in

from .body import read_json

bp = Blueprint("sync_devices", __name__, url_prefix="/sync")
CAPTURE_ROLES = ("auditor", "qoe_teacher")


class UnsupportedMediaType(DomainError):
    status = 415


class SignInSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    email = fields.Str(required=True, validate=validate.Length(min=1, max=254, error="Enter your email address"),
                       error_messages={"required": "Enter your email address", "invalid": "Enter your email address"})
    password = fields.Str(required=True, validate=validate.Length(min=1, max=1000, error="Enter your password"),
                          error_messages={"required": "Enter your password", "invalid": "Enter your password"})


@bp.post("/session")
@public
@csrf.exempt  # no session yet, so no token: _same_site_json() stands in for it
def session_start():
    """Sign in with JSON; answer the user and a CSRF token, and set the session cookie."""
    _same_site_json()
    body = read_json(request, malformed="auth.invalid")  # bounded: a deep body is 422 request.too_deep, not a 500
    try:
        form = SignInSchema().load(body if isinstance(body, dict) else {})
    except ValidationError as exc:
        raise Invalid("auth.invalid", "Enter your email address and password", exc.messages) from None
    user = sign_in(form["email"], form["password"])
    return {"user": {"id": user.id, "email": user.email, "full_name": user.full_name, "role": user.role,
                     "organisation": user.organisation.name},
            "csrf_token": csrf_token()}


@bp.delete("/session")
@roles(*ROLES)
def session_end():
    """Sign out: the session ends on the server, on every device of this user (as the form's sign-out)."""
    users.end_sessions(db.session, users.get_user(db.session, current_user.id))
    db.session.commit()
    logout_user()
    return "", 204


@bp.get("/visits")
@roles(*CAPTURE_ROLES)
def visits():
    """The user's assigned visits, oldest first, with the audits they capture on each and its pack URL."""
    rows = visits_for(db.session, current_user)
    kinds = CAPTURE_TYPES[current_user.role]
    planned = {visit.id: [t for t in audit_types_of(visit) if t in kinds] for visit in rows}
    ids = [audit_id_for(visit_id, t) for visit_id, types in planned.items() for t in types]
    found = {row.id: row for row in db.session.execute(select(Audit.id, Audit.status, Audit.version)
                                                        .where(Audit.id.in_(ids)))} if ids else {}
    return {"visits": [_visit(visit, planned[visit.id], found) for visit in rows]}


def _visit(visit, types: list[str], found: dict) -> dict:
    audits = []
    for audit_type in types:
        audit_id = audit_id_for(visit.id, audit_type)
        row = found.get(audit_id)
        audits.append({"audit_id": str(audit_id), "audit_type": audit_type, "title": AUDIT_TYPE_LABELS[audit_type],
                       "on_server": row is not None, "status": row.status if row else "draft",
                       "version": row.version if row else 0})
    return {"id": visit.id, "date": visit.visit_date.isoformat(), "status": visit.status,
            "announced": visit.announced, "provider": {"id": visit.provider.id, "name": visit.provider.display_name},
            "site": {"id": visit.site.id, "name": visit.site.name},
            "pack_url": url_for("capture.pack", visit_id=visit.id), "audits": audits}


def _same_site_json() -> None:
    """What stands in for the CSRF token on the sign-in call (module docstring)."""
    if not request.is_json:
        raise UnsupportedMediaType("request.json_required", "Send the sign-in as Content-Type: application/json")
    origin = request.headers.get("Origin")
    if origin is not None and origin != request.host_url.rstrip("/"):
        raise Forbidden("request.cross_site", "Sign in from this service's own pages or from a device app")
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise Forbidden("request.cross_site", "Sign in from this service's own pages or from a device app")
