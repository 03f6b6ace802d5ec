"""In-app notifications: the list, marking read, and the unread count in the navigation.

Notifications are written by the services that change what a user watches (a provider's status);
here a user only reads their own and marks them read.
"""
from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask_login import current_user

from .. import directory_queries
from ..db import db, read_only_request
from ..extensions import htmx
from ..models.enums import ROLES
from ..security import roles
from ..services import notifications as notification_service
from ..services import watches
from . import render

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
# Only school users watch providers, so only they get the count in the navigation.
COUNTED_ROLES = ("school",)


@bp.get("/")
@roles(*ROLES)
def index():
    """The signed-in user's notifications, newest first."""
    return render("notifications/index.html", "notifications/_list.html", **_listing())


@bp.post("/<int:notification_id>/read")
@roles(*ROLES)
def read(notification_id: int):
    """Mark one notification read. :raises notification.not_found: unknown or another user's."""
    watches.mark_read(db.session, current_user, notification_id)
    db.session.commit()
    return _answer()


@bp.post("/read-all")
@roles(*ROLES)
def read_all():
    """Mark every notification of the user read."""
    watches.mark_read(db.session, current_user)
    db.session.commit()
    return _answer()


def _answer():
    if htmx:  # the list and, out of band, the count in the navigation
        return render("notifications/_list.html", with_count=True, **_listing())
    return redirect(url_for(".index"), 303)


def _listing() -> dict:
    notes = directory_queries.notifications_for(db.session, current_user)
    ids = {note.provider_id for note in notes if note.provider_id}
    # LA roles may open any provider's page; schools only those still listed for them.
    openable = directory_queries.shown_to_schools(db.session, ids) if directory_queries.school_view(current_user) \
        else ids
    return {"notifications": notes, "openable": openable}


@bp.app_context_processor
def _unread_count() -> dict:
    """`unread_notifications()` for the layout: counted only when the navigation is drawn."""
    def unread() -> int:
        if not current_user.is_authenticated or current_user.role not in COUNTED_ROLES:
            return 0
        loaded = getattr(current_user, "unread_count", None)  # read with the session user (session_user.py)
        if read_only_request() and loaded is not None:
            return loaded  # a read-only view marks nothing read
        return notification_service.unread_count(db.session, current_user)
    return {"unread_notifications": unread}
