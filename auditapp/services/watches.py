"""School users watch providers, and read the notifications that watching brings.

The notifications themselves are written by services/notifications.py in the transaction of the
status change they report; here are only the watcher's own changes. Each is audit-logged.
Watching twice, or unwatching what is not watched, changes nothing (the primary key decides,
never a check-then-insert).
"""
from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from .. import clock
from ..directory_queries import SCHOOL_STATUSES
from ..models import Notification, Provider, User, Watch
from ..models.people import Actor
from . import audit_log
from .errors import Forbidden, NotFound

WATCHER_ROLES = ("school",)


def watch(session: Session, actor: Actor, provider_id: int) -> bool:
    """Start watching a provider the school can see; True when it was not watched before.

    :raises watch.schools_only: the actor is not a school user.
    :raises provider.not_found: unknown, or not shown to schools.
    """
    _check(session, actor, provider_id)
    added = session.execute(insert(Watch).values(user_id=actor.id, provider_id=provider_id,
                                                 created_at=clock.now())
                            .on_conflict_do_nothing().returning(Watch.provider_id)).first() is not None
    if added:
        audit_log.record(session, actor, "watch.add", "provider", provider_id)
    return added


def unwatch(session: Session, actor: Actor, provider_id: int) -> bool:
    """Stop watching; True when it was watched. Works even once the provider is hidden from schools."""
    if actor.role not in WATCHER_ROLES:
        raise Forbidden("watch.schools_only", "Only school users watch providers")
    removed = session.execute(delete(Watch).where(Watch.user_id == actor.id,
                                                  Watch.provider_id == provider_id)).rowcount == 1
    if removed:
        audit_log.record(session, actor, "watch.remove", "provider", provider_id)
    return removed


def is_watching(session: Session, user: User, provider_id: int) -> bool:
    """Whether `user` watches the provider."""
    return session.scalar(select(Watch.provider_id).where(Watch.user_id == user.id,
                                                          Watch.provider_id == provider_id)) is not None


def mark_read(session: Session, actor: Actor, notification_id: int | None = None) -> int:
    """Mark one of the actor's notifications read, or all of them when no id is given; return how many.

    :raises notification.not_found: the id is unknown or another user's (the same answer).
    """
    query = update(Notification).where(Notification.user_id == actor.id, Notification.read_at.is_(None))
    if notification_id is not None:
        owner = session.scalar(select(Notification.user_id).where(Notification.id == notification_id))
        if owner != actor.id:
            raise NotFound("notification.not_found", "There is no such notification")
        query = query.where(Notification.id == notification_id)
    count = session.execute(query.values(read_at=clock.now())).rowcount
    if count:
        audit_log.record(session, actor, "notification.read", "notification",
                         notification_id if notification_id is not None else "all", after={"count": count})
    return count


def _check(session: Session, actor: Actor, provider_id: int) -> None:
    if actor.role not in WATCHER_ROLES:
        raise Forbidden("watch.schools_only", "Only school users watch providers")
    shown = session.scalar(select(Provider.id).where(Provider.id == provider_id,
                                                     Provider.directory_status.in_(SCHOOL_STATUSES),
                                                     Provider.closed_at.is_(None)))
    if shown is None:
        raise NotFound("provider.not_found", "There is no such provider in the directory")
