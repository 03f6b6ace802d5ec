"""Sign-in plumbing, per-route role declarations and security headers.

Every view declares who may use it with `@roles(...)` (or `@public`); `tests/test_route_roles.py`
fails when a registered route lacks a declaration or a row in the role x route matrix.
"""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import Flask, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from itsdangerous import BadSignature

from . import clock
from .db import db
from .errors import device_request
from .extensions import login_manager
from .session_user import load as load_session_user
from .services.errors import AuthenticationFailed, Forbidden
from .storage import browser_origins

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'; manifest-src 'self'; worker-src 'self'")


def roles(*allowed: str) -> Callable:
    """Allow only signed-in users whose role is in `allowed`; others get 403 (or the sign-in page)."""
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                if device_request():  # devices get JSON, not a sign-in page
                    raise AuthenticationFailed("auth.required", "Sign in to continue")
                return current_app.login_manager.unauthorized()
            if current_user.role not in allowed:
                raise Forbidden("auth.forbidden", "You do not have permission to see this page")
            return view(*args, **kwargs)
        wrapper.allowed_roles = frozenset(allowed)
        return wrapper
    return decorate


def public(view: Callable) -> Callable:
    """Mark a view as open to everyone, signed in or not (the sign-in page, health check)."""
    view.allowed_roles = "public"
    return view


@login_manager.user_loader
def _load_user(cookie_id: str):
    return load_session_user(db.binding(), cookie_id)


def content_security_policy(connect_origins: tuple[str, ...] = ()) -> str:
    """The CSP, letting scripts also connect to `connect_origins` (the S3 endpoint for presigned uploads)."""
    return CSP.replace("connect-src 'self'", " ".join(("connect-src 'self'",) + tuple(connect_origins)))


PERMISSIONS = "camera=(self), geolocation=(), microphone=()"


def _security_headers(response):
    """Every response's security headers (worked out once per app in init_app): one pass over the headers a
    view set, instead of a scan of them for each header added."""
    headers = response.headers
    present = {name.lower() for name, _ in headers}
    always, defaults = current_app.extensions["security_headers"]
    for name, value in always:
        if name.lower() in present:
            headers[name] = value
        else:
            headers.add(name, value)
    for name, value in defaults:  # a view may set its own (share links send no referrer at all)
        if name.lower() not in present:
            headers.add(name, value)
    if "cache-control" not in present and request.endpoint != "static":
        # Pages carry personal and safeguarding data: never keep them in shared caches.
        headers.add("Cache-Control", "no-store")
    return response


def _headers_for(app: Flask) -> tuple[tuple, tuple]:
    always = [("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"), ("Permissions-Policy", PERMISSIONS)]
    if app.config["SESSION_COOKIE_SECURE"]:
        always.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    defaults = (("Content-Security-Policy", app.extensions["csp"]), ("Referrer-Policy", "same-origin"))
    return tuple(always), defaults


MAX_KEPT_COOKIES = 4096  # distinct session cookies one worker has checked; emptied when full
_SCALARS = (str, int, float, bool, type(None))


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with two things kept per process instead of redone on every request.

    - The signing serializer, per set of keys (building one makes a trial JSON round trip).
    - What a cookie holds once its signature has been checked, keyed by the exact cookie string and the keys
      that checked it. Only a string that passed the check before can match, its age is checked against the
      session lifetime on every request as Flask would, and only sessions of plain values are kept, so each
      request's session is a fresh dict that nothing can change in another's.
    """

    def get_signing_serializer(self, app: Flask):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        kept = app.extensions.get("session_serializer")
        if kept is None or kept[0] != keys:
            kept = app.extensions["session_serializer"] = (keys, super().get_signing_serializer(app))
            app.extensions["session_cookies"] = {}
        return kept[1]

    def open_session(self, app: Flask, request):
        serializer = self.get_signing_serializer(app)
        value = request.cookies.get(self.get_cookie_name(app))
        if serializer is None or not value:
            return super().open_session(app, request)
        max_age = int(app.permanent_session_lifetime.total_seconds())
        checked = app.extensions["session_cookies"]
        found = checked.get(value)
        if found is not None and int(clock.now().timestamp()) - found[1] <= max_age:  # whole seconds, as itsdangerous counts
            return self.session_class(found[0])
        try:
            data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if all(isinstance(item, _SCALARS) for item in data.values()):
            if len(checked) >= MAX_KEPT_COOKIES:
                checked.clear()
            checked[value] = (data, int(signed_at.timestamp()))
        return self.session_class(data)


MAX_SIGNED_TOKENS = 4096  # sessions seen by one worker; emptied when full


def csrf_token() -> str:
    """Flask-WTF's `generate_csrf`, with each session's signed token kept per process: signing it again on every
    page cost a serializer and an HMAC. Only while tokens never expire (WTF_CSRF_TIME_LIMIT None, as configured):
    a token signed once is then as good, for as long, as one signed afresh for the same session."""
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    raw = session.get(field)
    kept = current_app.extensions["signed_csrf_tokens"]
    if raw is not None and field not in g and raw in kept:
        setattr(g, field, kept[raw])  # generate_csrf answers from g
    token = generate_csrf()
    if current_app.config.get("WTF_CSRF_TIME_LIMIT") is None and session.get(field) not in kept:
        if len(kept) >= MAX_SIGNED_TOKENS:
            kept.clear()
        kept[session[field]] = token
    return token


def init_app(app: Flask) -> None:
    # Derived from configuration once: in S3 mode the browser PUTs evidence straight to the bucket.
    app.extensions["csp"] = content_security_policy(browser_origins(app.config))
    app.extensions["security_headers"] = _headers_for(app)
    app.after_request(_security_headers)
    app.session_interface = SessionCookies()
    app.extensions["signed_csrf_tokens"] = {}
    app.jinja_env.globals["csrf_token"] = csrf_token  # in place of Flask-WTF's, which signs anew each call
