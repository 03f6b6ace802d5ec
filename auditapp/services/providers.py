"""Organisations, providers, sites and visits: creation used by the CLI and the demo world."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (Organisation, Provider, ProviderCouncil, ProviderKeyStage, ProviderProvisionType, Site, Visit, VisitAssignment, VisitAuditType)
from ..models.people import Actor
from . import audit_log


@dataclass(frozen=True)
class NewSite:
    name: str
    address_line1: str
    town: str
    postcode: str
    is_main: bool = False


@dataclass(frozen=True)
class ProviderDetails:
    """Everything a maintainer edits on a provider's record (status and audit facts are not here)."""

    legal_name: str
    contact_name: str
    contact_email: str
    district: str
    time_basis: str
    delivery_mode: str
    age_min: int
    age_max: int
    trading_name: str | None = None
    company_number: str | None = None
    charity_number: str | None = None
    contact_phone: str | None = None
    offer_summary: str | None = None
    send_specialism: bool = False
    semh_specialism: bool = False
    cost_per_day_pence: int | None = None
    capacity: int | None = None
    provision_types: tuple[str, ...] = ()
    key_stages: tuple[str, ...] = ()
    council_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class NewProvider(ProviderDetails):
    """A provider's record as created: its details, where it starts in the directory, and its sites."""

    directory_status: str = "pending"
    registration_status: str = "not_checked"
    sites: tuple[NewSite, ...] = field(default_factory=tuple)


def ensure_organisation(session: Session, actor: Actor | None, name: str, kind: str) -> Organisation:
    """Return the organisation called `name`, creating it if missing."""
    organisation = session.scalar(select(Organisation).where(Organisation.name == name))
    if organisation is None:
        organisation = Organisation(name=name, kind=kind)
        session.add(organisation)
        session.flush()
        audit_log.record(session, actor, "organisation.create", "organisation", organisation.id,
                         after={"name": name, "kind": kind})
    return organisation


def create_provider(session: Session, actor: Actor | None, new: NewProvider) -> Provider:
    """Create a provider with its provision types, key stages, councils and sites."""
    values = {k: v for k, v in new.__dict__.items() if k not in ("provision_types", "key_stages", "council_ids", "sites")}
    provider = Provider(**values)
    provider.provision_types = [ProviderProvisionType(provision_type=t) for t in new.provision_types]
    provider.key_stages = [ProviderKeyStage(key_stage=k) for k in new.key_stages]
    provider.councils = [ProviderCouncil(organisation_id=c) for c in new.council_ids]
    provider.sites = [Site(**site.__dict__) for site in new.sites]
    session.add(provider)
    session.flush()
    audit_log.record(session, actor, "provider.create", "provider", provider.id,
                     after={"legal_name": new.legal_name, "status": new.directory_status})
    return provider


def schedule_visit(session: Session, actor: Actor | None, provider: Provider, site: Site, visit_date: date,
                   audit_types: list[str], assignee_ids: list[int], announced: bool = True) -> Visit:
    """Plan a visit to one site for the given audit types and assignees."""
    visit = Visit(provider_id=provider.id, site_id=site.id, visit_date=visit_date, announced=announced)
    visit.audit_types = [VisitAuditType(audit_type=t) for t in audit_types]
    visit.assignments = [VisitAssignment(user_id=u) for u in assignee_ids]
    session.add(visit)
    session.flush()
    audit_log.record(session, actor, "visit.schedule", "visit", visit.id,
                     after={"provider_id": provider.id, "date": visit_date.isoformat(), "audit_types": audit_types,
                            "assignees": assignee_ids})
    return visit
