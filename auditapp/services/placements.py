"""Placement notifications: a school tells the LA it has placed a child in AP (Appendix A).

Own access rules, apart from audits (shared/domain/README.md §11): the placing school edits its
own placements; LA roles (maintainers, LA officers, admins) read all of them; nobody else reads
any, and every read is logged. Pupil data is minimised: the UPN is never stored, only an HMAC of
it under a server key, which is enough to spot a duplicate notification or a re-referral.
The provider must be listed (Eligible, or Conditional with its conditions acknowledged).
Learning outcomes, the exit plan and the child's and family's voice are what the strategy
measures, so a notification without them is accepted with a warning and counted as missing.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import clock
from ..models import Notification, Placement, PlacementReview, Provider, User
from ..models.people import Actor
from ..models.base import MAX_INT_ID
from ..models.enums import ATTENDANCE_CODES, DIRECTORY_STATUS_LABELS, PLACEMENT_OUTCOMES
from . import audit_log
from .errors import Conflict, Forbidden, Invalid, NotFound

LA_ROLES = ("maintainer", "la_officer", "admin")
PLACEABLE = ("eligible", "conditional")
HOURS_WARNING = 18
UPN = re.compile(r"[A-Z]\d{11}[0-9A-Z]")  # 13 characters: a letter, 11 digits, a digit or letter
TEXT_LIMIT, NOTES_LIMIT = 4000, 500
REQUIRED_ON_SUBMIT = ("pupil_initials", "year_group", "date_of_birth", "upn", "contact_name", "contact_email",
                      "provider_id", "hours_per_week", "start_date", "end_date", "attendance_code")
STRATEGY_FIELDS = {"learning_outcomes": "learning outcomes or success criteria",
                   "exit_strategy": "an exit or transition plan",
                   "child_voice": "the child's voice", "family_voice": "the family's voice"}
TEXT_FIELDS = ("interventions", "family_support", "safety_information", "learning_outcomes", "success_measures",
               "exit_strategy", "child_voice", "family_voice", "other_ap")


@dataclass
class PlacementInput:
    """The form as typed (strings); parsed and checked by the service."""

    values: dict[str, str]
    acknowledge_conditions: bool = False


@dataclass
class Saved:
    placement: Placement
    warnings: list[str] = field(default_factory=list)


def upn_hash(upn: str, key: bytes) -> str:
    """The keyed hash stored instead of a UPN (upper-cased, spaces removed first)."""
    return hmac.new(key, upn.replace(" ", "").upper().encode(), hashlib.sha256).hexdigest()


def save(session: Session, actor: Actor, placement_id: uuid.UUID | None, form: PlacementInput, key: bytes,
         *, submit: bool, today: date, expected_version: int | None = None) -> Saved:
    """Create or update the school's draft; with `submit`, check everything and notify the LA.

    :raises Invalid: with field messages; nothing is stored.
    :raises Conflict: a stale form, or the same pupil, provider and dates notified already.
    """
    if actor.role != "school":
        raise Forbidden("placement.schools_only", "Only the placing school can write a placement notification")
    placement = _own(session, actor, placement_id) if placement_id else None
    if placement is not None:
        if placement.status != "draft":
            raise Conflict("placement.submitted", "This notification has been submitted; add a review instead")
        if expected_version is not None and placement.version != expected_version:
            raise Conflict("placement.stale", "Someone at your school changed this draft meanwhile; reload it")
    values, errors = _parse(form.values, key)
    provider = session.get(Provider, values["provider_id"]) if values.get("provider_id") else None
    if values.get("provider_id") and provider is None:
        errors["provider_id"] = ["Choose a provider from the directory"]
    if submit:  # a malformed answer keeps its own message rather than "Answer this question"
        errors = {**_submission_errors(values, provider, form.acknowledge_conditions), **errors}
    if errors:
        raise Invalid("placement.invalid", "Check the highlighted answers", errors)
    if submit:
        _refuse_duplicate(session, values, placement.id if placement is not None else None)
    if placement is None:
        placement = Placement(id=uuid.uuid4(), school_id=actor.organisation_id, created_by_id=actor.id, status="draft",
                              version=0)
        session.add(placement)
    before = {"status": placement.status, "version": placement.version}
    for name, value in values.items():
        if name != "upn":
            setattr(placement, name, value)
    placement.updated_at, placement.version = clock.now(), placement.version + 1
    if provider is not None and provider.directory_status == "conditional" and form.acknowledge_conditions:
        placement.conditions_acknowledged_at = placement.updated_at
    if submit:
        _submit(session, actor, placement)
    audit_log.record(session, actor, "placement.submit" if submit else "placement.save_draft", "placement",
                     placement.id, before=before, after={"status": placement.status, "version": placement.version})
    return Saved(placement, warnings(placement))


def _refuse_duplicate(session: Session, values: dict, own_id: uuid.UUID | None) -> None:
    """Refuse a second notification of the same pupil (UPN hash), provider and dates, before writing."""
    query = select(Placement.id).where(
        Placement.upn_sha256 == values["upn_sha256"], Placement.provider_id == values["provider_id"],
        Placement.start_date == values["start_date"], Placement.end_date == values["end_date"],
        Placement.status != "draft")
    if own_id is not None:
        query = query.where(Placement.id != own_id)
    duplicate = session.scalar(query.limit(1))
    if duplicate is not None:
        raise Conflict("placement.duplicate", "This pupil's placement at this provider for these dates has already "
                       "been notified", {"placement_id": str(duplicate)})


def _submit(session: Session, actor: Actor, placement: Placement) -> None:
    earlier = session.scalar(select(Placement.id).where(
        Placement.upn_sha256 == placement.upn_sha256, Placement.status != "draft", Placement.id != placement.id,
        Placement.start_date < placement.start_date).order_by(Placement.start_date.desc()).limit(1))
    placement.re_referral_of_id = earlier  # the same pupil placed before: a re-referral
    placement.status, placement.submitted_at = "submitted", clock.now()
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("placement.duplicate", "This pupil's placement at this provider for these dates has already "
                       "been notified") from None
    provider = session.get(Provider, placement.provider_id)
    for officer in session.scalars(select(User).where(User.role.in_(("maintainer", "la_officer")),
                                                      User.is_active.is_(True))):
        session.add(Notification(user_id=officer.id, provider_id=placement.provider_id, kind="placement_submitted",
                                 title=f"New AP placement at {provider.display_name}",
                                 body=f"{actor.organisation.name} notified a placement starting "
                                      f"{placement.start_date:%d %B %Y}, {placement.hours_per_week} hours a week."))


def warnings(placement: Placement) -> list[str]:
    """What the school should hear about, without refusing the notification."""
    notes = []
    if placement.hours_per_week is not None and placement.hours_per_week > HOURS_WARNING:
        notes.append(f"More than {HOURS_WARNING} hours a week in AP: check this is what the pupil needs")
    if placement.part_time:
        notes.append("Part-time timetables are for exceptional cases: temporary, with an end date, agreed with "
                     "parents, and never a behaviour tool")
    missing = [label for name, label in STRATEGY_FIELDS.items() if not (getattr(placement, name) or "").strip()]
    if missing:
        notes.append("The AP strategy expects every placement to record " + ", ".join(missing))
    return notes


def conditions(provider: Provider) -> list[str]:
    """A Conditional provider's open conditions, in the words schools may read."""
    return [r["text"] for r in provider.computed_reasons or [] if not r.get("safeguarding")]


def _submission_errors(values: dict, provider: Provider | None, acknowledged: bool) -> dict[str, list[str]]:
    errors = {name: ["Answer this question"] for name in REQUIRED_ON_SUBMIT if values.get(name) in (None, "")}
    if provider is not None and provider.directory_status not in PLACEABLE:
        errors["provider_id"] = [f"{provider.display_name} is {DIRECTORY_STATUS_LABELS[provider.directory_status]} "
                                 "in the directory: new placements there are not allowed"]
    elif provider is not None and provider.directory_status == "conditional" and not acknowledged:
        errors["acknowledge_conditions"] = ["Confirm you have read the provider's open conditions"]
    return errors


def _parse(raw: dict[str, str], key: bytes) -> tuple[dict, dict[str, list[str]]]:
    """Typed values from the form's strings, and field messages for anything malformed."""
    values: dict = {}
    errors: dict[str, list[str]] = {}

    def text(name: str, limit: int = TEXT_LIMIT) -> None:
        value = (raw.get(name) or "").strip()
        if len(value) > limit:
            errors[name] = [f"Must be {limit} characters or fewer"]
        values[name] = value or None

    for name in TEXT_FIELDS:
        text(name)
    text("sensitive_notes", NOTES_LIMIT)
    for name, limit in (("contact_name", 200), ("contact_role", 100), ("contact_phone", 40),
                        ("risk_assessment_ref", 100)):
        text(name, limit)
    initials = (raw.get("pupil_initials") or "").strip().upper()
    if initials and not re.fullmatch(r"[A-Z]{1,4}", initials):
        errors["pupil_initials"] = ["Enter initials only: up to 4 letters"]
    values["pupil_initials"] = initials or None
    email = (raw.get("contact_email") or "").strip()
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        errors["contact_email"] = ["Enter an email address like name@school.example.org"]
    values["contact_email"] = email or None
    upn = (raw.get("upn") or "").replace(" ", "").upper()
    if upn and not UPN.fullmatch(upn):
        errors["upn"] = ["Enter the 13-character UPN, like A123456789012"]
    values["upn"] = upn or None
    if upn and "upn" not in errors:
        values["upn_sha256"] = upn_hash(upn, key)
    _number(raw, values, errors, "year_group", int, 0, 14, "Enter a year group from 0 (reception) to 14")
    _number(raw, values, errors, "hours_per_week", Decimal, Decimal("0.5"), Decimal(40), "Enter hours from 0.5 to 40")
    _number(raw, values, errors, "attendance_at_referral", Decimal, Decimal(0), Decimal(100),
            "Enter attendance as a percentage from 0 to 100")
    _number(raw, values, errors, "provider_id", int, 1, MAX_INT_ID, "Choose a provider from the directory")
    for name in ("date_of_birth", "start_date", "end_date"):
        _date(raw, values, errors, name)
    if values.get("start_date") and values.get("end_date") and values["end_date"] < values["start_date"]:
        errors["end_date"] = ["The end date must be on or after the start date"]
    code = (raw.get("attendance_code") or "").strip().upper()
    if code and code not in ATTENDANCE_CODES:
        errors["attendance_code"] = ["Choose B (arranged by the school) or K (arranged by the council)"]
    values["attendance_code"] = code or None
    for flag in ("send_support", "has_ehcp", "health_needs", "part_time"):
        values[flag] = raw.get(flag) in ("1", "true", "yes", "on")
    return values, errors


def _number(raw, values, errors, name, kind, low, high, message) -> None:
    text = (raw.get(name) or "").strip()
    if not text:
        values[name] = None
        return
    try:
        number = kind(text)
    except (ValueError, InvalidOperation):
        number = None
    if number is None or not low <= number <= high or (kind is Decimal and not number.is_finite()):
        errors[name] = [message]
        values[name] = None
    else:
        values[name] = number


def _date(raw, values, errors, name) -> None:
    text = (raw.get(name) or "").strip()
    try:
        values[name] = date.fromisoformat(text) if text else None
    except ValueError:
        errors[name] = ["Enter a real date, like 2027-01-15"]
        values[name] = None


def _own(session: Session, actor: Actor, placement_id: uuid.UUID) -> Placement:
    placement = session.get(Placement, placement_id)
    if placement is None or placement.school_id != actor.organisation_id:
        raise NotFound("placement.not_found", "There is no such placement for your school")
    return placement


def read(session: Session, actor: Actor, placement_id: uuid.UUID) -> Placement:
    """One placement for the placing school or an LA role; the view is logged."""
    placement = session.get(Placement, placement_id)
    allowed = placement is not None and (actor.role in LA_ROLES or
                                         (actor.role == "school" and placement.school_id == actor.organisation_id))
    if not allowed:
        raise NotFound("placement.not_found", "There is no such placement, or it is not yours to see")
    audit_log.record(session, actor, "placement.viewed", "placement", placement.id)
    return placement


def visible(session: Session, actor: Actor):
    """A select of the placements `actor` may list. :raises Forbidden: for roles that see none."""
    query = select(Placement).order_by(Placement.start_date.desc().nulls_last(), Placement.created_at.desc())
    if actor.role == "school":
        return query.where(Placement.school_id == actor.organisation_id)
    if actor.role in LA_ROLES:
        return query.where(Placement.status != "draft")
    raise Forbidden("placement.forbidden", "Placements are for the placing school and the local authority")


def add_review(session: Session, actor: Actor, placement_id: uuid.UUID, review_date: date, progress: str,
               next_review_date: date | None) -> PlacementReview:
    placement = _own(session, actor, placement_id) if actor.role == "school" else None
    if placement is None:
        raise Forbidden("placement.schools_only", "Only the placing school records reviews")
    if placement.status != "submitted":
        raise Conflict("placement.not_active", "Reviews are for submitted placements that have not ended")
    progress = (progress or "").strip()
    errors = {}
    if not progress:
        errors["progress"] = ["Say briefly how the placement is going"]
    elif len(progress) > TEXT_LIMIT:
        errors["progress"] = [f"Must be {TEXT_LIMIT} characters or fewer"]
    if next_review_date is not None and next_review_date <= review_date:
        errors["next_review_date"] = ["The next review must come after this one"]
    if errors:
        raise Invalid("placement.review_invalid", "Check the review", errors)
    review = PlacementReview(placement_id=placement.id, review_date=review_date, progress=progress,
                             next_review_date=next_review_date, created_by_id=actor.id)
    session.add(review)
    session.flush()
    audit_log.record(session, actor, "placement.review", "placement", placement.id, after={"review_id": review.id})
    return review


def end(session: Session, actor: Actor, placement_id: uuid.UUID, outcome: str, ended_on: date, note: str | None) -> Placement:
    placement = _own(session, actor, placement_id) if actor.role == "school" else None
    if placement is None:
        raise Forbidden("placement.schools_only", "Only the placing school records the outcome")
    if placement.status != "submitted":
        raise Conflict("placement.not_active", "Only a submitted placement can be ended")
    if outcome not in PLACEMENT_OUTCOMES:
        raise Invalid("placement.outcome_invalid", "Choose the outcome", {"outcome": ["Choose an outcome"]})
    if placement.start_date and ended_on < placement.start_date:
        raise Invalid("placement.outcome_invalid", "Check the end date",
                      {"ended_on": ["The placement cannot end before it started"]})
    placement.status, placement.outcome, placement.ended_on = "ended", outcome, ended_on
    placement.outcome_note = (note or "").strip()[:TEXT_LIMIT] or None
    placement.version += 1
    audit_log.record(session, actor, "placement.end", "placement", placement.id, after={"outcome": outcome})
    return placement


PERSONAL = ("pupil_initials", "date_of_birth", "upn_sha256", "sensitive_notes", "contact_name", "contact_role",
            "contact_email", "contact_phone", "interventions", "family_support", "safety_information",
            "child_voice", "family_voice", "outcome_note")


def purge(session: Session, actor: Actor | None, ended_before: date, *, dry_run: bool) -> list[uuid.UUID]:
    """Clear the pupil's data from placements that ended before `ended_before`; keep the counted facts.

    What the dashboard counts survives (dates, provider, hours, flags, whether outcomes, an exit
    plan and voice were recorded — kept as a placeholder), so the figures over time do not change.
    """
    rows = session.scalars(select(Placement).where(Placement.status == "ended", Placement.ended_on < ended_before,
                                                   Placement.purged_at.is_(None))).all()
    if dry_run:
        return [p.id for p in rows]
    now = clock.now()
    for placement in rows:
        recorded = {name: bool((getattr(placement, name) or "").strip()) for name in STRATEGY_FIELDS}
        for name in PERSONAL:
            setattr(placement, name, None)
        for name, had in recorded.items():
            setattr(placement, name, "[recorded; removed at the end of retention]" if had else None)
        placement.purged_at = now
        audit_log.record(session, actor, "placement.purge", "placement", placement.id)
    return [p.id for p in rows]


def running_on(today: date) -> tuple:
    """The conditions of a placement running on `today`: submitted and not ended."""
    return (Placement.status == "submitted", (Placement.end_date.is_(None)) | (Placement.end_date >= today))


def running_at(session: Session, provider_id: int, today: date):
    """A select of the submitted placements at a provider that have not ended by `today`."""
    return select(Placement).where(Placement.provider_id == provider_id, *running_on(today))


def affected_at(session: Session, provider_id: int) -> list[tuple[Placement, "object"]]:
    """Placements notified before the provider was published as Under review or Suspended and not
    finished by then (running or still to start), with that change (LA roles only: the edge checks)."""
    from ..models import ProviderStatusChange
    changes = session.scalars(select(ProviderStatusChange).where(
        ProviderStatusChange.provider_id == provider_id, ProviderStatusChange.kind == "published",
        ProviderStatusChange.to_status.in_(("under_review", "suspended")))
        .order_by(ProviderStatusChange.changed_at.desc())).all()
    if not changes:
        return []
    placements = session.scalars(select(Placement).where(Placement.provider_id == provider_id,
                                                         Placement.status != "draft")).all()
    affected = []
    for placement in placements:
        finish = placement.ended_on or placement.end_date
        notified = placement.submitted_at or placement.created_at
        hit = next((c for c in changes if notified <= c.changed_at
                    and (finish is None or c.changed_at.date() <= finish)), None)
        if hit is not None:
            affected.append((placement, hit))
    return affected
