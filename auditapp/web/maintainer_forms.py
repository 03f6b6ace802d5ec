"""The wire side of the maintainers' pages: marshmallow schemas for decisions, provider records,
sites, closing, triggers, scheduling and the weekly summary, loading into the plain data the
services take. Checkbox groups arrive as repeated form fields, so `form_data` keeps them as lists."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

from ..models.enums import (AUDIT_TYPES, DECISIONS, DELIVERY_MODES, DISTRICTS, KEY_STAGES, PROVISION_TYPES,
                            TIME_BASES, TRIGGER_KINDS)
from ..services.decisions import MAX_REASON
from ..services.provider_records import MAX_NOTE

LIST_FIELDS = ("provision_types", "key_stages", "council_ids", "audit_types", "assignee_ids", "trigger_ids")
_BOOL = {"truthy": {"yes", "on", "true", "1"}, "falsy": {"no", "off", "false", "0", ""}}
_VERSION = {"required": True, "strict": False, "validate": validate.Range(min=1),
            "error_messages": {"required": "Reload the page and try again", "invalid": "Reload the page and try again"}}


def form_data(form) -> dict:
    """A submitted form as a dict: checkbox groups as lists, a GOV.UK date input (`<name>-day`,
    `-month`, `-year`) as one ISO date string, every other field as its one value."""
    data = {key: form.getlist(key) if key in LIST_FIELDS else form.get(key) for key in form}
    for key in [k[:-4] for k in form if k.endswith("-day")]:
        parts = [str(form.get(f"{key}-{part}", "")).strip() for part in ("year", "month", "day")]
        data[key] = "-".join([parts[0].zfill(4)] + [p.zfill(2) for p in parts[1:]]) if all(parts) else (
            None if not any(parts) else "incomplete")
    return data


def _filled(message: str):
    def check(value: str) -> None:
        if not value.strip():
            raise ValidationError(message)
    return check


def _text(max_length: int, message: str | None = None, required: bool = False):
    checks = [validate.Length(max=max_length, error=f"Enter {max_length} characters or fewer")]
    if required:
        checks.insert(0, _filled(message or "Enter a value"))
    optional = {} if required else {"load_default": None, "allow_none": True}
    return fields.Str(required=required, validate=checks, **optional,
                      error_messages={"required": message or "Enter a value", "null": message or "Enter a value"})


class _Form(Schema):
    class Meta:
        unknown = EXCLUDE  # csrf_token and the submit button ride along

    @pre_load
    def _blank_is_missing(self, data, **kwargs):
        """An empty box means "not given": required fields say so, optional ones take their default."""
        return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}

    @post_load
    def _strip(self, data, **kwargs):
        return {k: (v.strip() or None) if isinstance(v, str) and k not in ("reason", "note") else v
                for k, v in data.items()}


class DecisionSchema(_Form):
    decision = fields.Str(required=True, validate=validate.OneOf(DECISIONS, error="Choose a decision"),
                          error_messages={"required": "Choose a decision"})
    reason = fields.Str(load_default="", validate=validate.Length(max=MAX_REASON, error=f"Keep the reason to "
                                                                   f"{MAX_REASON} characters or fewer"))
    safeguarding = fields.Bool(load_default=False, **_BOOL)
    version = fields.Int(**_VERSION)


class Pounds(fields.Field):
    """Money in pounds and pence ("95" or "95.50") loaded as whole pence; blank means not stated."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value in (None, ""):
            return None
        try:
            amount = Decimal(str(value).strip().lstrip("£"))
        except InvalidOperation:
            raise ValidationError("Enter the cost in pounds, like 95 or 95.50") from None
        if amount < 0 or amount > 10000 or amount.as_tuple().exponent < -2:
            raise ValidationError("Enter the cost in pounds, like 95 or 95.50")
        return int(amount * 100)


def _int(name: str, low: int, high: int, required: bool = True):
    message = f"Enter {name} as a whole number from {low} to {high}"
    optional = {} if required else {"load_default": None, "allow_none": True}
    return fields.Int(required=required, strict=False, validate=validate.Range(min=low, max=high, error=message),
                      error_messages={"required": message, "invalid": message, "null": message}, **optional)


class ProviderSchema(_Form):
    legal_name = _text(200, "Enter the provider's legal name", required=True)
    trading_name = _text(200)
    company_number = _text(20)
    charity_number = _text(20)
    contact_name = _text(200, "Enter the name of the provider's contact", required=True)
    contact_email = _text(254, "Enter the contact's email address", required=True)
    contact_phone = _text(40)
    offer_summary = _text(2000)
    age_min = _int("the youngest age", 4, 19)
    age_max = _int("the oldest age", 4, 19)
    district = fields.Str(required=True, validate=validate.OneOf(DISTRICTS, error="Choose a district"),
                          error_messages={"required": "Choose a district"})
    time_basis = fields.Str(required=True, validate=validate.OneOf(TIME_BASES, error="Choose full or part time"),
                            error_messages={"required": "Choose full or part time"})
    delivery_mode = fields.Str(required=True, validate=validate.OneOf(DELIVERY_MODES, error="Choose how it is "
                               "delivered"), error_messages={"required": "Choose how it is delivered"})
    send_specialism = fields.Bool(load_default=False, **_BOOL)
    semh_specialism = fields.Bool(load_default=False, **_BOOL)
    cost_per_day_pence = Pounds(load_default=None, data_key="cost_per_day")
    capacity = _int("the number of places", 1, 1000, required=False)
    provision_types = fields.List(fields.Str(validate=validate.OneOf(PROVISION_TYPES)), required=True,
                                  error_messages={"required": "Choose at least one type of provision"})
    key_stages = fields.List(fields.Str(validate=validate.OneOf(KEY_STAGES)), required=True,
                             error_messages={"required": "Choose at least one key stage"})
    council_ids = fields.List(fields.Int(strict=False), required=True,
                              error_messages={"required": "Choose the council or councils that list it"})


class EditProviderSchema(ProviderSchema):
    version = fields.Int(**_VERSION)


class SiteSchema(_Form):
    name = _text(200, "Enter the site's name", required=True)
    address_line1 = _text(200, "Enter the first line of the address", required=True)
    town = _text(100, "Enter the town", required=True)
    postcode = _text(10, "Enter the postcode", required=True)
    is_main = fields.Bool(load_default=False, **_BOOL)
    record_trigger = fields.Bool(load_default=False, **_BOOL)


class NewProviderSchema(ProviderSchema):
    site_name = _text(200, "Enter the main site's name", required=True)
    site_address_line1 = _text(200, "Enter the first line of the main site's address", required=True)
    site_town = _text(100, "Enter the main site's town", required=True)
    site_postcode = _text(10, "Enter the main site's postcode", required=True)


class CloseSchema(_Form):
    reason = fields.Str(load_default="", validate=validate.Length(max=MAX_REASON - 100, error="Keep the reason "
                                                                   "shorter"))
    version = fields.Int(**_VERSION)


class TriggerSchema(_Form):
    kind = fields.Str(required=True, validate=validate.OneOf(TRIGGER_KINDS, error="Choose what changed"),
                      error_messages={"required": "Choose what changed"})
    note = fields.Str(load_default="", validate=validate.Length(max=MAX_NOTE, error=f"Keep the note to {MAX_NOTE} "
                                                                 "characters or fewer"))


class ScheduleSchema(_Form):
    site_id = fields.Int(required=True, strict=False, error_messages={"required": "Choose a site",
                                                                      "invalid": "Choose a site"})
    visit_date = fields.Date(required=True, error_messages={"required": "Enter the visit date",
                                                            "invalid": "The visit date must be a real date"})
    audit_types = fields.List(fields.Str(validate=validate.OneOf(AUDIT_TYPES)), required=True,
                              error_messages={"required": "Choose at least one type of audit"})
    assignee_ids = fields.List(fields.Int(strict=False), required=True,
                               error_messages={"required": "Choose who carries out the visit"})
    trigger_ids = fields.List(fields.Int(strict=False), load_default=list)
    announced = fields.Bool(load_default=True, **_BOOL)


class WeekSchema(_Form):
    week = fields.Date(load_default=None, error_messages={"invalid": "Enter a real date, like 2026-11-23"})


def flat_errors(messages: dict) -> dict[str, str]:
    """Field -> one message, whatever the nesting (a bad item in a checkbox group is keyed by index)."""
    def first(value):
        if isinstance(value, dict):
            return first(next(iter(value.values()), ""))
        if isinstance(value, (list, tuple)):
            return " ".join(first(v) for v in value)
        return str(value)
    return {field: first(value) for field, value in messages.items()}
