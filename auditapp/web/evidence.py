"""Evidence over HTTP: the device's upload calls (JSON, sync/PROTOCOL.md "Evidence") and the
reviewers' pages. Every write goes through services/evidence_files.py; this edge owns the commit.

In S3 mode the bytes never pass through here: the device PUTs to a presigned URL and a viewer is
redirected to a presigned GET of the verified copy (the final key), never of the upload key. In local mode the device PUTs to `content`, which streams the body
to disk, and `view` streams the file back.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from flask import Blueprint, current_app, redirect, request, send_file, url_for
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import text

from ..db import db
from ..security import roles
from ..services import evidence, evidence_files, review
from ..services.errors import Forbidden, NotFound
from ..storage import BlobNotFound, BlobStoreUnavailable, get_blob_store, safe_filename
from ..storage.local import LocalBlobStore
from . import render

bp = Blueprint("evidence", __name__)
CAPTURE_ROLES = ("auditor", "qoe_teacher")
VIEW_ROLES = ("admin", "maintainer", "qoe_teacher", "auditor")  # never schools
VIEW_LINK_SECONDS = 60


@bp.post("/evidence/<uuid:evidence_id>/upload-target")
@roles(*CAPTURE_ROLES)
def upload_target(evidence_id: uuid.UUID):
    """Where the device uploads the file now: a presigned PUT (S3) or this app's upload route (local)."""
    issued = evidence_files.issue_upload_target(db.session, current_user, get_blob_store(), evidence_id,
                                                current_app.config["EVIDENCE_UPLOAD_TTL_SECONDS"])
    url = issued.target.url or url_for("evidence.content", evidence_id=evidence_id,
                                       token=_serializer().dumps({"e": str(evidence_id), "u": current_user.id,
                                                                  "x": issued.expires_at.timestamp()}))
    db.session.commit()
    return {"method": issued.target.method, "url": url, "headers": issued.target.headers,
            "expires_at": issued.expires_at.isoformat(timespec="seconds")}


@bp.put("/evidence/<uuid:evidence_id>/content")
@roles(*CAPTURE_ROLES)
def content(evidence_id: uuid.UUID):
    """Receive the bytes (local store only), streamed to disk and capped at the registered size."""
    store = get_blob_store()
    if not isinstance(store, LocalBlobStore):
        raise NotFound("evidence.local_only", "Upload to the target's URL: files go straight to the file store")
    valid_until = _signed_expiry(request.args.get("token", ""), evidence_id)
    written = evidence_files.receive_upload(db.session, current_user, store, evidence_id, request.stream,
                                            request.content_length, valid_until)
    db.session.commit()
    return {"received_bytes": written}


@bp.post("/evidence/<uuid:evidence_id>/confirm")
@roles(*CAPTURE_ROLES)
def confirm(evidence_id: uuid.UUID):
    """Verify the uploaded file: 200 verified or rejected; 409 upload again; 503 the store is unreachable."""
    result = evidence_files.confirm_upload(db.session, current_user, get_blob_store(), evidence_id)
    db.session.execute(text("SET LOCAL synchronous_commit = on"))  # `verified` lets the device delete its copy
    db.session.commit()  # a refusal is recorded too (last error, audit log), with the status unchanged
    if result.status != "expected":
        return {"status": result.status, **({"code": result.code, "message": result.message} if result.code else {})}
    status = 503 if result.code == evidence_files.UNAVAILABLE else 409
    return {"code": result.code, "message": result.message, "details": {}, "status": "expected"}, status


@bp.get("/evidence/<uuid:evidence_id>")
@roles(*VIEW_ROLES)
def view(evidence_id: uuid.UUID):
    """Open a verified file: a short-lived presigned GET (S3) or streamed by the app (local); logged."""
    row = evidence_files.open_for_viewing(db.session, current_user, evidence_id)
    store = get_blob_store()
    key = evidence_files.finalise_verified(store, row)  # only the verified copy is served
    try:
        url = store.download_url(key, row.filename, row.media_type, expires_in=VIEW_LINK_SECONDS)
        stream = None if url else store.open(key)
    except BlobNotFound:
        raise NotFound("evidence.missing", "The file is missing from the store; contact the AP team") from None
    except BlobStoreUnavailable:
        raise evidence_files.StoreUnavailable(evidence_files.UNAVAILABLE, "The file store cannot be reached") from None
    db.session.commit()  # the view is logged before any byte leaves
    if url:
        return redirect(url, 302)
    response = send_file(stream, mimetype=row.media_type, as_attachment=True,
                         download_name=safe_filename(row.filename), etag=False, conditional=False)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/audits/<uuid:audit_id>/evidence")
@roles(*VIEW_ROLES)
def audit_page(audit_id: uuid.UUID):
    """Every file of one audit by item: "n of m files received", statuses, reasons, links to view."""
    summary = evidence.audit_evidence(db.session, current_user, audit_id)
    visit = summary.audit.visit
    sees_visit = current_user.role in ("admin", "maintainer") or any(
        a.user_id == current_user.id for a in visit.assignments)
    sees_review = review.may_view(db.session, current_user, summary.audit)
    return render("evidence/audit.html", summary=summary, visit=visit, sees_visit=sees_visit, sees_review=sees_review)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="evidence-upload")


def _signed_expiry(token: str, evidence_id: uuid.UUID) -> datetime:
    """The expiry signed into an upload URL for this evidence and this user.

    :raises evidence.bad_token: missing, altered, or made for another file or user.
    """
    try:
        data = _serializer().loads(token)
    except BadSignature:
        data = None
    if not isinstance(data, dict) or data.get("e") != str(evidence_id) or data.get("u") != current_user.id:
        raise Forbidden("evidence.bad_token", "This upload link is not valid; ask for a new one")
    return datetime.fromtimestamp(float(data["x"]), timezone.utc)
