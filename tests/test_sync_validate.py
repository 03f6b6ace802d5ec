"""The fast mutation check on the push hot path agrees with the marshmallow reference schemas."""
import hashlib
import json
import uuid

import pytest
from marshmallow import ValidationError

from sync.schemas import load_mutation_with_marshmallow
from sync.validate import check_mutation

U = str(uuid.uuid4())
GOOD = [
    {"mutation_id": U, "kind": "answer.set", "entity_id": U, "base_version": 2,
     "payload": {"audit_id": U, "item_key": "SG-1.1", "fields": {"rating": "met"}}},
    {"mutation_id": U, "kind": "conversation.set", "entity_id": U, "payload": {"audit_id": U, "kind": "staff", "fields": {}}},
    {"mutation_id": U, "kind": "audit.start", "entity_id": U,
     "payload": {"visit_id": 3, "audit_type": "health_safety", "template_version_id": 1}},
    {"mutation_id": U, "kind": "audit.submit", "entity_id": U, "payload": {}},
    {"mutation_id": U, "kind": "concern.raise", "entity_id": U,
     "payload": {"visit_id": 1, "occurred_at": "2026-11-28T10:00:00+00:00", "referred_to_role": "DSL",
                 "about_provider_or_staff": False}},
]
BAD = [
    "a string", [], {},
    {**GOOD[0], "mutation_id": "nope"},
    {**GOOD[0], "entity_id": 7},
    {**GOOD[0], "kind": "answer.delete"},
    {**GOOD[0], "base_version": -1},
    {**GOOD[0], "base_version": "1"},
    {**GOOD[0], "payload": []},
    {**GOOD[0], "extra": True},
    {**GOOD[0], "payload": {"audit_id": U, "item_key": "", "fields": {}}},
    {**GOOD[0], "payload": {"audit_id": U, "item_key": "SG-1.1"}},
    {**GOOD[0], "payload": {"audit_id": "x", "item_key": "SG-1.1", "fields": {}}},
    {**GOOD[0], "payload": {"audit_id": U, "item_key": "SG-1.1", "fields": {}, "more": 1}},
    {**GOOD[1], "payload": {"audit_id": U, "kind": "visitor", "fields": {}}},
    {**GOOD[2], "payload": {"visit_id": "3", "audit_type": "health_safety", "template_version_id": 1}},
    {**GOOD[2], "payload": {"visit_id": 3, "audit_type": "fire", "template_version_id": 1}},
    {**GOOD[3], "payload": {"anything": 1}},
    {**GOOD[4], "payload": {**GOOD[4]["payload"], "occurred_at": "2026-11-28T10:00:00"}},
    {**GOOD[4], "payload": {**GOOD[4]["payload"], "occurred_at": "yesterday"}},
    {**GOOD[4], "payload": {**GOOD[4]["payload"], "referred_to_role": ""}},
    {**GOOD[4], "payload": {**GOOD[4]["payload"], "about_provider_or_staff": "yes"}},
    {**GOOD[4], "payload": {**GOOD[4]["payload"], "summary": "x" * 2001}},
]


def _verdict(check, raw):
    try:
        return "ok", check(raw)
    except ValidationError as exc:
        return "invalid", exc.messages


@pytest.mark.parametrize("raw", GOOD)
def test_valid_mutations_are_accepted_by_both_and_typed_alike(raw):
    fast, reference = _verdict(check_mutation, raw), _verdict(load_mutation_with_marshmallow, raw)
    assert fast[0] == reference[0] == "ok"
    for key in ("mutation_id", "kind", "entity_id", "base_version"):
        assert fast[1][key] == reference[1][key]
    assert fast[1]["payload"] == reference[1]["payload"]


@pytest.mark.parametrize("raw", BAD)
def test_invalid_mutations_are_refused_by_both_on_the_same_fields(raw):
    fast, reference = _verdict(check_mutation, raw), _verdict(load_mutation_with_marshmallow, raw)
    assert fast[0] == reference[0] == "invalid"
    assert set(fast[1]) == set(reference[1])
    if "payload" in reference[1] and isinstance(reference[1]["payload"], dict):
        assert set(fast[1]["payload"]) == set(reference[1]["payload"])


@pytest.mark.parametrize("payload", [
    {"audit_id": "a", "item_key": "SG-1.1", "fields": {"rating": "met", "note": "Seen – dated “May”"}},
    {"fields": {"value": [1, 2.5, None, True, {"b": 1, "a": "é"}]}, "audit_id": "z"},
    {},
])
def test_payload_hash_is_the_sha256_of_the_canonical_json(payload):
    from sync.apply import payload_hash
    raw = {"mutation_id": "ignored", "kind": "answer.set", "entity_id": "e", "base_version": 2, "payload": payload}
    canonical = json.dumps(("answer.set", "e", 2, payload), sort_keys=True, separators=(",", ":"))
    # Stored hashes must stay comparable across releases: the fast encoder must give json.dumps' bytes.
    assert payload_hash(raw) == hashlib.sha256(canonical.encode()).hexdigest()
    assert payload_hash({**raw, "payload": {**payload, "extra": 1}}) != payload_hash(raw)
