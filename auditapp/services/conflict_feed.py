"""Sync conflicts in the pull feed: every device on an audit learns that a field is contested, and when
a reviewer settles it (sync/PROTOCOL.md, "Pull").

A conflict gets a change-log entry `entity: "conflict"` (its id as text) when it is kept
(`record_conflicts`, called by the capture writer) and again when a reviewer resolves it
(`resolved_row`, logged by services/review_conflicts.py). The entries go into the caller's own
`log_changes` call, so the change-log lock is taken once, at the same late point as before. Pull reads
each conflict's current state with `states` (one query, plus one per kind of entity for item keys).

A module of its own: capture.py writes conflicts and review_conflicts.py imports capture.py.
"""
from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..models import Action, Answer, PolicyCheck, SyncConflict

_KEYED = {"answer": Answer, "policy_check": PolicyCheck, "action": Action}  # entities with an item_key


def record_conflicts(session: Session, rows: list[dict]) -> list[dict]:
    """Insert sync_conflicts rows; the change-log rows announcing them, for the caller's log_changes."""
    if not rows:
        return []
    kept = session.execute(insert(SyncConflict).returning(SyncConflict.id, SyncConflict.audit_id), rows).all()
    return [{"entity": "conflict", "entity_id": str(conflict_id), "version": 1, "audit_id": audit_id}
            for conflict_id, audit_id in kept]


def resolved_row(conflict: SyncConflict) -> dict:
    """The change-log row saying `conflict` is resolved (version 2: it is open at 1)."""
    return {"entity": "conflict", "entity_id": str(conflict.id), "version": 2, "audit_id": conflict.audit_id}


def states(session: Session, ids: set[int]) -> dict[tuple[str, str], dict]:
    """Current state of these conflicts as pull sends it, keyed ("conflict", id text)."""
    rows = list(session.scalars(select(SyncConflict).where(SyncConflict.id.in_(ids))))
    keys: dict = {}
    for entity, model in _KEYED.items():
        wanted = {r.entity_id for r in rows if r.entity == entity}
        if wanted:
            keys.update(session.execute(select(model.id, model.item_key).where(model.id.in_(wanted))).all())
    return {("conflict", str(r.id)): {
        "id": str(r.id), "audit_id": str(r.audit_id), "entity": r.entity, "entity_id": str(r.entity_id),
        "item_key": keys.get(r.entity_id), "field": r.field, "status": "open" if r.resolved_at is None else "resolved",
        "device_id": str(r.device_id), "resolved_at": r.resolved_at.isoformat() if r.resolved_at else None}
        for r in rows}
