"""Field-level capture writes (answers, policy checks, conversations, actions), batch-first.

The HTMX views pass a list of one change; /sync/push passes every change of a kind in a batch.
Set-based inside: one access query, one load, one bulk write per table. Each field carries the
row version and device that last changed it, so a stale edit of a field nobody else touched
applies, while two different values for one field from different devices are both kept as a
conflict for the reviewer (never silent last-write-wins).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, Uuid, select, update
from sqlalchemy.orm import Session

from .. import clock
from ..models import Action, Answer, Conversation, PolicyCheck
from ..models.people import Actor
from .access import AuditAccess, audit_access
from .bulk import in_values, insert_rows
from .capture_rules import SPECS, EntitySpec
from .changes import log_changes
from .conflict_feed import record_conflicts


@dataclass(slots=True)  # not frozen: a frozen init costs ~2 us more per change, 20 ms of a 10,000 push
class Change:
    """One requested change to one entity's fields. Treat it as read-only."""

    ref: object  # the caller's correlation, e.g. the mutation id
    entity_id: uuid.UUID
    audit_id: uuid.UUID
    key: str | None  # item key (answers, policy checks, actions) or conversation kind
    base_version: int
    fields: dict
    device_id: uuid.UUID | None = None
    # The mutation id as canonical lower-case text, when the caller has it (sync does): the
    # device's edit order. Without it, it is derived from `ref` when that is a UUID.
    order: str | None = None


@dataclass
class Outcome:
    ref: object
    status: str  # applied | conflict | held | rejected
    entity_id: uuid.UUID | None = None
    version: int | None = None
    conflicts: list[str] = field(default_factory=list)
    code: str | None = None
    message: str | None = None
    details: dict | None = None


ID_TAKEN = "This id already belongs to another record; give a new record a new id"
MODELS = {"answer": Answer, "policy_check": PolicyCheck, "conversation": Conversation, "action": Action}


def record_answers(session: Session, actor: Actor, changes: list[Change]) -> list[Outcome]:
    """Set ratings, notes and typed header values. :raises: nothing; per-change outcomes instead."""
    return apply_changes(session, actor, "answer", changes)


def record_policy_checks(session: Session, actor: Actor, changes: list[Change]) -> list[Outcome]:
    """Record what the auditor saw of each policy document."""
    return apply_changes(session, actor, "policy_check", changes)


def record_conversations(session: Session, actor: Actor, changes: list[Change]) -> list[Outcome]:
    """Add or edit pseudonymised learner and staff conversations."""
    return apply_changes(session, actor, "conversation", changes)


def propose_actions(session: Session, actor: Actor, changes: list[Change]) -> list[Outcome]:
    """Add or edit corrective actions proposed at capture."""
    return apply_changes(session, actor, "action", changes)


def apply_changes(session: Session, actor: Actor, entity: str, changes: list[Change],
                  access: dict[uuid.UUID, AuditAccess] | None = None) -> list[Outcome]:
    """Apply one kind of change set-based and return an outcome per change, in order.

    `access` lets the review services (a reviewer resolving a sync conflict, a correction) write
    through this same path after deciding themselves who may write; capture edges never pass it.
    """
    spec, model = SPECS[entity], MODELS[entity]
    access = access if access is not None else audit_access(session, actor, {c.audit_id for c in changes})
    outcomes: dict[int, Outcome] = {}
    ready: list[tuple[int, Change, AuditAccess]] = []
    for index, change in enumerate(changes):
        acc = access[change.audit_id]
        refused = _refusal(change, acc, spec)
        if refused:
            outcomes[index] = refused
        else:
            ready.append((index, change, acc))
    state = _load(session, spec, model, [c for _, c, _ in ready])
    writer = _Writer(spec, actor, clock.now())
    for index, change, acc in ready:
        outcomes[index] = writer.merge(state, change, acc)
    writer.flush(session, model, state)
    return [outcomes[i] for i in range(len(changes))]


def _refusal(change: Change, access: AuditAccess, spec: EntitySpec) -> Outcome | None:
    if access.state == "missing":
        return Outcome(change.ref, "held", change.entity_id, code="sync.parent_missing",
                       message="The audit is not on the server yet; this change waits for it")
    if access.state == "forbidden":
        return Outcome(change.ref, "rejected", change.entity_id, code="sync.forbidden",
                       message="You may not change this audit")
    if access.state == "finalised":
        return Outcome(change.ref, "rejected", change.entity_id, code="audit.finalised",
                       message="This audit is finalised and cannot change; ask for a correction")
    errors = spec.validate(change, access.template)
    if errors:
        return Outcome(change.ref, "rejected", change.entity_id, code="sync.invalid",
                       message="The change is not valid", details=errors)
    return None


def _load(session: Session, spec: EntitySpec, model, changes: list[Change]) -> dict:
    """Current server state of the rows these changes touch, keyed the way the entity is."""
    if not changes:
        return {}
    columns = [model.id, model.audit_id, model.version, model.field_meta] + [getattr(model, c) for c in spec.columns]
    if spec.keyed_by_item:
        # A superset (every row of these audits with these keys), narrowed below: one array
        # parameter each instead of thousands of (audit, key) pairs.
        pairs = {(c.audit_id, c.key) for c in changes}
        query = select(model.item_key, *columns).where(
            in_values(model.audit_id, {a for a, _ in pairs}, Uuid()),
            in_values(model.item_key, {k for _, k in pairs}, String()))
    else:
        pairs = None
        query = select(*columns).where(in_values(model.id, {c.entity_id for c in changes}, Uuid()))
    state = {}
    for row in session.execute(query).mappings():
        key = (row["audit_id"], row["item_key"]) if spec.keyed_by_item else row["id"]
        if pairs is not None and key not in pairs:
            continue
        state[key] = {"id": row["id"], "audit_id": row["audit_id"], "version": row["version"],
                      "meta": dict(row["field_meta"] or {}), "values": spec.from_columns(row), "new": False,
                      "dirty": False, "item_key": row.get("item_key")}
    return state


class _Writer:
    """Merges changes into in-memory row state, then writes everything in a few statements."""

    def __init__(self, spec: EntitySpec, actor: Actor, now: datetime) -> None:
        self.spec, self.actor, self.now = spec, actor, now
        # Ids of the rows this batch creates: no second new row may take one. (An id a row already
        # has in the table is refused by its primary key, reported as sync.entity_id_taken by the
        # push's bisection: a lookup of 10,000 new ids first cost ~10 % of a big push.)
        self.taken: set = set()
        self.conflicts: list[dict] = []
        self._device_text: dict[uuid.UUID, str] = {}  # a batch comes from one device or a few

    def merge(self, state: dict, change: Change, access: AuditAccess) -> Outcome:
        key = (change.audit_id, change.key) if self.spec.keyed_by_item else change.entity_id
        row = state.get(key)
        if (change.entity_id in self.taken if row is None else row["audit_id"] != change.audit_id):
            return Outcome(change.ref, "rejected", change.entity_id, code="sync.entity_id_taken", message=ID_TAKEN)
        if change.base_version > (row["version"] if row else 0):
            return Outcome(change.ref, "rejected", change.entity_id, code="sync.base_version_ahead",
                           message="base_version is above the server's version of this record; pull, then edit again",
                           details={"base_version": [f"The server's version is {row['version'] if row else 0}"]})
        if row is None:
            missing = self.spec.required_on_create - set(change.fields)
            if missing:
                return Outcome(change.ref, "rejected", change.entity_id, code="sync.invalid",
                               message="A new record needs more fields",
                               details={f: ["Required when the record is created"] for f in sorted(missing)})
            row = state[key] = {"id": change.entity_id, "audit_id": change.audit_id, "version": 0, "meta": {},
                                "values": {}, "new": True, "dirty": False, "item_key": change.key,
                                "provider_id": access.provider_id, "kind": change.key}
            self.taken.add(change.entity_id)
        device = None
        if change.device_id:
            device = self._device_text.get(change.device_id) or self._device_text.setdefault(
                change.device_id, str(change.device_id))
        late = access.state == "submitted"  # after submission every change waits for the reviewer
        applied, clashes = {}, []
        order = change.order or (str(change.ref) if isinstance(change.ref, uuid.UUID) else None)
        meta, values = row["meta"], row["values"]
        for name, value in change.fields.items():
            last = meta.get(name)
            if last is None:  # never set: no own edit to supersede, no other device to clash with
                if late and values.get(name) != value:
                    clashes.append(name)
                elif values.get(name) != value or name not in values:
                    applied[name] = value
                continue
            if _superseded_by_own_edit(last, device, order):
                continue  # this device already sent a newer value for the field (a reordered resend)
            changed_by_other = last[0] > change.base_version and last[1] != device
            if (late or changed_by_other) and values.get(name) != value:
                clashes.append(name)
            elif values.get(name) != value or name not in values:
                applied[name] = value
            elif last[1] == device and order is not None:
                # Same value re-entered: remember this newer edit so an older resend cannot undo it.
                meta[name] = [last[0], device, order]
                row["dirty"] = True
        problem = self.spec.check_row({**row["values"], **applied}) if applied else None
        if problem:
            return Outcome(change.ref, "rejected", row["id"], code=problem[0], message=problem[1])
        if applied:
            row["version"] += 1
            row["values"].update(applied)
            row["meta"].update({name: [row["version"], device, order] for name in applied})
            row["dirty"] = True
        for name in clashes:
            self.conflicts.append({"audit_id": change.audit_id, "entity": self.spec.name, "entity_id": row["id"],
                                   "field": name, "base_version": change.base_version,
                                   "server_value": {"value": row["values"].get(name)},
                                   "device_value": {"value": change.fields[name]},
                                   "device_id": change.device_id or uuid.UUID(int=0),
                                   "mutation_id": change.ref if isinstance(change.ref, uuid.UUID) else uuid.UUID(int=0),
                                   "actor_id": self.actor.id})
        if clashes:
            # No version on a conflict: the device must not take a base it has not seen the values of.
            return Outcome(change.ref, "conflict", row["id"], None, conflicts=clashes,
                           code="audit.submitted" if late else "sync.conflict",
                           message="Kept for the reviewer: " + ", ".join(clashes))
        return Outcome(change.ref, "applied", row["id"], row["version"])

    def flush(self, session: Session, model, state: dict) -> None:
        inserts, updates, log = [], [], []
        for row in state.values():
            if not row["dirty"]:
                continue
            columns = self.spec.to_columns(row["values"])
            common = {"version": row["version"], "field_meta": row["meta"], **columns}
            if self.spec.name in ("answer", "policy_check", "conversation"):
                common.update(updated_by_id=self.actor.id, updated_at=self.now)
            if row["new"]:
                inserts.append({"id": row["id"], "audit_id": row["audit_id"], **self.spec.insert_extras(row, self.actor),
                                **common})
            else:
                updates.append({"id": row["id"], **common})
            log.append({"entity": self.spec.name, "entity_id": str(row["id"]), "version": row["version"],
                        "audit_id": row["audit_id"]})
        if inserts:
            self.spec.before_insert(session, inserts)
            insert_rows(session, model, inserts)
        if updates:
            session.execute(update(model), updates)
        log.extend(record_conflicts(session, self.conflicts))  # announced in pull (conflict_feed.py)
        log_changes(session, log)


def _superseded_by_own_edit(last: list | None, device: str | None, order: str | None) -> bool:
    """True when the same device already set this field from a later mutation.

    Mutation ids are monotonic UUIDv7 per device, so within one device they give the edit order
    (across devices they are never compared: device clocks do not order anything here).
    """
    if last is None or device is None or order is None or len(last) < 3 or last[1] != device or last[2] is None:
        return False
    return order < last[2]  # canonical lower-case UUID strings sort exactly as the 128-bit values do
