"""Share links: a read-only, expiring web address for a finalised audit's action plan.

The provider's contact has no account; a reviewer or maintainer gives them a link. The token is
random (256 bits) and shown once; only its SHA-256 is stored, so a database reader cannot use a
link. A link can be revoked; expired, revoked and unknown tokens get different clear answers
(410 for the first two: the link existed). Every creation, revocation and view is in the audit log.
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clock
from ..models import Audit, ShareLink
from ..models.people import Actor
from . import audit_log
from .actions import may_review
from .errors import Conflict, Forbidden, Gone, NotFound
from .reports import may_see_report

PURPOSE = "action_plan"
TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    """The stored form of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def may_share(session: Session, actor: Actor, audit: Audit) -> bool:
    """Maintainers, and the audit's reviewers, may give out (and revoke) links to its action plan."""
    return actor.role == "maintainer" or may_review(session, actor, audit)


def create_share_link(session: Session, actor: Actor, audit: Audit, days: int,
                      now: datetime | None = None) -> tuple[ShareLink, str]:
    """Create a link to `audit`'s action plan valid for `days` days; return it and the token (shown once).

    :raises share_link.forbidden: the actor may not share this audit.
    :raises share_link.not_finalised: only a finalised audit's plan can be shared.
    """
    if not may_share(session, actor, audit):
        raise Forbidden("share_link.forbidden", "Only a maintainer or a reviewer of this audit may share its action plan")
    if audit.status != "finalised":
        raise Conflict("share_link.not_finalised", "Only a finalised audit's action plan can be shared")
    now = now or clock.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = ShareLink(audit_id=audit.id, purpose=PURPOSE, token_sha256=token_hash(token), created_by_id=actor.id,
                     created_at=now, expires_at=now + timedelta(days=days))
    session.add(link)
    session.flush()
    audit_log.record(session, actor, "share_link.create", "share_link", link.id,
                     after={"audit_id": str(audit.id), "purpose": PURPOSE, "expires_at": link.expires_at.isoformat()})
    return link, token


def revoke_share_link(session: Session, actor: Actor, link_id: int) -> ShareLink:
    """Stop a link working at once. Revoking a revoked link changes nothing.

    :raises share_link.not_found: none, or on an audit whose report the actor may not see (the same answer).
    :raises share_link.forbidden: the actor sees the audit but may not share it.
    """
    link = session.get(ShareLink, link_id)
    audit = link and session.get(Audit, link.audit_id)
    if link is None or not may_see_report(session, actor, audit):
        raise NotFound("share_link.not_found", "There is no such link")
    if not may_share(session, actor, audit):
        raise Forbidden("share_link.forbidden", "Only a maintainer or a reviewer of this audit may revoke its links")
    if link.revoked_at is None:
        link.revoked_at = clock.now()
        session.flush()
        audit_log.record(session, actor, "share_link.revoke", "share_link", link.id,
                         before={"revoked_at": None}, after={"revoked_at": link.revoked_at.isoformat()})
    return link


def open_share_link(session: Session, token: str, what: str, now: datetime | None = None) -> tuple[ShareLink, Audit]:
    """The link and audit behind `token`, logging the view as `what` (e.g. "action_plan", "report_pdf").

    :raises share_link.not_found: no link has this token (404).
    :raises share_link.revoked: :raises share_link.expired: the link existed but no longer works (410).
    """
    now = now or clock.now()
    link = session.scalar(select(ShareLink).where(ShareLink.token_sha256 == token_hash(token or "")))
    if link is None:
        raise NotFound("share_link.not_found", "This link is not recognised. Check you copied all of it, "
                                               "or ask the council's AP team for a new one.")
    if link.revoked_at is not None:
        raise Gone("share_link.revoked", "This link has been withdrawn. Ask the council's AP team for a new one.")
    if link.expires_at <= now:
        raise Gone("share_link.expired", f"This link expired on {link.expires_at:%-d %B %Y}. "
                                         "Ask the council's AP team for a new one.")
    audit = session.get(Audit, link.audit_id)
    audit_log.record(session, None, "share_link.view", "share_link", link.id,
                     after={"audit_id": str(audit.id), "what": what})
    return link, audit


def links_for(session: Session, audit_id: uuid.UUID) -> list[ShareLink]:
    """Every link made for an audit, newest first."""
    return list(session.scalars(select(ShareLink).where(ShareLink.audit_id == audit_id)
                                .order_by(ShareLink.created_at.desc(), ShareLink.id.desc())))


def link_state(link: ShareLink, now: datetime | None = None) -> str:
    """"active", "expired" or "revoked"."""
    if link.revoked_at is not None:
        return "revoked"
    return "expired" if link.expires_at <= (now or clock.now()) else "active"
