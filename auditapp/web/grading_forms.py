"""The wire side of grading: marshmallow schemas for the grading and moderation forms and the queue
filters, and their translation into the plain changes `services.grading` takes.

The forms have one group of fields per judgement area of the audit's pinned template version
(`grade-QA-1`, `rationale-QA-1`, `version-QA-1`, …), so their schemas are built per sheet.
"""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from ..models.enums import AUDIT_TYPES
from ..services.grading import RATIONALE_MAX, AreaGrade, Moderation, Sheet

_TEXT = validate.Length(max=RATIONALE_MAX, error=f"Enter {RATIONALE_MAX} characters or fewer")
_VERSION = {"load_default": 0, "strict": False, "validate": validate.Range(min=0),
            "error_messages": {"invalid": "Reload the page and try again"}}


def _schema(prefixes: tuple[str, str], keys: list[str]) -> Schema:
    choice, text = prefixes
    declared = {}
    for key in keys:
        declared[f"{choice}-{key}"] = fields.Str(load_default="")
        declared[f"{text}-{key}"] = fields.Str(load_default="", validate=_TEXT)
        declared[f"version-{key}"] = fields.Int(**_VERSION)
    return Schema.from_dict(declared, name="GradingForm")(unknown=EXCLUDE)


def grade_changes(sheet: Sheet, form) -> list[AreaGrade]:
    """The grades a submitted grading form sets (areas left blank are left alone).

    :raises ValidationError: malformed fields, or nothing chosen at all
    """
    keys = [a["key"] for a in sheet.areas]
    data = _schema(("grade", "rationale"), keys).load(form)
    changes = [AreaGrade(sheet.audit.id, key, data[f"grade-{key}"], data[f"rationale-{key}"], data[f"version-{key}"])
               for key in keys if data[f"grade-{key}"] or data[f"rationale-{key}"].strip()]
    if not changes:
        raise ValidationError({f"grade-{keys[0]}": ["Choose a grade for at least one judgement area"]})
    return changes


def moderation_decisions(sheet: Sheet, keys: list[str], form) -> list[Moderation]:
    """The moderation decisions a submitted form makes: "agreed", or a grade value meaning "change to".

    :raises ValidationError: malformed fields, or no decision at all
    """
    data = _schema(("moderation", "reason"), keys).load(form)
    decisions = []
    for key in keys:
        choice, reason = data[f"moderation-{key}"], data[f"reason-{key}"]
        if not choice and not reason.strip():
            continue
        decision = choice if choice in ("", "agreed") else "changed"
        decisions.append(Moderation(sheet.audit.id, key, decision, None if decision != "changed" else choice,
                                    reason, data[f"version-{key}"]))
    if not decisions and keys:
        raise ValidationError({f"moderation-{keys[0]}": ["Agree with or change at least one grade"]})
    return decisions


class QueueFiltersSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    council = fields.Str(load_default="", validate=validate.Regexp(r"^\d{0,9}$", error="Choose a valid council"))
    show = fields.Str(load_default="all", validate=validate.OneOf(("all", "mine"), error="Choose which visits to show"))
    audit_type = fields.Str(load_default="", validate=validate.OneOf(("",) + AUDIT_TYPES,
                                                                    error="Choose a valid type of audit"))
