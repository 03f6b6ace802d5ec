"""Held mutations: kept while their audit is not on the server, bounded, then settled and reported back.

A mutation whose audit is missing is answered `held` and kept in held_mutations. It reaches its
final outcome later: applied, conflict or rejected when the audit arrives (apply._release_held), or
rejected `sync.held_expired` when it waited longer than HELD_MAX_AGE_DAYS (`purge_expired`, run by
`audit-tools sync purge-held`). Either way `settle` makes the stored processed_mutations result the
final one (a replay of the mutation id answers it) and writes a change-log entry `entity: "mutation"`
that only the user who sent it pulls (sync/PROTOCOL.md, "Pull").

What may be held is bounded (`admit`): only mutations for an audit this user could ever capture (one
derived from a visit assigned to them, of a type their role carries out; anything else would be
refused once it existed, so it is refused now, `sync.forbidden`, the answer an existing audit of
someone else's visit gets), and at most HELD_MAX_PER_DEVICE per device and HELD_MAX_PER_USER per
user (a user can mint device ids at will), beyond which `sync.held_limit`.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, has_app_context
from sqlalchemy import delete, func, select, text, tuple_, update
from sqlalchemy.orm import Session

from auditapp.models import HeldMutation, ProcessedMutation, User, VisitAssignment, VisitAuditType
from auditapp.services import audit_log
from auditapp.services.access import CAPTURE_TYPES
from auditapp.services.audits import audit_id_for
from auditapp.services.capture import Outcome
from auditapp.services.changes import CHANGE_LOG_LOCK, log_changes


@dataclass(frozen=True)
class Limits:
    per_device: int = 5000
    per_user: int = 20000
    max_age_days: int = 30


def limits() -> Limits:
    """The configured limits inside an app (push); the defaults outside one (tools, tests)."""
    if not has_app_context():
        return Limits()
    config = current_app.config
    return Limits(int(config["HELD_MAX_PER_DEVICE"]), int(config["HELD_MAX_PER_USER"]),
                  int(config["HELD_MAX_AGE_DAYS"]))


def admit(session: Session, actor: User, device_id: uuid.UUID, held: list[tuple[Outcome, uuid.UUID]],
          bounds: Limits) -> None:
    """Turn the `held` outcomes that may not wait into rejections, in place; `held` is (outcome, parent audit id)."""
    if not held:
        return
    possible = _possible_audits(session, actor)
    waiting = []
    for outcome, parent in held:
        if parent in possible:
            waiting.append(outcome)
        else:
            _reject(outcome, code="sync.forbidden", message="You may not change this audit")
    if not waiting:
        return
    on_device = session.scalar(select(func.count()).select_from(HeldMutation)
                               .where(HeldMutation.device_id == device_id))
    of_user = session.scalar(select(func.count()).select_from(HeldMutation).where(HeldMutation.actor_id == actor.id))
    room = max(0, min(bounds.per_device - on_device, bounds.per_user - of_user))
    for outcome in waiting[room:]:
        _reject(outcome, code="sync.held_limit",
                message=f"Too many changes are waiting for audits that are not on the server (at most "
                f"{bounds.per_device} per device): sync the audit's start first, then make this change again",
                details={"max_held_per_device": bounds.per_device, "max_held_per_user": bounds.per_user})


def _possible_audits(session: Session, actor: User) -> set[uuid.UUID]:
    """Ids of the first revision of every audit the actor could capture (later revisions start on the server)."""
    types = CAPTURE_TYPES.get(actor.role, set())
    rows = session.execute(select(VisitAuditType.visit_id, VisitAuditType.audit_type)
                           .join(VisitAssignment, (VisitAssignment.visit_id == VisitAuditType.visit_id)
                                 & (VisitAssignment.user_id == actor.id))).all()
    return {audit_id_for(visit_id, audit_type) for visit_id, audit_type in rows if audit_type in types}


def _reject(outcome: Outcome, *, code: str, message: str, details: dict | None = None) -> None:
    outcome.status, outcome.code, outcome.message, outcome.details = "rejected", code, message, details
    outcome.version, outcome.conflicts = None, []


def settle(session: Session, settled: list[tuple[HeldMutation, dict, uuid.UUID | None]]) -> None:
    """Make each result final: stored for replays, logged for its sender's pull, no longer held.

    `settled` is (held row, the result as a push returns it, the entity id kept by the server when
    the result is a plain `applied` one that processed_mutations keeps as columns, else None).
    """
    if not settled:
        return
    session.execute(update(ProcessedMutation), [
        {"device_id": h.device_id, "mutation_id": h.mutation_id, "status": result["status"],
         "version": result.get("version"), "result": None if kept is not None else result,
         "entity_id": kept if kept is not None else _entity_id(h)}
        for h, result, kept in settled])
    log_changes(session, [
        {"entity": "mutation", "entity_id": str(h.mutation_id), "version": 1, "user_id": h.actor_id,
         "data": {**result, "mutation_id": str(h.mutation_id), "device_id": str(h.device_id),
                  "kind": h.mutation.get("kind"), "entity_id": result.get("entity_id") or str(_entity_id(h))}}
        for h, result, _ in settled])
    session.execute(delete(HeldMutation).where(tuple_(HeldMutation.device_id, HeldMutation.mutation_id)
                                               .in_([(h.device_id, h.mutation_id) for h, _, _ in settled])))


def _entity_id(h: HeldMutation) -> uuid.UUID:
    return uuid.UUID(str(h.mutation["entity_id"]))


def purge_expired(session: Session, cutoff: datetime, dry_run: bool = False) -> list[HeldMutation]:
    """Settle every mutation held since before `cutoff` as rejected `sync.held_expired`; the rows, oldest first.

    Takes the change-log lock first, as a push does before it releases held mutations, so the two
    never wait on each other's locks; a mutation a push is releasing meanwhile is left to it.
    """
    if not dry_run:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHANGE_LOG_LOCK})
    query = select(HeldMutation).where(HeldMutation.held_at < cutoff).order_by(HeldMutation.held_at)
    rows = list(session.scalars(query if dry_run else query.with_for_update(skip_locked=True)))
    if dry_run or not rows:
        return rows
    message = (f"The audit this change was waiting for did not reach the server by "
               f"{cutoff:%Y-%m-%d}; the change was not applied")
    settle(session, [(h, {"mutation_id": str(h.mutation_id), "status": "rejected",
                          "entity_id": str(_entity_id(h)), "code": "sync.held_expired", "message": message}, None)
                     for h in rows])
    by_device: dict[uuid.UUID, list[HeldMutation]] = {}
    for h in rows:
        by_device.setdefault(h.device_id, []).append(h)
    for device_id, held in by_device.items():
        audit_log.record(session, None, "sync.held_expired", "device", device_id,
                         after={"count": len(held), "user_id": held[0].actor_id,
                                "audits": sorted({str(h.parent_audit_id) for h in held})})
    return rows
