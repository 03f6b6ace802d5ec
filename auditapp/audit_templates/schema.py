"""Marshmallow schemas for the template YAML files (see shared/domain/audit-templates.md §0)."""
from __future__ import annotations

import re

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..models.enums import AUDIT_TYPES

ITEM_KEY = re.compile(r"^(HDR|SG|HS|QE)-\d+(\.\d+)?$")
SECTION_KEY = re.compile(r"^(HDR|SG|HS|QE)(-\d+)?$")
PROMPT_KEY = re.compile(r"^(LC|SC)-\d+$")
EVIDENCE_KINDS = ("document", "observation", "conversation", "photo")
ANSWER_TYPES = ("rating", "text", "number", "yes_no", "date", "choice", "counts", "action_review")


def _key(pattern: re.Pattern, what: str) -> validate.Regexp:
    return validate.Regexp(pattern, error=f"Not a valid {what} key (like {'SG-3.2' if what == 'item' else 'SG-3'})")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ChoiceSchema(_Strict):
    value = fields.Str(required=True, validate=validate.Regexp(r"^[a-z_]+$"))
    label = fields.Str(required=True, validate=validate.Length(min=1))


class PolicySchema(_Strict):
    document = fields.Str(required=True, validate=validate.Length(min=1))
    named_person = fields.Str(validate=validate.Length(min=1))


class ItemSchema(_Strict):
    key = fields.Str(required=True, validate=_key(ITEM_KEY, "item"))
    question = fields.Str(required=True, validate=validate.Length(min=1))
    guidance = fields.Str(load_default="")
    evidence = fields.List(fields.Str(validate=validate.OneOf(EVIDENCE_KINDS)), required=True,
                           validate=validate.Length(min=1))
    critical = fields.Bool(required=True, truthy={True}, falsy={False})
    source = fields.List(fields.Str(validate=validate.Length(min=1)), required=True, validate=validate.Length(min=1))
    answer = fields.Str(load_default="rating", validate=validate.OneOf(ANSWER_TYPES))
    choices = fields.List(fields.Nested(ChoiceSchema))
    fields_ = fields.List(fields.Str(validate=validate.Regexp(r"^[a-z0-9_]+$")), data_key="fields", attribute="fields")
    na_allowed_when = fields.Str(validate=validate.Length(min=1))
    policy = fields.Nested(PolicySchema)
    # The author's word that a changed question still checks the same thing (§0.2 of the templates doc).
    rewording = fields.Bool(truthy={True}, falsy={False})

    @validates_schema
    def _typed_answers(self, data, **_kw):
        if data.get("answer") == "choice" and not data.get("choices"):
            raise ValidationError("A choice field needs its choices", "choices")
        if data.get("answer") == "counts" and not data.get("fields"):
            raise ValidationError("A counts field needs its count names", "fields")
        if data.get("critical") and data.get("answer") not in ("rating", "choice"):
            raise ValidationError("Only rated or choice items can be critical", "critical")


class SectionSchema(_Strict):
    key = fields.Str(required=True, validate=_key(SECTION_KEY, "section"))
    title = fields.Str(required=True, validate=validate.Length(min=1))
    items = fields.List(fields.Nested(ItemSchema), required=True, validate=validate.Length(min=1))


class JudgementAreaSchema(_Strict):
    key = fields.Str(required=True, validate=validate.Regexp(r"^QA-\d+$"))
    title = fields.Str(required=True)
    sections = fields.List(fields.Str(validate=_key(SECTION_KEY, "section")), required=True)


class GradeSchema(_Strict):
    value = fields.Str(required=True, validate=validate.OneOf(("strong", "secure", "developing", "weak")))
    label = fields.Str(required=True)
    descriptor = fields.Str(required=True)


class TemplateFileSchema(_Strict):
    template = fields.Str(required=True, validate=validate.OneOf(AUDIT_TYPES))
    title = fields.Str(required=True, validate=validate.Length(min=1))
    version = fields.Int(required=True, strict=True, validate=validate.Range(min=1))
    includes_header = fields.Bool(load_default=True)
    prompt_sets = fields.List(fields.Str(validate=validate.OneOf(("learner", "staff"))), load_default=list)
    sections = fields.List(fields.Nested(SectionSchema), required=True, validate=validate.Length(min=1))
    judgement_areas = fields.List(fields.Nested(JudgementAreaSchema))
    grades = fields.List(fields.Nested(GradeSchema))


class HeaderFileSchema(_Strict):
    part = fields.Str(required=True, validate=validate.Equal("header"))
    title = fields.Str(required=True)
    sections = fields.List(fields.Nested(SectionSchema), required=True, validate=validate.Length(min=1))


class PromptSchema(_Strict):
    key = fields.Str(required=True, validate=validate.Regexp(PROMPT_KEY, error="Not a valid prompt key (like LC-3)"))
    prompt = fields.Str(required=True, validate=validate.Length(min=1))
    listen_for = fields.Str(required=True)
    feeds = fields.List(fields.Str(), required=True)
    audits = fields.List(fields.Str(validate=validate.OneOf(AUDIT_TYPES)), required=True,
                         validate=validate.Length(min=1))


class PromptSetSchema(_Strict):
    key = fields.Str(required=True, validate=validate.OneOf(("learner", "staff")))
    title = fields.Str(required=True)
    reference_prefix = fields.Str(required=True, validate=validate.OneOf(("L", "S")))
    subject_field = fields.Str(required=True)
    rules = fields.List(fields.Str(), required=True)
    prompts = fields.List(fields.Nested(PromptSchema), required=True, validate=validate.Length(min=1))


class PromptsFileSchema(_Strict):
    prompt_sets = fields.List(fields.Nested(PromptSetSchema), required=True)
    disclosure_route = fields.List(fields.Str(), required=True)
