"""Marshmallow schemas for the review forms; services get plain values."""
from __future__ import annotations

from marshmallow import fields, validate

from ..models.enums import AUDIT_TYPES, RATINGS
from .forms import _Form

COMMENT_PREFIX = "comment-"
_VERSION = {"required": "This form is missing the audit version: reload the page",
            "invalid": "This form is missing the audit version: reload the page"}


class VersionSchema(_Form):
    # The audit version the form was drawn from, so a form older than someone else's action is refused.
    version = fields.Int(required=True, strict=False, validate=validate.Range(min=1), error_messages=_VERSION)


class CommentsSchema(VersionSchema):
    overall = fields.Str(load_default="")


class ConflictSchema(VersionSchema):
    choice = fields.Str(load_default="")
    note = fields.Str(load_default="")


class CorrectionSchema(VersionSchema):
    reason = fields.Str(load_default="")


class CorrectionItemSchema(_Form):
    item_key = fields.Str(load_default="")
    rating = fields.Str(load_default="", validate=validate.OneOf(("",) + RATINGS, error="Choose a rating"))
    note = fields.Str(load_default="")
    na_reason = fields.Str(load_default="")


class QueueFiltersSchema(_Form):
    audit_type = fields.Str(load_default="", validate=validate.OneOf(("",) + AUDIT_TYPES,
                                                                     error="Choose a valid type of audit"))


def item_comments(form) -> dict[str, str]:
    """The per-item comment boxes (`comment-<item key>`) that were filled in."""
    return {name[len(COMMENT_PREFIX):]: value for name, value in form.items()
            if name.startswith(COMMENT_PREFIX) and value.strip()}
