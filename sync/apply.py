"""Apply a push: idempotency, per-kind batches through the services, held mutations, bisection.

One transaction per push, owned by the caller. `(device_id, mutation_id)` is the primary key of
processed_mutations, so a replay returns the stored result and a concurrent identical push fails
on commit with a unique violation (the edge rolls back and retries once; INGEST.md trap 1).
"""
from __future__ import annotations

import hashlib
import json
import re
import uuid

from marshmallow import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from auditapp import clock
from auditapp.gc_pause import collector_paused
from auditapp.models import Device, HeldMutation, ProcessedMutation, User
from auditapp.services import audits, capture
from auditapp.services.bulk import insert_rows
from auditapp.services.capture import Change, Outcome

from . import evidence_kinds, held
from .schemas import KINDS, load_mutation
from .validate import check_mutation

FIELD_KINDS = {"answer.set": capture.record_answers, "policy_check.set": capture.record_policy_checks,
               "conversation.set": capture.record_conversations, "action.set": capture.propose_actions}
FINAL = {"applied", "conflict", "rejected"}


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)
# The C encoder behind json.dumps, built once: JSONEncoder.encode builds a new one per call, which
# was half the cost of hashing a 10,000-mutation replay. Same output (tested); no circular check,
# which parsed JSON cannot need.
_C_ENCODE = (json.encoder.c_make_encoder(None, str, json.encoder.encode_basestring_ascii, None, ":", ",",
                                         True, False, True)
             if json.encoder.c_make_encoder is not None else None)


def payload_hash(raw: dict) -> str:
    """Hash of what a mutation asks for, so the same id with another payload is caught."""
    return _hash_and_clean(raw)[0]


def _hash_and_clean(raw: dict) -> tuple[str, bool]:
    """The payload hash, and whether the canonical text shows the payload cannot hold bad text or numbers."""
    canonical = (raw.get("kind"), raw.get("entity_id"), raw.get("base_version"), raw.get("payload"))
    text = "".join(_C_ENCODE(canonical, 0)) if _C_ENCODE is not None else _ENCODER.encode(canonical)
    # In this ASCII JSON a NUL, a surrogate (lone, or half of an emoji's pair) and a non-finite number
    # can only appear as one of these; a mutation without them needs no deeper scan (an or-chain: half
    # the cost of any() over a tuple).
    return hashlib.sha256(text.encode()).hexdigest(), not (
        "\\u0000" in text or "\\ud" in text or "Infinity" in text or "NaN" in text)


def push(session: Session, actor: User, device_id: uuid.UUID, raw_mutations: list) -> list[dict]:
    """Apply a batch of raw mutations for `actor` on `device_id`; one result per mutation, in order."""
    with collector_paused():
        return _push(session, actor, device_id, raw_mutations)


def _push(session: Session, actor: User, device_id: uuid.UUID, raw_mutations: list) -> list[dict]:
    if not _device_belongs_to(session, actor, device_id):
        return [_result(_mutation_id(raw), "rejected", code="sync.forbidden",
                        message="This device is registered to another user") for raw in raw_mutations]
    keys = [_canonical_id(raw) for raw in raw_mutations]
    stored = _stored_results(session, device_id, keys)
    digests = [_hash_and_clean(raw) if isinstance(raw, dict) else ("", False) for raw in raw_mutations]
    hashes = [digest for digest, _ in digests]
    results: list[dict] = [{}] * len(raw_mutations)
    fresh: list[tuple[int, dict]] = []
    first_in_batch: dict[str, int] = {}  # by id text: str hashes are cached, UUID hashes are not
    repeats: list[tuple[int, int]] = []  # (index, index of the first copy in this batch)
    for index, raw in enumerate(raw_mutations):
        known = stored.get(index)
        if known is not None:  # a replay: answered from the stored result, no need to re-check it
            results[index] = _replay(keys[index], known[0], hashes[index], known[1])
            continue
        key = keys[index]
        try:
            mutation = check_mutation(raw, uuid.UUID(key) if key else None, clean=digests[index][1])
        except ValidationError as exc:
            results[index] = _result(_mutation_id(raw), "rejected", code="sync.invalid",
                                     message="The mutation is not valid", details=exc.messages)
            continue
        if key in first_in_batch:
            repeats.append((index, first_in_batch[key]))
        else:
            first_in_batch[key] = index
            mutation["id_text"] = key  # a device's edit order, compared as text (capture.Change.order)
            fresh.append((index, mutation))
    outcomes = apply_mutations(session, actor, [m for _, m in fresh], device_id)
    _hold(session, actor, device_id, fresh, outcomes, raw_mutations)  # may turn a held outcome into a rejection
    for (index, mutation), outcome in zip(fresh, outcomes):
        # The canonical id text the device sent is the id's str(): no UUID formatting per mutation.
        results[index] = _outcome_result(keys[index], outcome)
    for index, first in repeats:
        results[index] = _replay(results[first]["mutation_id"], hashes[first], hashes[index], results[first])
    _record(session, device_id, fresh, outcomes, results, hashes)
    _release_held(session, {m["entity_id"] for (_, m), o in zip(fresh, outcomes)
                            if m["kind"] == "audit.start" and o.status == "applied"})
    return results  # type: ignore[return-value]


def apply_mutations(session: Session, actor: User, mutations: list[dict], device_id: uuid.UUID) -> list[Outcome]:
    """Group checked mutations by kind (concerns first) and apply each group through its service."""
    groups: dict[str, list[int]] = {}
    for i, m in enumerate(mutations):  # one pass, not one per kind
        groups.setdefault(m["kind"], []).append(i)
    outcomes: list = [None] * len(mutations)
    for kind in KINDS:
        if kind in groups:
            group = groups[kind]
            for i, outcome in zip(group, _bisect(session, actor, kind, [mutations[i] for i in group], device_id)):
                outcomes[i] = outcome
    return outcomes


def _bisect(session, actor, kind, mutations, device_id) -> list[Outcome]:
    """Apply a group under one savepoint; on a database error split it until the bad ones stand alone."""
    try:
        with session.begin_nested():
            return _apply_kind(session, actor, kind, mutations, device_id)
    except DBAPIError as exc:
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            # The connection or the transaction failed (the server restarting, a deadlock), not a mutation:
            # the whole push is rolled back and answered 503 server.unavailable, and the device retries it.
            raise
        if len(mutations) == 1:
            return [_refused(kind, mutations[0], exc.orig)]
        middle = len(mutations) // 2
        return (_bisect(session, actor, kind, mutations[:middle], device_id)
                + _bisect(session, actor, kind, mutations[middle:], device_id))


def _refused(kind: str, mutation: dict, error) -> Outcome:
    """The outcome of one mutation the database refused. Never a class name or SQL in the message."""
    if (kind in FIELD_KINDS and getattr(error, "sqlstate", None) == "23505"
            and (error.diag.constraint_name or "").startswith("pk_")):
        # A new record's id that a row of another item or audit already has (the primary key is the check).
        return Outcome(mutation["mutation_id"], "rejected", mutation["entity_id"], code="sync.entity_id_taken",
                       message=capture.ID_TAKEN)
    # The last resort: the checks before the database catch every other known bad input.
    return Outcome(mutation["mutation_id"], "rejected", mutation["entity_id"], code="sync.database_refused",
                   message="The database refused this change, so it was not applied. Check it, or "
                           "contact the AP team if it keeps happening")


def _apply_kind(session, actor, kind, mutations, device_id) -> list[Outcome]:
    if kind in FIELD_KINDS:
        changes = [Change(ref=m["mutation_id"], entity_id=m["entity_id"], audit_id=m["payload"]["audit_id"],
                          key=m["payload"].get("item_key") or m["payload"].get("kind"),
                          base_version=m["base_version"], fields=m["payload"]["fields"], device_id=device_id,
                          order=m.get("id_text"))
                   for m in mutations]
        return FIELD_KINDS[kind](session, actor, changes)
    if kind == "audit.start":
        return audits.start_audits(session, actor, [audits.StartAudit(m["mutation_id"], m["entity_id"], **m["payload"])
                                                    for m in mutations])
    if kind == "audit.submit":
        return audits.submit_audits(session, actor, [(m["mutation_id"], m["entity_id"]) for m in mutations])
    if kind in evidence_kinds.KINDS:
        return evidence_kinds.apply_kind(session, actor, kind, mutations)
    return audits.raise_concerns(session, actor, [audits.NewConcern(m["mutation_id"], m["entity_id"], **m["payload"])
                                                  for m in mutations])


def _device_belongs_to(session: Session, actor: User, device_id: uuid.UUID) -> bool:
    owner = session.scalar(select(Device.user_id).where(Device.id == device_id))
    if owner is None:
        with session.begin_nested():
            session.add(Device(id=device_id, user_id=actor.id))
        return True
    return owner == actor.id


def _stored_results(session, device_id, keys: list[str | None]) -> dict[int, tuple[str, dict]]:
    """Stored (payload hash, result) of the mutations of this device already processed, by position.

    `keys` are the batch's mutation ids as canonical text (None where a mutation has no valid id).
    A replay of 10,000 mutations parses and formats no UUIDs in Python. Applied results are rebuilt
    from plain columns; only the rare others carry their JSON.
    """
    if not any(keys):
        return {}
    # The driver's cursor, and the ids as one uuid[] literal (NULL where there is none, matching
    # nothing), numbered by position: binding 10,000 ids as an array parameter (psycopg checks each
    # element for quoting), sending each id back and building ORM rows cost half of a replay.
    # The keys are canonical UUID text, so they need no quoting inside the literal.
    session.flush()
    cursor = session.connection().connection.driver_connection.cursor()
    cursor.execute(_STORED_SQL, ("{" + ",".join(k or "NULL" for k in keys) + "}", device_id), prepare=False)
    rows = cursor.fetchall()
    cursor.close()
    return {i - 1: (digest, result if result is not None else _applied(keys[i - 1], status, entity_id, version))
            for i, digest, status, entity_id, version, result in rows}


_STORED_SQL = ("SELECT k.i, p.payload_hash, p.status, p.entity_id::text, p.version, p.result"
               " FROM unnest(%s::uuid[]) WITH ORDINALITY AS k(id, i)"
               " JOIN processed_mutations p ON p.device_id = %s AND p.mutation_id = k.id")


def _applied(key: str, status: str, entity_id: str, version: int | None) -> dict:
    """The stored result of a mutation kept without its JSON (an applied one), rebuilt from its columns."""
    result = {"mutation_id": key, "status": status, "entity_id": entity_id}
    if version is not None:
        result["version"] = version
    return result


def _replay(mutation_id, stored_hash: str, digest: str, original: dict) -> dict:
    if stored_hash != digest:
        return _result(mutation_id, "rejected", code="sync.mutation_mismatch",
                       message="This mutation id was already used for a different change")
    return {"mutation_id": mutation_id, "status": "duplicate", "original": original}  # _result's shape, built directly


def _hold(session, actor, device_id, fresh, outcomes, raw_mutations) -> None:
    """Keep the held mutations that may wait (held.admit rejects the others in place) until their audit arrives."""
    waiting = [(index, m, o, m["payload"].get("audit_id") or m["entity_id"])
               for (index, m), o in zip(fresh, outcomes) if o.status == "held"]
    held.admit(session, actor, device_id, [(o, parent) for _, _, o, parent in waiting], held.limits())
    rows = [{"device_id": device_id, "mutation_id": m["mutation_id"], "actor_id": actor.id,
             "parent_audit_id": parent, "mutation": raw_mutations[index]}
            for index, m, o, parent in waiting if o.status == "held"]
    if rows:
        session.execute(insert(HeldMutation), rows)


def _record(session, device_id, fresh, outcomes, results, hashes) -> None:
    rows = []
    for (index, m), outcome in zip(fresh, outcomes):
        result = results[index]
        plain = _plain(result)
        # A plain applied result is kept as columns, and its entity is the one the server kept (for
        # an answer, the first id proposed for its item), which a replay must give back unchanged.
        rows.append({"device_id": device_id, "mutation_id": m["mutation_id"], "kind": m["kind"],
                     "entity_id": outcome.entity_id if plain else m["entity_id"], "payload_hash": hashes[index],
                     "status": result["status"], "version": result.get("version"),
                     "result": None if plain else result})
    insert_rows(session, ProcessedMutation, rows)


_PLAIN_KEYS = frozenset(("mutation_id", "status", "entity_id", "version"))


def _plain(result: dict) -> bool:
    """True for an applied result that _applied() rebuilds exactly from the row's columns."""
    return result["status"] == "applied" and "entity_id" in result and result.keys() <= _PLAIN_KEYS


def _release_held(session: Session, started: set[uuid.UUID]) -> None:
    """Apply mutations that were waiting for audits that now exist, as the users who sent them; each
    final result is stored and reported to its sender's pull (held.settle)."""
    if not started:
        return
    held_rows = session.scalars(select(HeldMutation).where(HeldMutation.parent_audit_id.in_(started))
                                .order_by(HeldMutation.held_at).with_for_update()).all()
    settled = []
    for device_id in {h.device_id for h in held_rows}:
        batch = [h for h in held_rows if h.device_id == device_id]
        actor = session.get(User, batch[0].actor_id)
        mutations = [load_mutation(h.mutation) for h in batch]
        for h, outcome in zip(batch, apply_mutations(session, actor, mutations, device_id)):
            if outcome.status == "held":
                continue  # still waiting (its audit is not the one that arrived): kept as it is
            result = _outcome_result(h.mutation_id, outcome)
            settled.append((h, result, outcome.entity_id if _plain(result) else None))
    held.settle(session, settled)


def _outcome_result(mutation_id, outcome: Outcome) -> dict:
    if outcome.status == "applied" and outcome.code is None and not outcome.conflicts and outcome.details is None:
        # Nearly every result of a big push: _result's shape, built directly.
        result = {"mutation_id": str(mutation_id), "status": "applied"}
        if outcome.entity_id:
            result["entity_id"] = str(outcome.entity_id)
        if outcome.version is not None:
            result["version"] = outcome.version
        if outcome.message is not None:
            result["message"] = outcome.message
        return result
    return _result(mutation_id, outcome.status, entity_id=str(outcome.entity_id) if outcome.entity_id else None,
                   version=outcome.version, conflicts=outcome.conflicts or None, code=outcome.code,
                   message=outcome.message, details=outcome.details)


def _result(mutation_id, status, **extra) -> dict:
    result = {"mutation_id": str(mutation_id) if mutation_id else None, "status": status}
    result.update({k: v for k, v in extra.items() if v is not None})
    return result


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _canonical_id(raw) -> str | None:
    """The mutation id as canonical lower-case text, or None when it is not a UUID at all."""
    value = raw.get("mutation_id") if isinstance(raw, dict) else None
    if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(uuid.UUID(value))
    except (TypeError, ValueError, AttributeError):
        return None


def _mutation_id(raw) -> str | None:
    return raw.get("mutation_id") if isinstance(raw, dict) else None


def now_iso() -> str:
    return clock.now().isoformat(timespec="seconds")
