"""Admin import of a device's exported outbox: replayed through the sync path, so twice is once."""
from __future__ import annotations

import json
import uuid

from flask import Blueprint, request
from flask_login import current_user
from sqlalchemy import select

from ..db import db
from ..models import Device, User
from ..security import roles
from ..services import audit_log
from ..services.access import CAPTURE_TYPES
from . import render

bp = Blueprint("sync_import", __name__, url_prefix="/admin")
MAX_IMPORT_BYTES = 20 * 1024 * 1024


@bp.get("/sync-import")
@roles("admin")
def form():
    """Show the upload form for an exported outbox file."""
    return render("admin/sync_import.html", errors={}, summary=None)


@bp.post("/sync-import")
@roles("admin")
def upload():
    """Replay an exported outbox as the device's owner; a second import of the same file changes nothing."""
    from sync import apply
    parsed, problem = _read_export(request.files.get("export"))
    if problem:
        return render("admin/sync_import.html", status=422, errors={"export": [problem]}, summary=None)
    owner = _owner(parsed)
    if owner is None:
        return render("admin/sync_import.html", status=422, summary=None, errors={"export": [
            "The file's device and user do not match an auditor or QoE teacher of this service"]})
    results = apply.push(db.session, owner, parsed["device_id"], parsed["mutations"])
    audit_log.record(db.session, current_user, "sync.import", "device", parsed["device_id"],
                     after={"owner_id": owner.id, "mutations": len(results)})
    db.session.commit()
    summary = {}
    for result in results:
        summary[result["status"]] = summary.get(result["status"], 0) + 1
    return render("admin/sync_import.html", errors={}, summary=summary, owner=owner,
                  rejected=[r for r in results if r["status"] == "rejected"])


def _read_export(upload) -> tuple[dict | None, str | None]:
    if upload is None or not upload.filename:
        return None, "Choose the exported file"
    raw = upload.read(MAX_IMPORT_BYTES + 1)
    if len(raw) > MAX_IMPORT_BYTES:
        return None, "The file is larger than 20 MB"
    from sync.body import MAX_DEPTH, depth
    if depth(raw) > MAX_DEPTH:  # json.loads recurses per level: a deep file would be a RecursionError
        return None, f"The file nests arrays and objects more than {MAX_DEPTH} deep; it is not an exported outbox"
    try:
        data = json.loads(raw)
        device_id = uuid.UUID(str(data["device_id"]))
        mutations = data["mutations"]
        email = str(data.get("user_email", ""))
    except (ValueError, KeyError, TypeError):
        return None, "The file is not an exported outbox (expected JSON with device_id and mutations)"
    if data.get("format") != "auditapp-outbox" or not isinstance(mutations, list):
        return None, "The file is not an exported outbox (expected JSON with device_id and mutations)"
    return {"device_id": device_id, "mutations": mutations, "user_email": email.lower()}, None


def _owner(parsed: dict) -> User | None:
    owner_id = db.session.scalar(select(Device.user_id).where(Device.id == parsed["device_id"]))
    if owner_id is not None:
        user = db.session.get(User, owner_id)
    else:
        user = db.session.scalar(select(User).where(User.email == parsed["user_email"]))
    if user is None or user.role not in CAPTURE_TYPES or (parsed["user_email"] and user.email != parsed["user_email"]):
        return None
    return user
