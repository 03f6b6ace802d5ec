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
    {"mutation_id": U, "kind": "evidence.register", "entity_id": U,
     "payload": {"audit_id": U, "item_key": "SG-1.1", "media_type": "image/jpeg", "size_bytes": 757000,
                 "sha256": "ab" * 32, "filename": "fire exit.jpg"}},
    {"mutation_id": U, "kind": "evidence.withdraw", "entity_id": U, "payload": {"audit_id": U, "reason": "Wrong photo"}},
]
REGISTER = GOOD[5]["payload"]
GOOD += [
    {**GOOD[5], "payload": {k: v for k, v in REGISTER.items() if k != "filename"}},
    {**GOOD[5], "payload": {**REGISTER, "filename": None}},
    {**GOOD[5], "payload": {**REGISTER, "filename": "../../etc/passwd\n.jpg", "media_type": "application/x-msdownload"}},
    {**GOOD[0], "payload": {**GOOD[0]["payload"], "fields": {"note": "Seen 🙂 – “May”", "value": [1.5, {"a": None}]}}},
    {**GOOD[2], "base_version": 2**31 - 1, "payload": {**GOOD[2]["payload"], "visit_id": 2**31 - 1}},
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
    {**GOOD[5], "payload": {**REGISTER, "size_bytes": 0}},
    {**GOOD[5], "payload": {**REGISTER, "size_bytes": "757000"}},
    {**GOOD[5], "payload": {**REGISTER, "size_bytes": True}},
    {**GOOD[5], "payload": {**REGISTER, "size_bytes": 1.5}},
    {**GOOD[5], "payload": {**REGISTER, "sha256": "AB" * 32}},
    {**GOOD[5], "payload": {**REGISTER, "sha256": "ab" * 31}},
    {**GOOD[5], "payload": {**REGISTER, "sha256": "ab" * 32 + "\n"}},
    {**GOOD[5], "payload": {**REGISTER, "sha256": 7}},
    {**GOOD[5], "payload": {**REGISTER, "media_type": ""}},
    {**GOOD[5], "payload": {**REGISTER, "media_type": "x" * 101}},
    {**GOOD[5], "payload": {**REGISTER, "filename": "x" * 256}},
    {**GOOD[5], "payload": {**REGISTER, "filename": 3}},
    {**GOOD[5], "payload": {**REGISTER, "item_key": "x" * 21}},
    {**GOOD[5], "payload": {**REGISTER, "storage_key": "evidence/mine"}},
    {**GOOD[5], "payload": {k: v for k, v in REGISTER.items() if k != "sha256"}},
    {**GOOD[6], "payload": {"audit_id": U}},
    {**GOOD[6], "payload": {"audit_id": U, "reason": ""}},
    {**GOOD[6], "payload": {"audit_id": U, "reason": "x" * 2001}},
    {**GOOD[6], "payload": {"audit_id": "nope", "reason": "Wrong photo"}},
    # text no record can hold, numbers that are not finite, ids out of the database's range (issue 14)
    {**GOOD[5], "payload": {**REGISTER, "filename": "../../etc/passwd\x00\n.jpg"}},
    {**GOOD[6], "payload": {"audit_id": U, "reason": "Cut \ud83d"}},
    {**GOOD[4], "payload": {**GOOD[4]["payload"], "summary": "a\x00b"}},
    {**GOOD[0], "payload": {**GOOD[0]["payload"], "fields": {"note": "cut \udc00 here"}}},
    {**GOOD[0], "payload": {**GOOD[0]["payload"], "fields": {"value": {"on_roll": float("inf")}}}},
    {**GOOD[0], "payload": {**GOOD[0]["payload"], "fields": {"value": [float("nan")]}}},
    {**GOOD[0], "payload": {**GOOD[0]["payload"], "fields": {"no\x00te": "x"}}},
    {**GOOD[1], "payload": {**GOOD[1]["payload"], "fields": {"notes": ["deep", {"x": "\ud800"}]}}},
    {**GOOD[2], "payload": {**GOOD[2]["payload"], "visit_id": 2**31}},
    {**GOOD[2], "payload": {**GOOD[2]["payload"], "template_version_id": 2**70}},
    {**GOOD[2], "payload": {**GOOD[2]["payload"], "visit_id": 0}},
    {**GOOD[4], "payload": {**GOOD[4]["payload"], "visit_id": -3}},
    {**GOOD[5], "payload": {**REGISTER, "size_bytes": 2**63}},
    {**GOOD[0], "base_version": 2**31},
    {**GOOD[0], "base_version": 2**70},
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


def test_payload_hash_of_a_known_mutation_is_pinned():
    # Devices replay against hashes stored by earlier releases: a faster canonical form must give
    # these exact bytes. The literal was computed once from json.dumps of the tuple
    # (kind, entity_id, base_version, payload), sort_keys, "," and ":" separators, ASCII escapes.
    from sync.apply import payload_hash
    raw = {"mutation_id": "0192d5a0-1c2b-7def-8a01-000000000002", "kind": "answer.set",
           "entity_id": "0192d5a0-1c2b-7def-8a01-000000000001", "base_version": 0,
           "payload": {"audit_id": "0192d5a0-1c2b-7def-8a01-23456789abcd", "item_key": "SG-1.1",
                       "fields": {"rating": "met", "note": "Seen – dated “May”, tab\there"}}}
    assert payload_hash(raw) == "cd2ee82c68a903ce711f6311486042a15a407011e8dec2fffc928d14f680134d"
    # The mutation id is not part of what is hashed; everything else is.
    assert payload_hash({**raw, "mutation_id": "other"}) == payload_hash(raw)
    assert payload_hash({**raw, "base_version": 1}) != payload_hash(raw)
