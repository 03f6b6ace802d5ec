"""Sync conflicts at review: the reviewer sees both values of a field and picks the one to keep.

Two tablets that changed one field from the same base (or a tablet that changed an audit after it
was submitted) leave a `sync_conflicts` row and apply neither value silently (ARCHITECTURE.md §2).
The pick is written through the capture services, the one write path for audit content, with the
reviewer's access decided here; the conflict is marked resolved and the step logged.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clock
from ..models import Audit, SyncConflict, User
from ..models.people import Actor
from . import audit_log
from .access import AuditAccess
from .capture import MODELS, Change, apply_changes
from .capture_rules import RESPONSE_PREFIX, SPECS
from .changes import log_changes
from .conflict_feed import resolved_row
from .errors import Conflict, Invalid, NotFound
from .review import check_fresh, check_reviewer, locked_audit
from .scoring import RATING_LABELS

NOTE_MAX = 2000
FIELD_LABELS = {"rating": "rating", "note": "note", "na_reason": "N/A reason", "value": "value",
                "document_seen": "document seen", "document_version": "document version", "review_date": "review date",
                "named_person": "named person", "subject": "subject", "setting": "setting",
                "consent_given": "consent given", "notes": "notes", "ended_for_safeguarding": "ended for safeguarding",
                "description": "description", "owner_role": "owner", "due_date": "due date", "priority": "priority"}
ENTITY_LABELS = {"answer": "", "policy_check": "policy check ", "conversation": "conversation ", "action": "action "}


@dataclass(frozen=True)
class Option:
    choice: str  # "current" | "server" | "device"
    label: str
    shown: str  # the value as a person reads it


@dataclass(frozen=True)
class ConflictView:
    """One unresolved conflict as the review page shows it."""

    conflict: SyncConflict
    label: str  # "SG-6.1 rating", "conversation L2 notes"
    raised_by: str
    options: list[Option]


def display_value(field: str, value) -> str:
    """A field value as a person reads it."""
    if value is None or value == "":
        return "(empty)"
    if field == "rating":
        return RATING_LABELS.get(value, str(value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items()) or "(empty)"
    return str(value)


def open_conflicts(session: Session, audit: Audit) -> list[ConflictView]:
    """Unresolved conflicts of one audit, oldest first, each with the values a reviewer can keep."""
    rows = list(session.scalars(select(SyncConflict).where(SyncConflict.audit_id == audit.id,
                                                           SyncConflict.resolved_at.is_(None))
                                .order_by(SyncConflict.created_at, SyncConflict.id)))
    names = dict(session.execute(select(User.id, User.full_name)
                                 .where(User.id.in_({r.actor_id for r in rows}))).all()) if rows else {}
    views = []
    for row in rows:
        entity, current = _current(session, row)
        views.append(ConflictView(row, _label(row, entity), names.get(row.actor_id, "someone"),
                                  _options(row, current)))
    return views


def resolve_conflict(session: Session, actor: Actor, audit_id: uuid.UUID, conflict_id: int, choice: str,
                     note: str, base_version: int) -> SyncConflict:
    """Keep one value of a conflicting field: write it through the capture services, mark the conflict resolved.

    :raises audit.not_found / review.not_reviewer / review.own_audit / review.stale:
    :raises conflict.not_found: no such conflict on this audit.
    :raises conflict.resolved: someone resolved it already (details say who kept what).
    :raises review.not_submitted: the audit is not under review.
    :raises conflict.invalid: no valid choice, a note too long, or the kept value breaks a rule.
    """
    audit = locked_audit(session, audit_id)
    check_reviewer(session, actor, audit)
    row = session.get(SyncConflict, conflict_id, with_for_update=True, populate_existing=True)
    if row is None or row.audit_id != audit.id:
        raise NotFound("conflict.not_found", "There is no such conflict on this audit")
    if row.resolved_at is not None:
        who = session.get(User, row.resolved_by_id)
        raise Conflict("conflict.resolved", "Another reviewer resolved this conflict first. Nothing was changed.",
                       {"changed": [f"{who.full_name if who else 'Someone'} kept "
                                    f"{display_value(row.field, (row.chosen_value or {}).get('value'))} "
                                    f"at {clock.local(row.resolved_at):%-d %b %Y %H:%M}"]})
    check_fresh(session, audit, base_version)
    if audit.status != "submitted":
        raise Conflict("review.not_submitted", f"This audit is {audit.status}: conflicts are resolved during review",
                       {"status": audit.status})
    entity, current = _current(session, row)
    options = {o.choice: o for o in _options(row, current)}
    errors = {}
    if choice not in options:
        errors["choice"] = ["Choose the value to keep"]
    if len(note or "") > NOTE_MAX:
        errors["note"] = [f"Keep the note to {NOTE_MAX} characters or fewer"]
    if errors:
        raise Invalid("conflict.invalid", "Check your choice", errors)
    value = _value_of(row, choice, current)
    if value != current:
        _write(session, actor, audit, row, entity, value)
    row.resolved_at, row.resolved_by_id = clock.now(), actor.id
    row.chosen_value, row.resolution_note = {"value": value}, (note or "").strip() or None
    audit.version += 1  # a review form drawn before this resolution is stale now
    session.flush()
    log_changes(session, [{"entity": "audit", "entity_id": str(audit.id), "version": audit.version,
                           "audit_id": audit.id}, resolved_row(row)])
    audit_log.record(session, actor, "conflict.resolve", "audit", audit.id,
                     before={"conflict_id": row.id, "current": current, "server_value": row.server_value,
                             "device_value": row.device_value},
                     after={"version": audit.version, "conflict": _label(row, entity),
                            "kept": display_value(row.field, value), "choice": choice, "note": row.resolution_note})
    return row


def _current(session: Session, row: SyncConflict):
    """The conflicting entity's row and the field's value on the server now."""
    model = MODELS.get(row.entity)
    entity = session.get(model, row.entity_id) if model is not None else None
    if entity is None:
        return None, None
    spec = SPECS[row.entity]
    values = spec.from_columns({c: getattr(entity, c) for c in spec.columns})
    return entity, values.get(row.field)


def _options(row: SyncConflict, current) -> list[Option]:
    server_then = (row.server_value or {}).get("value")
    device = (row.device_value or {}).get("value")
    options = [Option("current", "Keep the value on the server now", display_value(row.field, current))]
    if server_then != current:
        options.append(Option("server", "Use the value the server had when the conflict arose",
                              display_value(row.field, server_then)))
    if device not in (current, server_then):
        options.append(Option("device", "Use the value sent from the tablet", display_value(row.field, device)))
    return options


def _value_of(row: SyncConflict, choice: str, current):
    if choice == "server":
        return (row.server_value or {}).get("value")
    if choice == "device":
        return (row.device_value or {}).get("value")
    return current


def _label(row: SyncConflict, entity) -> str:
    field = row.field
    if field.startswith(RESPONSE_PREFIX):
        field = "response to " + field[len(RESPONSE_PREFIX):]
    else:
        field = FIELD_LABELS.get(field, field.replace("_", " "))
    if entity is None:
        return f"{row.entity} {field}"
    which = getattr(entity, "item_key", None) or getattr(entity, "reference", None) or ""
    return f"{ENTITY_LABELS.get(row.entity, '')}{which} {field}".strip()


def _write(session: Session, actor: Actor, audit: Audit, row: SyncConflict, entity, value) -> None:
    key = getattr(entity, "item_key", None) if row.entity != "conversation" else entity.kind
    access = {audit.id: AuditAccess(audit.id, "writable", audit.visit.provider_id, audit.visit_id,
                                    audit.template_version.content)}
    change = Change(row.id, entity.id, audit.id, key, entity.version, {row.field: value})
    outcome = apply_changes(session, actor, row.entity, [change], access=access)[0]
    if outcome.status != "applied":
        raise Invalid("conflict.invalid", outcome.message or "That value cannot be kept",
                      {"choice": [outcome.message or "That value cannot be kept"]})
