"""Map errors once: DomainError and HTTP errors become a page, an HTMX fragment or JSON."""
from __future__ import annotations

import logging

from flask import Flask, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError
import psycopg
from sqlalchemy.exc import DisconnectionError, OperationalError
from werkzeug.exceptions import HTTPException

from .db import db
from .services.errors import DomainError

log = logging.getLogger(__name__)

TITLES = {
    400: "There is a problem with the request",
    401: "Sign in to continue",
    403: "You do not have permission to see this page",
    404: "Page not found",
    405: "That action is not allowed here",
    409: "Someone else changed this first",
    410: "This link no longer works",
    413: "The file is too large",
    503: "Sorry, the service is unavailable",
    422: "There is a problem with what you entered",
    429: "Too many attempts",
    500: "Sorry, there is a problem with the service",
}


JSON_PREFIXES = ("/api/", "/sync/", "/capture/packs/", "/evidence/")
# GET /evidence/<id> is a reviewer's link: a page (JSON only when the caller asks for it).
PAGE_ENDPOINTS = frozenset({"evidence.view"})
# Errors the web server itself raises (no route, wrong method, body too large...): a code per status.
HTTP_ERROR_CODES = {
    400: ("http.400", "The request could not be read."),
    404: ("http.404", "If you typed the web address, check it is correct. "
                      "If you pasted it, check you copied all of it."),
    405: ("http.405", "That action is not available at this address."),
    413: ("request.too_large", "The request is larger than the service accepts."),
    None: ("http.error", "The request could not be handled."),  # any other status
}


def device_request() -> bool:
    """True for the device's JSON calls: the API, sync, visit packs and evidence (bar the reviewer's view).

    They get `{"code","message","details"}` bodies and 401, never an HTML page or a sign-in redirect,
    even when fetch sends no Accept header; a path under these prefixes that matches no route too.
    """
    if not request.path.startswith(JSON_PREFIXES):
        return False
    return request.url_rule is None or request.url_rule.endpoint not in PAGE_ENDPOINTS


def wants_json() -> bool:
    """True for API and sync clients, which get `{"code","message","details"}` bodies."""
    if device_request():
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.headers.get("HX-Request")


def error_response(status: int, code: str, message: str, details: dict | None = None):
    """Render one error in the shape the caller asked for."""
    if wants_json():
        return {"code": code, "message": message, "details": details or {}}, status
    template = "errors/_error.html" if request.headers.get("HX-Request") else "errors/error.html"
    title = TITLES.get(status, TITLES[400])
    return render_template(template, status=status, title=title, message=message, code=code,
                           details=details or {}), status


def _domain_error(exc: DomainError):
    db.session.rollback()
    return error_response(exc.status, exc.code, exc.message, exc.details)


def _csrf_error(exc: CSRFError):
    return error_response(400, "request.csrf_failed",
                          "This form has expired or was not sent from this service. Go back, reload the page and try again.")


def _http_error(exc: HTTPException):
    status = exc.code or 500
    code, message = HTTP_ERROR_CODES.get(status) or HTTP_ERROR_CODES[None]
    response = error_response(status, code, message)
    allowed = getattr(exc, "valid_methods", None)
    if status == 405 and allowed:
        body, status = response
        return body, status, {"Allow": ", ".join(sorted(allowed))}
    return response


RETRY_AFTER_SECONDS = 5
# SQLAlchemy wraps most driver errors; a new connection refused while the pool replaces a closed one
# reaches us as the driver's own error.
DATABASE_UNAVAILABLE = (OperationalError, DisconnectionError, psycopg.OperationalError)


def _database_unavailable(exc: Exception):
    """The database could not be reached or gave up on the transaction (a restart, a failover, a deadlock):
    nothing was written, and the same request will work once it is back, so say so instead of a 500."""
    log.warning("database unavailable on %s %s: %s", request.method, request.path, getattr(exc, "orig", exc).__class__.__name__)
    try:
        db.session.rollback()
    except DATABASE_UNAVAILABLE:  # the connection is gone; the pool replaces it on the next checkout
        pass
    # The page is drawn for nobody in particular: the layout would otherwise load the user from the database.
    g._login_user = current_app.login_manager.anonymous_user()
    body, status = error_response(503, "server.unavailable",
                                  "The service is briefly unavailable. Nothing was saved: try again in a moment.")
    return body, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def _unexpected(exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    db.session.rollback()
    return error_response(500, "server.error", "Try again later. If it keeps happening, contact the AP team and quote the time it happened.")


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    for error in DATABASE_UNAVAILABLE:
        app.register_error_handler(error, _database_unavailable)
    app.register_error_handler(Exception, _unexpected)
