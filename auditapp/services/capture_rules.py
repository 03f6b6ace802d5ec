"""Per-entity rules for capture changes: which fields exist, how each is checked, how it is stored.

Validation happens here, in Python, before any SQL, so nearly every bad change is refused with a
field-level message and never reaches the database (INGEST.md: validate first, bisect the rest).
"""
from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Conversation
from ..models.enums import ACTION_PRIORITIES, RATINGS
from .access import items_of, prompts_of

RESPONSE_PREFIX = "response:"
MAX_TEXT = 5000
MAX_NUMBER = 1_000_000  # a typed number or count: learners, hours, schools
MAX_REVIEWS = 500  # previous actions reviewed in one HDR-6 answer
REVIEW_STATUSES = ("closed_verified", "open_in_time", "overdue", "no_longer_relevant")
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
# A UPN (placements.UPN: a letter, 11 digits, a digit or letter) standing alone in free text.
_UPN_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]\d{11}[0-9A-Za-z](?![A-Za-z0-9])")


def bad_characters(value: str) -> str | None:
    """Why a text cannot be stored: NUL, or half of a UTF-16 surrogate pair (a cut emoji)."""
    found = _BAD_CHARACTER.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "Remove the NUL character (\\u0000); text cannot hold it"
    return "Holds half of an emoji or other character (a lone UTF-16 surrogate); retype the end of the text"


def _text(limit: int = MAX_TEXT, required: bool = False, no_upn: bool = False) -> Callable[[object], str | None]:
    def check(value):
        if value is None:
            return "Enter some text" if required else None
        if not isinstance(value, str):
            return "Must be text"
        if required and not value.strip():
            return "Enter some text"
        if len(value) > limit:
            return f"Must be {limit} characters or fewer"
        if problem := bad_characters(value):
            return problem
        if no_upn and _UPN_IN_TEXT.search(value):
            return "Looks like a UPN; conversation notes never identify a learner, so leave it out"
        return None
    return check


def _bool(value) -> str | None:
    return None if value is None or isinstance(value, bool) else "Must be true or false"


def _iso_date(value) -> str | None:
    if value is None:
        return None
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return "Must be a date like 2026-11-28"
    return None


def _one_of(values) -> Callable[[object], str | None]:
    return lambda value: None if value is None or value in values else "Must be one of: " + ", ".join(values)


def _number(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "Must be a number, like 6"
    return None if 0 <= value <= MAX_NUMBER else f"Must be a number from 0 to {MAX_NUMBER:,}"


def _counts(item: dict) -> Callable[[object], str | None]:
    names = set(item.get("fields") or ())

    def check(value):
        if value is None:
            return None
        if not isinstance(value, dict):
            return "Must be an object of counts, like {\"on_roll\": 12}"
        unknown = sorted(k for k in value if k not in names)
        if unknown:
            return f"Not a count of {item['key']}: " + ", ".join(str(k)[:40] for k in unknown[:5])
        for name, count in value.items():
            if problem := _number(count) if count is not None else "Must be a number, like 6":
                return f"{name}: {problem}"
        return None
    return check


def _reviews(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_REVIEWS:
        return f"Must be an object of at most {MAX_REVIEWS} previous action ids, each with a review status"
    for action_id, status in value.items():
        try:
            uuid.UUID(action_id)
        except (TypeError, ValueError, AttributeError):
            return "Each key must be a previous action's id"
        if status not in REVIEW_STATUSES:
            return "Each review must be one of: " + ", ".join(REVIEW_STATUSES)
    return None


def _date_text(value) -> str | None:
    return "Must be a date like 2026-11-28" if value is not None and not isinstance(value, str) else _iso_date(value)


def typed_value_check(item: dict) -> Callable[[object], str | None]:
    """The check of an answer's `value` for the item's kind (sync/PROTOCOL.md, typed values)."""
    kind = item.get("answer", "rating")
    if kind == "choice":
        return _one_of([choice["value"] for choice in item.get("choices", [])])
    if kind == "counts":
        return _counts(item)
    return _TYPED.get(kind, lambda value: "This item takes no typed value")


_TYPED = {"text": _text(), "number": _number, "yes_no": _bool, "date": _date_text, "action_review": _reviews}


@dataclass(frozen=True)
class EntitySpec:
    name: str
    fields: dict[str, Callable]
    columns: tuple[str, ...]
    keyed_by_item: bool = False
    required_on_create: frozenset = frozenset()
    item_check: Callable | None = None  # (item, fields) -> error or None
    dates: tuple[str, ...] = ()
    extra_field: Callable | None = None  # (name, template, change) -> checker or None
    check_row: Callable[[dict], tuple[str, str] | None] = lambda values: None
    insert_extras: Callable = lambda row, actor: {}
    before_insert: Callable[[Session, list[dict]], None] = lambda session, rows: None
    response_column: bool = False
    defaults: dict = field(default_factory=dict)  # stored when a field was never set

    def validate(self, change, template: dict) -> dict[str, list[str]]:
        """Field-level problems with a change, against its audit's pinned template."""
        errors: dict[str, list[str]] = {}
        if not isinstance(change.fields, dict) or not change.fields:
            return {"fields": ["Send at least one field"]}
        if self.keyed_by_item or self.name == "action":
            item = items_of(template).get(change.key or "")
            if item is None:
                return {"item_key": [f"{change.key!r} is not an item of this audit's template"]}
            if self.item_check and (problem := self.item_check(item, change.fields)):
                return {"item_key": [problem]}
            if self.name == "answer" and "value" in change.fields:
                if problem := typed_value_check(item)(change.fields["value"]):
                    errors["value"] = [problem]
        if self.name == "conversation" and change.key not in ("learner", "staff"):
            return {"kind": ["Must be learner or staff"]}
        for name, value in change.fields.items():
            check = self.fields.get(name)
            if check is None and name.startswith(RESPONSE_PREFIX) and self.response_column:
                prompt = name[len(RESPONSE_PREFIX):]
                check = _text(2000, no_upn=True) if prompt in prompts_of(template, change.key) else None
            if name in errors:
                continue
            if check is None:
                errors[name] = ["Not a field of this record"]
            elif problem := check(value):
                errors[name] = [problem]
        return errors

    def from_columns(self, row) -> dict:
        values = {name: row[name] for name in self.columns if name != "responses"}
        for name in self.dates:
            values[name] = values[name].isoformat() if values[name] else None
        if self.response_column:
            values.update({RESPONSE_PREFIX + k: v for k, v in (row["responses"] or {}).items()})
        return values

    def to_columns(self, values: dict) -> dict:
        columns = {name: values.get(name) for name in self.columns if name != "responses"}
        columns.update({name: default for name, default in self.defaults.items() if columns.get(name) is None})
        for name in self.dates:
            columns[name] = date.fromisoformat(columns[name]) if columns[name] else None
        if self.response_column:
            columns["responses"] = {k[len(RESPONSE_PREFIX):]: v for k, v in values.items()
                                    if k.startswith(RESPONSE_PREFIX)}
        return columns


def _answer_item_check(item: dict, fields: dict) -> str | None:
    if item.get("answer", "rating") == "rating" and "value" in fields:
        return f"{item['key']} is rated, not a typed field"
    if item.get("answer", "rating") != "rating" and "rating" in fields:
        return f"{item['key']} takes a typed value, not a rating"
    return None


def _answer_row(values: dict) -> tuple[str, str] | None:
    if values.get("rating") == "not_applicable" and not (values.get("na_reason") or "").strip():
        return "answer.na_reason_required", "Give a reason when an item is not applicable"
    return None


def _policy_item_check(item: dict, fields: dict) -> str | None:
    return None if item.get("policy") else f"{item['key']} has no policy check"


def _assign_references(session: Session, rows: list[dict]) -> None:
    """Give new conversations the next free L<n>/S<n> of their audit, in arrival order."""
    audits = {row["audit_id"] for row in rows}
    taken = session.execute(select(Conversation.audit_id, Conversation.kind, func.count())
                            .where(Conversation.audit_id.in_(audits))
                            .group_by(Conversation.audit_id, Conversation.kind)).all()
    counts = {(audit_id, kind): n for audit_id, kind, n in taken}
    for row in rows:
        key = (row["audit_id"], row["kind"])
        counts[key] = counts.get(key, 0) + 1
        row["reference"] = ("L" if row["kind"] == "learner" else "S") + str(counts[key])


SPECS = {
    "answer": EntitySpec(
        name="answer", keyed_by_item=True, columns=("rating", "note", "na_reason", "value"),
        fields={"rating": _one_of(RATINGS), "note": _text(), "na_reason": _text(2000),
                "value": lambda value: None},  # checked against the item's kind in validate()
        item_check=_answer_item_check, check_row=_answer_row,
        insert_extras=lambda row, actor: {"item_key": row["item_key"]}),
    "policy_check": EntitySpec(
        name="policy_check", keyed_by_item=True,
        columns=("document_seen", "document_version", "review_date", "named_person", "note"),
        fields={"document_seen": _bool, "document_version": _text(100), "review_date": _iso_date,
                "named_person": _text(200), "note": _text()},
        dates=("review_date",), item_check=_policy_item_check,
        insert_extras=lambda row, actor: {"item_key": row["item_key"]}),
    "conversation": EntitySpec(
        name="conversation", response_column=True,
        columns=("subject", "setting", "consent_given", "notes", "ended_for_safeguarding", "responses"),
        fields={"subject": _text(100, no_upn=True), "setting": _text(100, no_upn=True), "consent_given": _bool,
                "notes": _text(no_upn=True),
                "ended_for_safeguarding": _bool},
        defaults={"consent_given": False, "ended_for_safeguarding": False},
        insert_extras=lambda row, actor: {"kind": row["kind"]},
        before_insert=_assign_references),
    "action": EntitySpec(
        name="action", columns=("description", "owner_role", "due_date", "priority"),
        fields={"description": _text(2000, required=True), "owner_role": _text(100, required=True),
                "due_date": _iso_date, "priority": _one_of(ACTION_PRIORITIES)},
        dates=("due_date",), defaults={"priority": "normal"}, required_on_create=frozenset({"description", "owner_role", "due_date"}),
        insert_extras=lambda row, actor: {"item_key": row["item_key"], "provider_id": row["provider_id"],
                                          "created_by_id": actor.id, "status": "proposed"}),
}
