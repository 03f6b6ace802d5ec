"""Marshmallow schemas for form and query input at the edge; services get plain data."""
from __future__ import annotations

from urllib.parse import urlparse

from marshmallow import EXCLUDE, Schema, fields, validate

from ..models.enums import ROLES

REQUIRED = {"required": "Enter a value", "null": "Enter a value"}


class _Form(Schema):
    class Meta:
        unknown = EXCLUDE  # csrf_token and the submit button ride along


class LoginSchema(_Form):
    email = fields.Str(required=True, validate=validate.Length(min=3, max=254, error="Enter your email address"),
                       error_messages={"required": "Enter your email address"})
    password = fields.Str(required=True, validate=validate.Length(min=1, max=1000, error="Enter your password"),
                          error_messages={"required": "Enter your password"})


class NewUserSchema(_Form):
    email = fields.Str(required=True, validate=validate.Length(min=3, max=254, error="Enter an email address"),
                       error_messages={"required": "Enter an email address"})
    full_name = fields.Str(required=True, validate=validate.Length(min=1, max=200, error="Enter the person's full name"),
                           error_messages={"required": "Enter the person's full name"})
    role = fields.Str(required=True, validate=validate.OneOf(ROLES, error="Choose a role"),
                      error_messages={"required": "Choose a role"})
    organisation_id = fields.Int(required=True, strict=False,
                                 error_messages={"required": "Choose an organisation", "invalid": "Choose an organisation"})
    password = fields.Str(required=True, validate=validate.Length(min=12, max=1000,
                          error="Password must be at least 12 characters"),
                          error_messages={"required": "Enter a password"})
    is_lead_reviewer = fields.Bool(load_default=False, truthy={"yes", "on", "true"}, falsy={"no", "off", "false", ""})


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths survive as a post-sign-in destination (no open redirect)."""
    if not target:
        return None
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
