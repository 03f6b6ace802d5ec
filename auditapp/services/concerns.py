"""Safeguarding concerns after they are raised: a maintainer triages an open one, saying what was done.

A concern raised during a visit (services/audits.raise_concerns) keeps its provider Under review (rule
R3 counts the open ones) until a maintainer triages it: open → triaged, with a note of what was done,
who and when. The provider is recomputed in the same transaction, so its computed status moves at once;
clearing the published review stays a maintainer's decision (services/decisions.py). The audit log
records that a concern was triaged, never what the concern or the note says. Only maintainers triage,
and only maintainers read a concern's summary and its triage note.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.orm import Session, aliased

from .. import clock
from ..models import SafeguardingConcern, User
from ..models.people import Actor
from . import audit_log, rollup
from .errors import Conflict, Forbidden, Invalid, NotFound

MAX_NOTE = 2000
NOTE_FIELD = "note"


def triage(session: Session, actor: Actor, concern_id: uuid.UUID, note: str,
           provider_id: int | None = None) -> SafeguardingConcern:
    """Mark an open concern triaged with what was done, and recompute its provider; never commits.

    `provider_id`, when given, is the provider the maintainer was looking at: a concern of another is not
    found. :raises DomainError: Forbidden for anyone but a maintainer, Invalid for a missing or too long
    note, NotFound, Conflict when the concern is no longer open.
    """
    if actor.role != "maintainer":
        raise Forbidden("concern.maintainers_only", "Only directory maintainers triage safeguarding concerns")
    text = (note or "").strip()
    if not text:
        raise Invalid("concern.note_required", "Say what was done about the concern",
                      {NOTE_FIELD: ["Enter what was done (triage note)"]})
    if len(text) > MAX_NOTE:
        raise Invalid("concern.note_too_long", f"Keep the triage note to {MAX_NOTE} characters",
                      {NOTE_FIELD: [f"Must be {MAX_NOTE} characters or fewer"]})
    # Locked: of two maintainers triaging at once, the second waits, then finds it triaged.
    concern = session.scalar(select(SafeguardingConcern).where(SafeguardingConcern.id == concern_id)
                             .with_for_update())
    if concern is None or (provider_id is not None and concern.provider_id != provider_id):
        raise NotFound("concern.not_found", "There is no such safeguarding concern")
    if concern.status != "open":
        raise Conflict("concern.not_open", f"This concern is already {concern.status}: nothing was changed",
                       {"status": concern.status})
    concern.status, concern.triage_note = "triaged", text
    concern.triaged_by_id, concern.triaged_at = actor.id, clock.now()
    concern.version += 1
    session.flush()
    # Who and when, never what the concern or the note says.
    audit_log.record(session, actor, "concern.triage", "safeguarding_concern", concern.id,
                     before={"status": "open"},
                     after={"status": "triaged", "provider_id": concern.provider_id, "version": concern.version})
    rollup.recompute(session, [concern.provider_id], clock.today(), "concern", actor)
    return concern


@dataclass(frozen=True)
class ConcernRow:
    """A concern as the maintainers' provider page lists it, with the names of who raised and triaged it."""
    concern: SafeguardingConcern
    raised_by: str
    triaged_by: str | None

    @property
    def is_open(self) -> bool:
        return self.concern.status == "open"

    @property
    def received_at(self) -> datetime:
        return self.concern.received_at


def provider_concerns(session: Session, provider_id: int, open_only: bool = False) -> list[ConcernRow]:
    """A provider's safeguarding concerns, open ones first, then newest first (maintainers only: the edge
    checks; a concern's summary and triage note are for maintainers)."""
    raiser, triager = aliased(User), aliased(User)
    statement = (select(SafeguardingConcern, raiser.full_name, triager.full_name)
                 .join(raiser, raiser.id == SafeguardingConcern.raised_by_id)
                 .outerjoin(triager, triager.id == SafeguardingConcern.triaged_by_id)
                 .where(SafeguardingConcern.provider_id == provider_id)
                 .order_by(case((SafeguardingConcern.status == "open", 0), else_=1),
                           SafeguardingConcern.received_at.desc(), SafeguardingConcern.id))
    if open_only:
        statement = statement.where(SafeguardingConcern.status == "open")
    return [ConcernRow(concern, raised, triaged) for concern, raised, triaged in session.execute(statement)]


def open_concerns(session: Session, provider_id: int) -> list[ConcernRow]:
    """A provider's concerns awaiting triage, newest first."""
    return provider_concerns(session, provider_id, open_only=True)
