"""Fast structural checks of one mutation: the hot path of a 10,000-mutation push.

Equivalent to sync/schemas.py's marshmallow schemas (tests/test_sync_validate.py holds them to
the same verdicts), written by hand because marshmallow cost ~0.1 ms per mutation, a third of the
whole ingest budget (see the note in README's design section).
"""
from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache

from marshmallow import ValidationError

from auditapp.models.enums import AUDIT_TYPES, CONVERSATION_KINDS
from auditapp.services.capture_rules import bad_characters

MAX_INT = 2**31 - 1  # PostgreSQL integer: visit ids, template version ids, row versions
MAX_BIGINT = 2**63 - 1

KINDS = ("concern.raise", "audit.start", "answer.set", "policy_check.set", "conversation.set", "action.set",
         "evidence.register", "evidence.withdraw", "audit.submit")
ENVELOPE = ("mutation_id", "kind", "entity_id", "base_version", "payload")
FIELDS_KINDS = {"answer.set", "policy_check.set", "action.set"}
_ENVELOPE_KEYS = frozenset(ENVELOPE)


def _uuid(value) -> uuid.UUID | None:
    if isinstance(value, str) and len(value) in (32, 36):
        try:
            return uuid.UUID(value)
        except ValueError:
            return None
    return None


def check_mutation(raw, mutation_id: uuid.UUID | None = None, clean: bool = False) -> dict:
    """Return the mutation with typed ids, or raise ValidationError with field messages.

    `mutation_id` may be passed when the caller has already parsed it. `clean=True` skips the scan
    of every text and number in the payload (NUL, lone surrogates, non-finite numbers): the push
    passes it when the mutation's canonical JSON, already made for its hash, shows none can be there.
    """
    if not isinstance(raw, dict):
        raise ValidationError({"_schema": ["A mutation must be an object"]})
    errors: dict = {} if len(raw) <= 5 and raw.keys() <= _ENVELOPE_KEYS else {
        k: ["Unknown field."] for k in raw if k not in ENVELOPE}
    mutation_id = mutation_id or _uuid(raw.get("mutation_id"))
    entity_id = _uuid(raw.get("entity_id"))
    for name, value in (("mutation_id", mutation_id), ("entity_id", entity_id)):
        if value is None:
            errors[name] = ["Missing data for required field."] if name not in raw else ["Not a valid UUID."]
    kind = raw.get("kind")
    if kind not in KINDS:
        errors["kind"] = ["Missing data for required field."] if "kind" not in raw else \
            ["Must be one of: " + ", ".join(KINDS) + "."]
    base = raw.get("base_version", 0)
    if type(base) is not int or not 0 <= base <= MAX_INT:
        errors["base_version"] = [f"Must be a whole number from 0 to {MAX_INT}."]
    payload = raw.get("payload")
    if not isinstance(payload, dict):
        errors["payload"] = ["Missing data for required field."] if "payload" not in raw else ["Not a valid mapping type."]
    if errors:
        raise ValidationError(errors)
    payload_errors = _check_payload(kind, payload) or (None if clean else scan_payload(payload))
    if payload_errors:
        raise ValidationError({"payload": payload_errors})
    return {"mutation_id": mutation_id, "kind": kind, "entity_id": entity_id, "base_version": base,
            "payload": _typed_payload(kind, payload)}


def _check_payload(kind: str, payload: dict) -> dict:
    spec = PAYLOAD_RULES[kind]
    errors = {} if payload.keys() <= spec.keys() else {k: ["Unknown field."] for k in payload if k not in spec}
    for name, (required, check) in spec.items():
        if name not in payload:
            if required:
                errors[name] = ["Missing data for required field."]
            continue
        problem = check(payload[name])
        if problem:
            errors[name] = [problem]
    return errors


@lru_cache(maxsize=1024)
def _audit_uuid(value: str) -> uuid.UUID | None:
    """A payload's audit id, parsed once: a push repeats a few audit ids thousands of times, and UUID
    objects are immutable, so sharing one is safe."""
    return _uuid(value)


def _is_uuid(value):
    return None if isinstance(value, str) and _audit_uuid(value) else "Not a valid UUID."


def _is_text(limit, allow_none=False):
    def check(value):
        if value is None and allow_none:
            return None
        if not isinstance(value, str):
            return "Not a valid string."
        return f"Longer than maximum length {limit}." if len(value) > limit else None
    return check


def _is_key(value):
    return None if isinstance(value, str) and 1 <= len(value) <= 20 else "Length must be between 1 and 20."


def _is_id(value):
    if type(value) is not int:
        return "Not a valid integer."
    return None if 1 <= value <= MAX_INT else f"Must be between 1 and {MAX_INT}."


def _is_dict(value):
    return None if isinstance(value, dict) else "Not a valid mapping type."


def _is_bool(value):
    return None if isinstance(value, bool) else "Not a valid boolean."


def _one_of(values):
    return lambda value: None if value in values else "Must be one of: " + ", ".join(values) + "."


def _is_aware_datetime(value):
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        return "Not a valid datetime."
    return None if moment.tzinfo is not None else "Not a valid aware datetime."


def _text_of(low, high):
    def check(value):
        if not isinstance(value, str):
            return "Not a valid string."
        return None if low <= len(value) <= high else f"Length must be between {low} and {high}."
    return check


def _is_count(value):
    if type(value) is not int:
        return "Not a valid integer."
    return None if 1 <= value <= MAX_BIGINT else f"Must be between 1 and {MAX_BIGINT}."


def _is_sha256_hex(value):
    if not isinstance(value, str):
        return "Not a valid string."
    return None if len(value) == 64 and all(c in "0123456789abcdef" for c in value) else "String does not match expected pattern."


PAYLOAD_RULES = {
    **{kind: {"audit_id": (True, _is_uuid), "item_key": (True, _is_key), "fields": (True, _is_dict)}
       for kind in FIELDS_KINDS},
    "conversation.set": {"audit_id": (True, _is_uuid), "kind": (True, _one_of(CONVERSATION_KINDS)),
                         "fields": (True, _is_dict)},
    "audit.start": {"visit_id": (True, _is_id), "audit_type": (True, _one_of(AUDIT_TYPES)),
                    "template_version_id": (True, _is_id)},
    "audit.submit": {},
    "concern.raise": {"visit_id": (True, _is_id), "occurred_at": (True, _is_aware_datetime),
                      "referred_to_role": (True, lambda v: _is_text(100)(v) or (None if v else "Shorter than minimum length 1.")),
                      "reference_number": (False, _is_text(100, allow_none=True)),
                      "about_provider_or_staff": (True, _is_bool),
                      "summary": (False, _is_text(2000, allow_none=True))},
    "evidence.register": {"audit_id": (True, _is_uuid), "item_key": (True, _is_key),
                          "media_type": (True, _text_of(1, 100)), "size_bytes": (True, _is_count),
                          "sha256": (True, _is_sha256_hex), "filename": (False, _is_text(255, allow_none=True))},
    "evidence.withdraw": {"audit_id": (True, _is_uuid), "reason": (True, _text_of(1, 2000))},
}


def scan_payload(payload: dict) -> dict:
    """Field messages for every text with a character no record may hold (NUL, a lone UTF-16
    surrogate) and every number that is not finite, anywhere in the payload: keys, values, nested.

    Problems inside `fields` are reported per field (`{"fields": {"note": [...]}}`), the rest per
    payload field. Iterative, so no nesting can exhaust the stack (the body's depth is bounded too).
    """
    errors: dict = {}
    for name, value in payload.items():
        if name == "fields" and isinstance(value, dict):
            bad_keys = [k for k in value if bad_characters(k)]
            if bad_keys:
                errors["fields"] = ["A field name holds a character that is not allowed (NUL or a broken emoji)."]
                continue
            inner = {k: [problem] for k, v in value.items() if (problem := _scan(v))}
            if inner:
                errors["fields"] = inner
        elif problem := (bad_characters(name) or _scan(value)):
            errors[name] = [problem]
    return errors


def _scan(value) -> str | None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if problem := bad_characters(item):
                return problem
        elif isinstance(item, float):
            if item != item or item in (_INF, -_INF):
                return "Must be a finite number (not Infinity, NaN or too large)."
        elif isinstance(item, dict):
            for key, inner in item.items():
                if isinstance(key, str) and (problem := bad_characters(key)):
                    return problem
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
    return None


_INF = float("inf")


def _typed_payload(kind: str, payload: dict) -> dict:
    typed = dict(payload)
    if "audit_id" in typed:
        typed["audit_id"] = _audit_uuid(typed["audit_id"])
    if kind == "concern.raise":
        typed["occurred_at"] = datetime.fromisoformat(typed["occurred_at"])
        typed.setdefault("reference_number", None)
        typed.setdefault("summary", None)
    elif kind == "evidence.register":
        typed.setdefault("filename", None)
    return typed
