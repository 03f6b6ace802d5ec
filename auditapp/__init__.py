"""auditapp: quality assurance audits of alternative provision. `create_app` only wires."""
from __future__ import annotations

from flask import Flask
from jinja2 import ChainableUndefined, ChoiceLoader, PackageLoader, PrefixLoader
from werkzeug.routing import IntegerConverter

from .config import load_config
from .models.base import MAX_INT_ID


class DatabaseInteger(IntegerConverter):
    """`int` in routes: 0 .. 2**31 - 1, the range of a PostgreSQL integer column."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_INT_ID)
        super().__init__(url_map, *args, **kwargs)


def create_app(config: dict | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, error handlers, CLI. No side effects.

    :raises ConfigError: when a setting is missing or malformed.
    """
    app = Flask(__name__)
    # Every <int:…> in a route is a database key (PostgreSQL integer): a larger number in a URL matches no
    # route (404) instead of reaching the database, which would refuse it with an error (500).
    app.url_map.converters["int"] = DatabaseInteger
    app.config.update(load_config(config))
    if app.config["PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix
        hops = int(app.config["PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="auditapp_session",
        PERMANENT_SESSION_LIFETIME=12 * 60 * 60,  # one long site day
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session (tablets sit idle for hours)
        MAX_CONTENT_LENGTH=int(app.config["EVIDENCE_MAX_BYTES"]) + 1024 * 1024,
    )
    # govuk-frontend-jinja macros read params.x.y, which needs ChainableUndefined.
    app.jinja_loader = ChoiceLoader([app.jinja_loader,
                                     PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")})])
    app.jinja_env.undefined = ChainableUndefined

    from .db import db
    from .extensions import csrf, htmx, login_manager
    from . import errors, security, storage, web

    db.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    security.init_app(app)
    storage.init_app(app)
    errors.init_app(app)
    web.init_app(app)

    from sync.api import bp as sync_blueprint
    from sync.devices import bp as devices_blueprint
    app.register_blueprint(sync_blueprint)
    app.register_blueprint(devices_blueprint)
    return app
