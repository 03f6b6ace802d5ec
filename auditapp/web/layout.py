"""The layout's shared parts, built once per process and reused: the header (skip link, service header,
navigation) and the addresses of the static files every page links.

GOV.UK's header and navigation macros cost more than the rest of a page's layout together, and their
output depends only on the navigation of the user's role, the page (the current item), the unread
count beside "Notifications" and the script root. The signed-in user's own bar (name, CSRF token)
is not in it: layout.html renders that for every request.
"""
from __future__ import annotations

from flask import Flask, current_app, request, url_for
from jinja2 import pass_context
from markupsafe import Markup

MAX_HEADERS = 1024  # roles x pages x unread counts seen; emptied when full


@pass_context
def site_header(context) -> Markup:
    """The header for this page and role: rendered from `_header.html` on first use, then reused."""
    navigation = context["navigation"]
    counted = any(endpoint == "notifications.index" for endpoint, _ in navigation)
    unread = context["unread_notifications"]() if counted else 0
    key = (tuple(navigation), request.endpoint, unread, request.script_root)
    headers = current_app.extensions["site_headers"]
    found = headers.get(key)
    if found is None:
        template = context.environment.get_template("_header.html")
        found = Markup(template.render({**context.get_all(), "unread": unread}))
        if len(headers) >= MAX_HEADERS:
            headers.clear()
        headers[key] = found
    return found


def static_url(filename: str) -> str:
    """`url_for("static", filename=...)`, built once per script root (the layout links seven files a page)."""
    key = (request.script_root, filename)
    urls = current_app.extensions["static_urls"]
    found = urls.get(key)
    if found is None:
        found = urls[key] = url_for("static", filename=filename)
    return found


def init_app(app: Flask) -> None:
    app.extensions["site_headers"] = {}
    app.extensions["static_urls"] = {}  # one entry per file the layout links
    app.jinja_env.globals.update(site_header=site_header, static_url=static_url)
