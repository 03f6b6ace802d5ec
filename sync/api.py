"""HTTP edge of sync: parse, check role, one transaction per push, JSON out."""
from __future__ import annotations

from flask import Blueprint, current_app, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from marshmallow import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from auditapp.db import db
from auditapp.models.enums import EVIDENCE_MEDIA_TYPES
from auditapp.security import public, roles
from auditapp.services.errors import DomainError, Invalid

from . import apply, body as bounded, pull as pull_feed
from .openapi import OPENAPI
from .schemas import MAX_BATCH, PushSchema

bp = Blueprint("sync", __name__, url_prefix="/sync")
CAPTURE_ROLES = ("auditor", "qoe_teacher")


class TooLarge(DomainError):
    status = 413


@bp.post("/push")
@roles(*CAPTURE_ROLES)
def push():
    """Apply a batch of device mutations; one result per mutation."""
    body = bounded.read_json(request)  # 413 request.too_large, 422 request.too_deep or sync.malformed
    try:
        envelope = PushSchema().load(body if isinstance(body, dict) else {})
    except ValidationError as exc:
        raise Invalid("sync.malformed", "The request body is not a valid push", exc.messages) from None
    if len(envelope["mutations"]) > MAX_BATCH:
        raise TooLarge("sync.batch_too_large", f"Send at most {MAX_BATCH} mutations per push",
                       {"max_batch": MAX_BATCH})
    for attempt in (1, 2):
        try:
            # Acked = durable, whatever the server's default (README, Deploying): the device drops acked mutations.
            db.session.execute(text("SET LOCAL synchronous_commit = on"))
            results = apply.push(db.session, current_user, envelope["device_id"], envelope["mutations"])
            db.session.commit()
            break
        except IntegrityError:
            # An identical push committed first: retry once, and the replay sees its results.
            db.session.rollback()
            if attempt == 2:
                raise
    return {"results": results, "server_time": apply.now_iso()}


@bp.get("/pull")
@roles(*CAPTURE_ROLES)
def pull():
    """Changes visible to the user after `cursor`, in server order."""
    cursor, limit = _whole(request.args.get("cursor", "0")), _whole(request.args.get("limit", "500"))
    errors = {}
    if cursor is None or not 0 <= cursor < 2**63:  # cursors are bigints
        errors["cursor"] = ["Must be a whole number, 0 or more (a next_cursor from an earlier pull)"]
    if limit is None or not 1 <= limit <= pull_feed.MAX_PULL:
        errors["limit"] = [f"Must be a whole number from 1 to {pull_feed.MAX_PULL}"]
    if errors:
        raise Invalid("sync.malformed", f"cursor must be 0 or more and limit between 1 and {pull_feed.MAX_PULL}",
                      errors)
    return pull_feed.pull(db.session, current_user, cursor, limit)


def _whole(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 19 else None


@bp.get("/config")
@roles(*CAPTURE_ROLES)
def config():
    """Limits the device must respect."""
    return {"max_batch": MAX_BATCH, "max_pull": pull_feed.MAX_PULL, "protocol": 1, "csrf_token": generate_csrf(),
            "max_body_bytes": bounded.MAX_BODY_BYTES, "max_depth": bounded.MAX_DEPTH,
            "evidence_max_bytes": current_app.config["EVIDENCE_MAX_BYTES"],
            "evidence_media_types": list(EVIDENCE_MEDIA_TYPES)}


@bp.get("/openapi.json")
@public  # describes the API; holds no data
def openapi():
    """The OpenAPI document of the sync API."""
    return OPENAPI
