"""The push envelope and per-kind payloads, checked before anything reaches a service."""
from __future__ import annotations

import math

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from auditapp.models.enums import AUDIT_TYPES, CONVERSATION_KINDS

MAX_BATCH = 2000
MAX_INT = 2**31 - 1
KINDS = ("concern.raise", "audit.start", "answer.set", "policy_check.set", "conversation.set", "action.set",
         "evidence.register", "evidence.withdraw", "audit.submit")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class PushSchema(_Strict):
    device_id = fields.UUID(required=True)
    mutations = fields.List(fields.Raw(allow_none=True), required=True)  # each one is checked on its own


class MutationSchema(_Strict):
    mutation_id = fields.UUID(required=True)
    kind = fields.Str(required=True, validate=validate.OneOf(KINDS))
    entity_id = fields.UUID(required=True)
    base_version = fields.Int(load_default=0, strict=True, validate=validate.Range(min=0, max=MAX_INT))
    payload = fields.Dict(required=True)


def _storable(value) -> bool:
    """The reference for sync.validate.scan_payload: no NUL, no lone surrogate, no non-finite number."""
    if isinstance(value, str):
        return "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


class _Payload(_Strict):
    @validates_schema(pass_original=True)
    def _texts_and_numbers(self, data, original, **_kw):
        bad = {name: ["Holds a character or number that cannot be stored."]
               for name, value in original.items() if not (_storable(name) and _storable(value))}
        if bad:
            raise ValidationError(bad)


class FieldsPayload(_Payload):
    audit_id = fields.UUID(required=True)
    item_key = fields.Str(required=True, validate=validate.Length(min=1, max=20))
    fields = fields.Dict(required=True)


class ConversationPayload(_Payload):
    audit_id = fields.UUID(required=True)
    kind = fields.Str(required=True, validate=validate.OneOf(CONVERSATION_KINDS))
    fields = fields.Dict(required=True)


class StartPayload(_Payload):
    visit_id = fields.Int(required=True, strict=True, validate=validate.Range(min=1, max=MAX_INT))
    audit_type = fields.Str(required=True, validate=validate.OneOf(AUDIT_TYPES))
    template_version_id = fields.Int(required=True, strict=True, validate=validate.Range(min=1, max=MAX_INT))


class SubmitPayload(_Payload):
    pass


class ConcernPayload(_Payload):
    visit_id = fields.Int(required=True, strict=True, validate=validate.Range(min=1, max=MAX_INT))
    occurred_at = fields.AwareDateTime(required=True, default_timezone=None)
    referred_to_role = fields.Str(required=True, validate=validate.Length(min=1, max=100))
    reference_number = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=100))
    about_provider_or_staff = fields.Bool(required=True, truthy={True}, falsy={False})
    summary = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class EvidenceRegisterPayload(_Payload):
    audit_id = fields.UUID(required=True)
    item_key = fields.Str(required=True, validate=validate.Length(min=1, max=20))
    media_type = fields.Str(required=True, validate=validate.Length(min=1, max=100))
    size_bytes = fields.Int(required=True, strict=True, validate=validate.Range(min=1, max=2**63 - 1))
    sha256 = fields.Str(required=True, validate=validate.Regexp(r"[0-9a-f]{64}\Z"))
    filename = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=255))


class EvidenceWithdrawPayload(_Payload):
    audit_id = fields.UUID(required=True)
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=2000))


PAYLOADS = {
    "answer.set": FieldsPayload(), "policy_check.set": FieldsPayload(), "action.set": FieldsPayload(),
    "conversation.set": ConversationPayload(), "audit.start": StartPayload(), "audit.submit": SubmitPayload(),
    "concern.raise": ConcernPayload(), "evidence.register": EvidenceRegisterPayload(),
    "evidence.withdraw": EvidenceWithdrawPayload(),
}
_MUTATION = MutationSchema()


def load_mutation_with_marshmallow(raw: object) -> dict:
    """The reference check of one mutation (slow); `sync.validate.check_mutation` must agree with it."""
    if not isinstance(raw, dict):
        raise ValidationError({"_schema": ["A mutation must be an object"]})
    mutation = _MUTATION.load(raw)
    try:
        mutation["payload"] = PAYLOADS[mutation["kind"]].load(mutation["payload"])
    except ValidationError as exc:
        raise ValidationError({"payload": exc.messages}) from None
    return mutation


def load_mutation(raw: object, mutation_id=None) -> dict:
    """Check one mutation and its payload. :raises ValidationError: with field messages."""
    from .validate import check_mutation
    return check_mutation(raw, mutation_id)
