"""Append an entry to the audit log: who did what, when, with before and after."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..models import AuditLogEntry
from ..models.people import Actor


def record(session: Session, actor: Actor | None, action: str, entity: str, entity_id: object,
           before: dict | None = None, after: dict | None = None) -> AuditLogEntry:
    """Add one audit-log entry in the caller's transaction; never commits."""
    entry = AuditLogEntry(actor_id=actor.id if actor is not None else None, action=action, entity=entity,
                          entity_id=str(entity_id), before=before, after=after)
    session.add(entry)
    return entry
