"""Offline capture: the app shell, visit packs, the service worker and the web app manifest."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, current_app, make_response, render_template, url_for
from flask_login import current_user

from .. import packs
from ..db import db
from ..models.enums import EVIDENCE_MEDIA_TYPES
from ..security import public, roles
from . import render

bp = Blueprint("capture", __name__)
CAPTURE_ROLES = ("auditor", "qoe_teacher")
STATIC = Path(__file__).resolve().parent.parent / "static"
# Everything the capture screen needs offline. The service worker's cache name is a hash of these.
SHELL_ASSETS = ("vendor/govuk-frontend/govuk-frontend.min.css", "vendor/govuk-frontend/govuk-frontend.min.js",
                "vendor/htmx.min.js", "css/app.css", "css/capture.css", "js/body-start.js", "js/app.js",
                "js/capture.js", "js/capture-dom.js", "js/capture-context.js", "js/capture-screen.js",
                "js/capture-items.js", "js/capture-conversations.js", "js/capture-concern.js", "js/capture-status.js",
                "js/save-worker.js", "js/store.js", "js/outbox.js", "js/sync-status.js", "js/sync-loop.js",
                "js/capture-evidence.js", "js/evidence-media.js", "js/evidence-store.js", "js/evidence-uploader.js",
                "js/capture-attention.js", "js/sync-outcomes.js", "js/text.js",
                "js/evidence-worker.js", "favicon.svg", "icons/icon-192.png")


@bp.get("/capture/")
@roles(*CAPTURE_ROLES)
def shell():
    """The capture app shell; capture.js renders the audit from IndexedDB."""
    return render("capture/shell.html")


@bp.get("/capture/packs/<int:visit_id>")
@roles(*CAPTURE_ROLES)
def pack(visit_id: int):
    """The visit pack a tablet downloads to capture offline."""
    from sync.pull import MAX_PULL
    from sync.schemas import MAX_BATCH
    limits = {"max_batch": MAX_BATCH, "max_pull": MAX_PULL,
              "evidence_max_bytes": current_app.config["EVIDENCE_MAX_BYTES"],
              "evidence_media_types": list(EVIDENCE_MEDIA_TYPES)}
    response = make_response(packs.visit_pack(db.session, current_user, visit_id, limits))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/sw.js")
@public
def service_worker():
    """The service worker, with a cache name that changes whenever a shell asset changes."""
    body = render_template("capture/sw.js", cache_name=f"auditapp-shell-{asset_hash()}",
                           precache=[url_for("capture.shell")] + [url_for("static", filename=a) for a in SHELL_ASSETS])
    response = make_response(body)
    response.headers.update({"Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache",
                             "Service-Worker-Allowed": "/"})
    return response


@bp.get("/manifest.webmanifest")
@public
def manifest():
    """The installable web app's manifest."""
    response = make_response({
        "name": "AP provider audits", "short_name": "AP audits", "start_url": url_for("visits.index"),
        "scope": "/", "display": "standalone", "background_color": "#ffffff", "theme_color": "#0b0c0c",
        "icons": [{"src": url_for("static", filename="icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
                  {"src": url_for("static", filename="icons/icon-512.png"), "sizes": "512x512", "type": "image/png",
                   "purpose": "any maskable"}]})
    response.headers["Content-Type"] = "application/manifest+json"
    return response


@lru_cache(maxsize=1)
def asset_hash() -> str:
    """Hash of the shell assets and templates, computed once per process."""
    digest = hashlib.sha256()
    templates = Path(__file__).resolve().parent.parent / "templates"
    pages = [templates / "capture/shell.html", templates / "capture/_head.html", templates / "layout.html"]
    for path in [STATIC / a for a in SHELL_ASSETS] + pages:
        digest.update(path.read_bytes() if path.exists() else b"-")
    return digest.hexdigest()[:12]
