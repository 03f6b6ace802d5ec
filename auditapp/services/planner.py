"""The re-audit planner's writes: schedule a visit for a provider and link the triggers it covers;
resolve triggers once the visit scheduled for them has every planned audit finalised.

A trigger (a notified change: new premises, new proprietor, ...) stays unresolved while its visit
is only booked: a change of proprietor keeps the provider Under review "until done"
(audit-templates.md §1.6), and a booked visit can still be cancelled. Every roll-up
(rollup.recompute) reads `open_triggers` once and resolves the covered ones, so the finalise that
completes the visit resolves the trigger in the same transaction, and the provider's status follows
at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlalchemy import and_, bindparam, exists, select, true
from sqlalchemy.orm import Session

from ..models import Audit, Provider, ProviderTrigger, Site, User, Visit, VisitAuditType
from ..models.people import Actor
from ..models.enums import AUDIT_TYPES
from . import audit_log
from .access import CAPTURE_TYPES
from .errors import Forbidden, Invalid, NotFound
from .providers import schedule_visit

MAX_DAYS_AHEAD = 366


@dataclass(frozen=True)
class VisitPlan:
    provider_id: int
    site_id: int
    visit_date: date
    audit_types: tuple[str, ...]
    assignee_ids: tuple[int, ...]
    trigger_ids: tuple[int, ...] = ()
    announced: bool = True


def schedule(session: Session, actor: Actor, plan: VisitPlan, today: date) -> Visit:
    """Create the visit for auditors and teachers and link the chosen open triggers to it.

    :raises visit.invalid: details per field (a past date, no audit type, nobody who can carry one out)
    """
    if actor.role != "maintainer":
        raise Forbidden("planner.maintainers_only", "Only directory maintainers schedule visits from the planner")
    provider = session.get(Provider, plan.provider_id)
    if provider is None or provider.closed_at is not None:
        raise NotFound("provider.not_found", "There is no such open provider")
    site = session.get(Site, plan.site_id)
    assignees = list(session.scalars(select(User).where(User.id.in_(plan.assignee_ids), User.is_active.is_(True))))
    triggers = list(session.scalars(select(ProviderTrigger).where(ProviderTrigger.id.in_(plan.trigger_ids),
                                                                  ProviderTrigger.provider_id == provider.id,
                                                                  ProviderTrigger.resolved_at.is_(None))))
    _check(plan, provider, site, assignees, triggers, today)
    visit = schedule_visit(session, actor, provider, site, plan.visit_date, list(plan.audit_types),
                           [u.id for u in assignees], announced=plan.announced)
    for trigger in triggers:
        trigger.visit_id = visit.id
    if triggers:
        audit_log.record(session, actor, "provider.triggers_scheduled", "provider", provider.id,
                         after={"visit_id": visit.id, "trigger_ids": [t.id for t in triggers]})
    return visit


def _check(plan: VisitPlan, provider: Provider, site: Site | None, assignees: list[User],
           triggers: list[ProviderTrigger], today: date) -> None:
    errors: dict[str, list[str]] = {}
    if site is None or site.provider_id != provider.id:
        errors["site_id"] = ["Choose one of the provider's sites"]
    if plan.visit_date < today:
        errors["visit_date"] = ["The visit date must be today or in the future"]
    elif (plan.visit_date - today).days > MAX_DAYS_AHEAD:
        errors["visit_date"] = ["Schedule the visit within a year"]
    if not plan.audit_types or set(plan.audit_types) - set(AUDIT_TYPES):
        errors["audit_types"] = ["Choose at least one type of audit"]
    if len(assignees) != len(set(plan.assignee_ids)) or not assignees:
        errors["assignee_ids"] = ["Choose who carries out the visit"]
    else:
        covered = set().union(*(CAPTURE_TYPES.get(u.role, set()) for u in assignees))
        missing = [t for t in plan.audit_types if t in AUDIT_TYPES and t not in covered]
        if missing or any(u.role not in CAPTURE_TYPES for u in assignees):
            errors["assignee_ids"] = [("Assign an auditor for safeguarding and health and safety audits, and a "
                                       "quality of education teacher for quality of education audits")]
    if len(triggers) != len(set(plan.trigger_ids)):
        errors["trigger_ids"] = ["A chosen trigger is no longer open: reload the page"]
    if errors:
        raise Invalid("visit.invalid", "Check the visit's details", errors)


def open_triggers(session: Session, provider_ids: list[int] | None) -> list[tuple[ProviderTrigger, bool]]:
    """Unresolved triggers of these providers (of every provider when None), oldest first, each with whether it
    is covered: its scheduled visit has a finalised audit of every planned type. One query, whatever the
    number of providers: the roll-up resolves the covered ones and reads the rest as pending changes."""
    params = {} if provider_ids is None else {"provider_ids": list(provider_ids)}
    rows = session.execute(_open_triggers_statement(provider_ids is None), params)
    return [(trigger, bool(is_covered)) for trigger, is_covered in rows]


@cache
def _open_triggers_statement(everyone: bool):
    """Built once per shape (every trigger, or the ids bound at execution): it runs in every recompute."""
    planned_but_unfinalised = (
        select(VisitAuditType.visit_id)
        .where(VisitAuditType.visit_id == ProviderTrigger.visit_id,
               ~exists().where(Audit.visit_id == VisitAuditType.visit_id, Audit.audit_type == VisitAuditType.audit_type,
                               Audit.status == "finalised")))
    covered = and_(ProviderTrigger.visit_id.is_not(None),
                   exists().where(Audit.visit_id == ProviderTrigger.visit_id, Audit.status == "finalised"),
                   ~planned_but_unfinalised.exists())
    return (select(ProviderTrigger, covered.label("covered"))
            .where(ProviderTrigger.resolved_at.is_(None),
                   true() if everyone else ProviderTrigger.provider_id.in_(bindparam("provider_ids", expanding=True)))
            .order_by(ProviderTrigger.id))


def resolve(session: Session, triggers: list[ProviderTrigger], now: datetime, actor: Actor | None = None) -> None:
    """Mark covered triggers resolved, each in the audit log."""
    for trigger in triggers:
        trigger.resolved_at, trigger.resolved_by_id = now, actor.id if actor else None
        audit_log.record(session, actor, "provider.trigger_resolved", "provider", trigger.provider_id,
                         after={"trigger_id": trigger.id, "kind": trigger.kind, "visit_id": trigger.visit_id})
    if triggers:
        session.flush()


def resolve_covered_triggers(session: Session, provider_ids: list[int] | None, now: datetime,
                             actor: Actor | None = None) -> int:
    """Resolve open triggers whose scheduled visit has a finalised audit of every planned type."""
    covered = [trigger for trigger, is_covered in open_triggers(session, provider_ids) if is_covered]
    resolve(session, covered, now, actor)
    return len(covered)
