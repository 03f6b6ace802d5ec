"""The directory's search filters at the edge: one schema for the page, the CSV and the API.

Odd input never reaches SQL as anything but a bound value: unknown filter values, control
characters and over-long text come back as field messages (422), and % or _ in the name search
are literal characters (directory_queries escapes them).
"""
from __future__ import annotations

import re

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates

from ..directory_queries import SCHOOL_STATUSES, SearchFilters
from ..models.enums import DIRECTORY_STATUSES, DISTRICTS, KEY_STAGES, PROVISION_TYPES
from ..services.errors import Invalid

MAX_QUERY = 100
MAX_PAGE = 10_000
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SPECIALISMS = {"send": "SEND", "semh": "SEMH"}
TIME_BASES = {"part_time": "Part time", "full_time": "Full time"}
DELIVERIES = {"in_person": "In person", "online": "Online"}
LIST_FIELDS = ("specialism",)


def _choice(values, what):
    return fields.Str(load_default="", validate=validate.OneOf(("",) + tuple(values), error=f"Choose a valid {what}"))


class SearchSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # other query parameters are ignored, as a search page should

    q = fields.Str(load_default="", validate=validate.Length(
        max=MAX_QUERY, error=f"Search for {MAX_QUERY} characters or fewer"))
    provision_type = _choice(PROVISION_TYPES, "type of provision")
    key_stage = _choice(KEY_STAGES, "key stage")
    age = fields.Int(load_default=None, strict=False, validate=validate.Range(
        min=4, max=19, error="Enter an age from 4 to 19"), error_messages={"invalid": "Enter an age from 4 to 19"})
    district = _choice(DISTRICTS, "district")
    specialism = fields.List(fields.Str(validate=validate.OneOf(tuple(SPECIALISMS),
                                                                error="Choose SEND, SEMH or both")),
                             load_default=list)
    time_basis = _choice(TIME_BASES, "full or part time option")
    delivery = _choice(DELIVERIES, "delivery option")
    status = _choice(DIRECTORY_STATUSES, "status")
    page = fields.Int(load_default=1, strict=False, validate=validate.Range(min=1, max=MAX_PAGE,
                      error="Choose a valid page"), error_messages={"invalid": "Choose a valid page"})

    @validates("q")
    def _printable(self, value, data_key):
        if CONTROL.search(value):
            raise ValidationError("Search using letters, numbers and punctuation only")


# Built once: a schema instance holds no state between loads, and building one copies every field.
_SCHEMA = SearchSchema()
MAX_PARSED = 1024
_PARSED: dict[tuple, SearchFilters] = {}  # emptied when full


def parse_filters(args, school: bool) -> SearchFilters:
    """SearchFilters from query arguments (a MultiDict). :raises directory.bad_filter: with field messages.

    Filters once parsed are kept per process by the arguments exactly as sent: every school sends the same
    few searches, and loading them through the schema cost as much as serving a kept result. Only valid
    filters are kept; bad input is parsed (and refused) every time.
    """
    key = (school, tuple(args.items(multi=True)))
    found = _PARSED.get(key)
    if found is None:
        found = _load(_given(args), school)
        if len(_PARSED) >= MAX_PARSED:
            _PARSED.clear()
        _PARSED[key] = found
    return found


def _given(args) -> dict:
    """The schema's fields that were given a value (blank ones are left out, as if not sent)."""
    raw: dict = {}
    for name in _SCHEMA.fields:
        if name in LIST_FIELDS:
            values = [v for v in args.getlist(name) if v != ""]
            if values:
                raw[name] = values
        else:
            value = args.get(name, "")
            if value.strip() != "":
                raw[name] = value.strip()
    return raw


def _load(raw: dict, school: bool) -> SearchFilters:
    try:
        loaded = _SCHEMA.load(raw)
    except ValidationError as exc:
        raise Invalid("directory.bad_filter", "Check the search filters", _flat(exc.messages)) from None
    if school and loaded["status"] and loaded["status"] not in SCHOOL_STATUSES:
        raise Invalid("directory.bad_filter", "Check the search filters", {"status": ["Choose a valid status"]})
    loaded["specialism"] = tuple(sorted(set(loaded["specialism"])))
    return SearchFilters(**loaded)


def _flat(messages: dict) -> dict[str, list[str]]:
    """marshmallow nests list-item errors ({"specialism": {0: [...]}}); pages and JSON want field: [messages]."""
    flat = {}
    for name, value in messages.items():
        if isinstance(value, dict):
            value = sorted({m for inner in value.values() for m in inner})
        flat[name] = list(value)
    return flat


def query_args(filters: SearchFilters, page: int | None = None) -> dict:
    """The filters as query arguments for links (pagination, CSV), without empty ones."""
    args = {name: getattr(filters, name) for name in ("q", "provision_type", "key_stage", "age", "district",
                                                      "time_basis", "delivery", "status")}
    args = {k: v for k, v in args.items() if v not in ("", None)}
    if filters.specialism:
        args["specialism"] = list(filters.specialism)
    if page and page > 1:
        args["page"] = page
    return args
