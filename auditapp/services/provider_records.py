"""Maintainers keep provider records: create, edit, add a site, mark closed, record a re-audit trigger.

The one write path for the maintainers' record pages (and anything else that edits a provider):
each change is checked here, logged with before and after, bumps the provider's version when
schools could see it, and recomputes the provider's eligibility in the caller's transaction.
Creation goes through `providers.create_provider` (the CLI's and the demo's path too).
"""
from __future__ import annotations

import re
from dataclasses import fields, replace
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import clock
from ..models import (Organisation, Provider, ProviderCouncil, ProviderKeyStage, ProviderProvisionType,
                      ProviderTrigger, Site)
from ..models.people import Actor
from ..models.enums import (DELIVERY_MODES, DISTRICTS, KEY_STAGES, PROVISION_TYPES, TIME_BASES, TRIGGER_KINDS,
                            TRIGGER_LABELS)
from . import audit_log, decisions, rollup
from .errors import Conflict, Forbidden, Invalid, NotFound
from .providers import NewProvider, NewSite, ProviderDetails, create_provider

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
POSTCODE_RE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")
MAX_NOTE = 2000
_LISTS = ("provision_types", "key_stages", "council_ids")


def create_record(session: Session, actor: Actor, details: ProviderDetails, main_site: NewSite, today: date) -> Provider:
    """Create a provider (Pending until a maintainer approves its first listing) with its main site.

    :raises provider.invalid: a field breaks a rule (details per field)
    :raises provider.name_taken: another provider has this legal name
    """
    _require_maintainer(actor)
    _check(session, details, None)
    _check_site(main_site)
    values = {f.name: getattr(details, f.name) for f in fields(details)}
    site = replace(main_site, is_main=True, postcode=_postcode(main_site.postcode))
    provider = create_provider(session, actor, NewProvider(**values, sites=(site,)))
    rollup.recompute(session, [provider.id], today, "provider_edit", actor)
    return provider


def edit_record(session: Session, actor: Actor, provider_id: int, details: ProviderDetails, expected_version: int,
                today: date) -> Provider:
    """Change a provider's record; bump its version and recompute.

    :raises provider.stale: the record changed since the form was opened (nothing is written)
    """
    _require_maintainer(actor)
    provider = _locked(session, provider_id, expected_version)
    _check(session, details, provider.id)
    before, after = _snapshot(provider), {f.name: _plain(getattr(details, f.name)) for f in fields(details)}
    changed = {k: v for k, v in after.items() if before[k] != v}
    if not changed:
        return provider
    for name in changed:
        if name not in _LISTS:
            setattr(provider, name, getattr(details, name))
    if "provision_types" in changed:
        provider.provision_types = [ProviderProvisionType(provision_type=t) for t in details.provision_types]
    if "key_stages" in changed:
        provider.key_stages = [ProviderKeyStage(key_stage=k) for k in details.key_stages]
    if "council_ids" in changed:
        provider.councils = [ProviderCouncil(organisation_id=c) for c in details.council_ids]
    provider.version += 1
    session.flush()
    audit_log.record(session, actor, "provider.edit", "provider", provider.id,
                     before={k: before[k] for k in changed}, after=changed)
    rollup.recompute(session, [provider.id], today, "provider_edit", actor)
    return provider


def add_site(session: Session, actor: Actor, provider_id: int, site: NewSite, today: date,
             record_trigger: bool = True) -> Site:
    """Attach a site; by default record a "new premises" trigger (HS and SG-6 there within 28 days)."""
    _require_maintainer(actor)
    provider = _provider(session, provider_id)
    _check_site(site)
    if site.is_main:
        for other in provider.sites:
            other.is_main = False
    row = Site(provider_id=provider.id, name=site.name.strip(), address_line1=site.address_line1.strip(),
               town=site.town.strip(), postcode=_postcode(site.postcode), is_main=site.is_main)
    session.add(row)
    session.flush()
    audit_log.record(session, actor, "site.create", "site", row.id,
                     after={"provider_id": provider.id, "name": row.name, "postcode": row.postcode})
    if record_trigger:
        add_trigger(session, actor, provider.id, "new_premises", f"New site: {row.name}, {row.postcode}", today)
    return row


def close_record(session: Session, actor: Actor, provider_id: int, reason: str, expected_version: int,
                 today: date) -> Provider:
    """Mark a provider closed: removed from the directory by a maintainer's decision, history kept.

    :raises decision.reason_required: no reason given
    :raises provider.already_closed:
    """
    _require_maintainer(actor)
    provider = _provider(session, provider_id)
    if provider.closed_at is not None:
        raise Invalid("provider.already_closed", "This provider is already marked closed")
    if not reason.strip():
        raise Invalid("decision.reason_required", "Give a reason for this decision", {"reason": ["Enter a reason"]})
    if provider.directory_status == "removed":
        _locked(session, provider.id, expected_version)
    else:
        decisions.decide(session, actor, decisions.Decision(provider.id, "remove", f"Provider closed: {reason.strip()}",
                                                            expected_version), today)
    provider.closed_at = clock.now()
    provider.needs_decision, provider.queue_urgency = False, 0  # the roll-up leaves closed providers alone
    provider.version += 1
    audit_log.record(session, actor, "provider.close", "provider", provider.id,
                     after={"closed_at": provider.closed_at.isoformat(), "reason": reason.strip()})
    return provider


def add_trigger(session: Session, actor: Actor, provider_id: int, kind: str, note: str | None,
                today: date) -> ProviderTrigger:
    """Record a notified change that calls for a re-audit (audit-templates.md §1.6) and recompute.

    A change of proprietor or a serious incident puts a listed provider Under review until a visit
    scheduled for it has every planned audit finalised (services/planner.py resolves it then).
    :raises trigger.invalid:
    """
    _require_maintainer(actor)
    provider = _provider(session, provider_id)
    errors = {}
    if kind not in TRIGGER_KINDS:
        errors["kind"] = ["Choose what changed"]
    if note and len(note) > MAX_NOTE:
        errors["note"] = [f"Keep the note to {MAX_NOTE} characters or fewer"]
    if errors:
        raise Invalid("trigger.invalid", "Check the re-audit trigger", errors)
    trigger = ProviderTrigger(provider_id=provider.id, kind=kind, note=(note or "").strip() or None,
                              reported_by_id=actor.id)
    session.add(trigger)
    session.flush()
    audit_log.record(session, actor, "provider.trigger", "provider", provider.id,
                     after={"trigger_id": trigger.id, "kind": kind, "label": TRIGGER_LABELS[kind]})
    rollup.recompute(session, [provider.id], today, "trigger", actor)
    return trigger


# ---- checks ------------------------------------------------------------------------------------

def _require_maintainer(actor: Actor) -> None:
    if actor.role != "maintainer":
        raise Forbidden("provider.maintainers_only", "Only directory maintainers change provider records")


def _provider(session: Session, provider_id: int) -> Provider:
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise NotFound("provider.not_found", "There is no such provider")
    return provider


def _locked(session: Session, provider_id: int, expected_version: int) -> Provider:
    provider = session.scalar(select(Provider).where(Provider.id == provider_id).with_for_update())
    if provider is None:
        raise NotFound("provider.not_found", "There is no such provider")
    if provider.version != expected_version:
        raise Conflict("provider.stale", "The provider changed while you were editing; check it and try again",
                       {"changes": decisions.changes_since(session, provider.id, expected_version, provider)})
    return provider


def _check(session: Session, details: ProviderDetails, provider_id: int | None) -> None:
    errors: dict[str, list[str]] = {}
    if not details.legal_name.strip():
        errors["legal_name"] = ["Enter the provider's legal name"]
    elif session.scalar(select(Provider.id).where(func.lower(Provider.legal_name) == details.legal_name.strip().lower(),
                                                  Provider.id != (provider_id or 0))) is not None:
        errors["legal_name"] = ["Another provider already has this legal name"]
    if not EMAIL_RE.match(details.contact_email or ""):
        errors["contact_email"] = ["Enter an email address in the correct format, like name@example.org"]
    if not (4 <= details.age_min <= details.age_max <= 19):
        errors["age_min"] = ["Ages must be 4 to 19, the youngest no older than the oldest"]
    choices = (("district", details.district, DISTRICTS), ("time_basis", details.time_basis, TIME_BASES),
               ("delivery_mode", details.delivery_mode, DELIVERY_MODES))
    errors.update({name: ["Choose one of the options"] for name, value, allowed in choices if value not in allowed})
    if not details.provision_types or set(details.provision_types) - set(PROVISION_TYPES):
        errors["provision_types"] = ["Choose at least one type of provision"]
    if not details.key_stages or set(details.key_stages) - set(KEY_STAGES):
        errors["key_stages"] = ["Choose at least one key stage"]
    councils = set(session.scalars(select(Organisation.id).where(Organisation.kind == "council")))
    if not details.council_ids or set(details.council_ids) - councils:
        errors["council_ids"] = ["Choose the council or councils that list this provider"]
    if errors:
        raise Invalid("provider.invalid", "Check the provider's details", errors)


def _check_site(site: NewSite) -> None:
    errors = {}
    for name, message in (("name", "Enter the site's name"), ("address_line1", "Enter the first line of the address"),
                          ("town", "Enter the town")):
        if not (getattr(site, name) or "").strip():
            errors[name] = [message]
    if not POSTCODE_RE.match(_postcode(site.postcode)):
        errors["postcode"] = ["Enter a full UK postcode, like LE1 6ZG"]
    if errors:
        raise Invalid("site.invalid", "Check the site's details", errors)


def _postcode(raw: str) -> str:
    compact = re.sub(r"\s+", "", (raw or "").upper())
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) > 3 else compact


def _plain(value):
    return sorted(value) if isinstance(value, (tuple, list)) else value


def _snapshot(provider: Provider) -> dict:
    values = {f.name: getattr(provider, f.name) for f in fields(ProviderDetails) if f.name not in _LISTS}
    values["provision_types"] = sorted(t.provision_type for t in provider.provision_types)
    values["key_stages"] = sorted(k.key_stage for k in provider.key_stages)
    values["council_ids"] = sorted(c.organisation_id for c in provider.councils)
    return values
