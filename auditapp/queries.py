"""Read-only selects for the pages. Visibility is enforced here, by role and organisation,
so a template can never show a row the user should not see."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from . import clock
from .directory_queries import SCHOOL_STATUSES
from .models import (
    AuditTemplate,
    Provider,
    TemplateVersion,
    User,
    Visit,
    VisitAssignment,
)
from .services.errors import NotFound

ALL_VISITS_ROLES = ("admin", "maintainer")


def visits_for(session: Session, user: User, *, upcoming_only: bool = False) -> list[Visit]:
    """Visits the user may see: their own assignments, or every visit for admins and maintainers."""
    query = (select(Visit).options(selectinload(Visit.audit_types), selectinload(Visit.assignments))
             .order_by(Visit.visit_date, Visit.id))
    if user.role not in ALL_VISITS_ROLES:
        query = query.join(VisitAssignment).where(VisitAssignment.user_id == user.id)
    if upcoming_only:
        query = query.where(Visit.visit_date >= clock.today(), Visit.status.in_(("planned", "in_progress")))
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


def listed_count(session: Session) -> int:
    """How many providers a school can see in the directory (never Pending, Removed or closed ones)."""
    return session.scalar(select(func.count()).select_from(Provider)
                          .where(Provider.directory_status.in_(SCHOOL_STATUSES), Provider.closed_at.is_(None)))


def provider_visits(session: Session, provider_id: int) -> list[Visit]:
    """Visits to one provider, newest first (LA roles only: the edge checks)."""
    return list(session.scalars(select(Visit).where(Visit.provider_id == provider_id)
                                .options(selectinload(Visit.audit_types), selectinload(Visit.assignments))
                                .order_by(Visit.visit_date.desc())))



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

