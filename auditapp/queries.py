"""Read-only selects for the pages. Visibility is enforced here, by role and organisation,
so a template can never show a row the user should not see."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from .models import (AuditTemplate, Provider, ProviderKeyStage, ProviderProvisionType, TemplateVersion, User, Visit,
                     VisitAssignment)
from .services.errors import NotFound

# What a school may see in the directory (audit-templates.md §1.5): never Pending or Removed.
SCHOOL_VISIBLE_STATUSES = ("eligible", "conditional", "under_review", "suspended")
QUEUE_STATUSES = ("under_review", "pending", "suspended")
ALL_VISITS_ROLES = ("admin", "maintainer")


@dataclass(frozen=True)
class DirectoryFilters:
    q: str = ""
    district: str = ""
    provision_type: str = ""
    key_stage: str = ""
    status: str = ""


def visits_for(session: Session, user: User, *, upcoming_only: bool = False) -> list[Visit]:
    """Visits the user may see: their own assignments, or every visit for admins and maintainers."""
    query = (select(Visit).options(selectinload(Visit.audit_types), selectinload(Visit.assignments))
             .order_by(Visit.visit_date, Visit.id))
    if user.role not in ALL_VISITS_ROLES:
        query = query.join(VisitAssignment).where(VisitAssignment.user_id == user.id)
    if upcoming_only:
        query = query.where(Visit.visit_date >= date.today(), Visit.status.in_(("planned", "in_progress")))
    return list(session.scalars(query).unique())


def visit_for(session: Session, user: User, visit_id: int) -> Visit:
    """One visit, if the user may see it. :raises visit.not_found: unknown or not theirs (same answer)."""
    query = (select(Visit).where(Visit.id == visit_id)
             .options(selectinload(Visit.audit_types), selectinload(Visit.assignments)))
    if user.role not in ALL_VISITS_ROLES:
        query = query.join(VisitAssignment).where(VisitAssignment.user_id == user.id)
    visit = session.scalar(query)
    if visit is None:
        raise NotFound("visit.not_found", "There is no such visit, or it is not assigned to you")
    return visit


def directory(session: Session, user: User, filters: DirectoryFilters) -> list[Provider]:
    """Providers the user may see in the directory, filtered."""
    query = (select(Provider).options(selectinload(Provider.provision_types), selectinload(Provider.key_stages),
                                      selectinload(Provider.councils), selectinload(Provider.sites))
             .order_by(func.lower(func.coalesce(Provider.trading_name, Provider.legal_name))))
    if user.role == "school":
        query = query.where(Provider.directory_status.in_(SCHOOL_VISIBLE_STATUSES))
    if filters.q:
        pattern = f"%{filters.q.lower()}%"
        query = query.where(func.lower(Provider.legal_name).like(pattern)
                            | func.lower(func.coalesce(Provider.trading_name, "")).like(pattern))
    if filters.district:
        query = query.where(Provider.district == filters.district)
    if filters.provision_type:
        query = query.where(Provider.id.in_(select(ProviderProvisionType.provider_id)
                                            .where(ProviderProvisionType.provision_type == filters.provision_type)))
    if filters.key_stage:
        query = query.where(Provider.id.in_(select(ProviderKeyStage.provider_id)
                                            .where(ProviderKeyStage.key_stage == filters.key_stage)))
    if filters.status:
        query = query.where(Provider.directory_status == filters.status)
    return list(session.scalars(query))


def listed_count(session: Session) -> int:
    """How many providers a school can see in the directory."""
    return session.scalar(select(func.count()).select_from(Provider)
                          .where(Provider.directory_status.in_(SCHOOL_VISIBLE_STATUSES)))


def provider_for(session: Session, user: User, provider_id: int) -> Provider:
    """One provider, if the user's role may see it. :raises provider.not_found:"""
    query = select(Provider).where(Provider.id == provider_id).options(
        selectinload(Provider.sites), selectinload(Provider.councils),
        selectinload(Provider.provision_types), selectinload(Provider.key_stages))
    if user.role == "school":
        query = query.where(Provider.directory_status.in_(SCHOOL_VISIBLE_STATUSES))
    provider = session.scalar(query)
    if provider is None:
        raise NotFound("provider.not_found", "There is no such provider in the directory")
    return provider


def provider_visits(session: Session, provider_id: int) -> list[Visit]:
    """Visits to one provider, newest first (LA roles only: the edge checks)."""
    return list(session.scalars(select(Visit).where(Visit.provider_id == provider_id)
                                .options(selectinload(Visit.audit_types), selectinload(Visit.assignments))
                                .order_by(Visit.visit_date.desc())))


def directory_queue(session: Session) -> list[Provider]:
    """Providers that need a maintainer: under review first, then pending, then suspended."""
    order = {status: rank for rank, status in enumerate(QUEUE_STATUSES)}
    providers = session.scalars(select(Provider).where(Provider.directory_status.in_(QUEUE_STATUSES))
                                .options(selectinload(Provider.councils)))
    return sorted(providers, key=lambda p: (order[p.directory_status], p.display_name.lower()))


def open_concerns(session: Session) -> list:
    """Safeguarding concerns not yet triaged, newest first (maintainers only: the edge checks)."""
    from .models import SafeguardingConcern
    return list(session.execute(select(SafeguardingConcern, Provider).join(Provider)
                                .where(SafeguardingConcern.status == "open")
                                .order_by(SafeguardingConcern.received_at.desc())).all())


def status_counts(session: Session) -> dict[str, int]:
    """How many providers hold each published status."""
    rows = session.execute(select(Provider.directory_status, func.count()).group_by(Provider.directory_status))
    return {status: count for status, count in rows}


def template_version_summaries(session: Session) -> list[TemplateVersion]:
    """Published template versions, newest first within each type."""
    return list(session.scalars(select(TemplateVersion).join(TemplateVersion.template)
                                .order_by(AuditTemplate.audit_type, TemplateVersion.version.desc())))


def audit_types_of(visit: Visit) -> list[str]:
    """The audit types planned on a visit, in the standard order."""
    order = ("safeguarding", "health_safety", "quality_education")
    return sorted((t.audit_type for t in visit.audit_types), key=order.index)

