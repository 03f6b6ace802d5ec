"""Read-only selects for the maintainers' pages: the decision queue, "why is this provider …?",
the history timeline, the weekly summary of status changes and the re-audit planner.
Only the maintainers' and admins' views call these (the edges check the role)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from . import clock
from .models import (Action, DirectoryDecision, Provider, ProviderStatusChange, ProviderTrigger,
                     SafeguardingConcern, User, Visit)
from .services import rollup
from .services.eligibility import (CLOSED_ACTION_STATUSES, Eligibility, EligibilityConfig, ProviderFacts, add_months,
                                   eligibility)

CONCERN_LOOKBACK_DAYS = 90  # the planner lists providers with a concern raised this recently
RULES = {
    "R1": "Pending: not yet through a first safeguarding and a first health and safety audit as Compliant "
          "or Compliant with actions",
    "R2": "Suspended: a safeguarding or health and safety audit Non-compliant or long expired, a safety action "
          "long overdue, or grounds a maintainer confirmed",
    "R3": "Under review: something needs a maintainer's decision (a concern, a registration doubt, a weak or "
          "failed quality of education audit, a notified change, an expired audit or an overdue action)",
    "R4": "Conditional: listed, with actions open and in time or no quality of education audit yet",
    "R5": "Eligible: every audit in date and passed, with no open actions, concerns or changes",
}


def queue(session: Session) -> list[Provider]:
    """Providers waiting for a maintainer's decision: most urgent first, then longest waiting."""
    return list(session.scalars(select(Provider).where(Provider.needs_decision.is_(True), Provider.closed_at.is_(None))
                                .order_by(Provider.queue_urgency.desc(), Provider.status_changed_at.asc().nulls_first(),
                                          Provider.id)))


@dataclass(frozen=True)
class AuditLine:
    audit_type: str
    outcome: str
    visit_date: date
    grade: str | None
    expires: date


@dataclass(frozen=True)
class Why:
    """The computed status of one provider, the rule and reasons behind it, and the facts it rests on."""

    provider: Provider
    facts: ProviderFacts
    today_result: Eligibility  # eligibility() run now on today's facts: differs from the stored one only
    audits: list[AuditLine]  # if the facts changed since the last roll-up
    actions: list[Action]
    triggers: list[ProviderTrigger]
    config: EligibilityConfig
    today: date

    @property
    def overdue(self) -> list[Action]:
        return [a for a in self.actions if a.due_date < self.today]

    @property
    def current(self) -> bool:
        return (self.today_result.status, self.today_result.rule) == (self.provider.computed_status,
                                                                       self.provider.computed_rule)


def why(session: Session, provider: Provider, today: date, config: EligibilityConfig = EligibilityConfig()) -> Why:
    """Gather the facts the roll-up uses for `provider` and explain its computed status."""
    facts = rollup.gather_facts(session, [provider])[provider.id]
    order = ("safeguarding", "health_safety", "quality_education")
    audits = [AuditLine(a.audit_type, a.outcome, a.visit_date, a.grade,
                        add_months(a.visit_date, config.validity_months))
              for a in sorted(facts.audits, key=lambda a: order.index(a.audit_type))]
    actions = list(session.scalars(select(Action).where(Action.provider_id == provider.id,
                                                        Action.status.not_in(CLOSED_ACTION_STATUSES + ("proposed",)))
                                   .order_by(Action.due_date, Action.item_key)))
    return Why(provider, facts, eligibility(facts, today, config), audits, actions,
               open_triggers(session, provider.id), config, today)


def open_triggers(session: Session, provider_id: int) -> list[ProviderTrigger]:
    """Unresolved re-audit triggers of one provider, oldest first."""
    return list(session.scalars(select(ProviderTrigger).where(ProviderTrigger.provider_id == provider_id,
                                                              ProviderTrigger.resolved_at.is_(None))
                                .order_by(ProviderTrigger.reported_at, ProviderTrigger.id)))


@dataclass(frozen=True)
class TimelineEntry:
    when: datetime
    kind: str  # published | computed | decision
    from_status: str
    to_status: str
    reasons: list[dict]
    cause: str
    who: str | None  # None: the roll-up
    decision: str | None = None
    decision_text: str | None = None
    safeguarding: bool = False


def history(session: Session, provider_id: int) -> list[TimelineEntry]:
    """Status changes and decisions of one provider, newest first (a decision that changed the
    published status appears once, with its change)."""
    decisions = {d.id: d for d in session.scalars(select(DirectoryDecision)
                                                  .where(DirectoryDecision.provider_id == provider_id))}
    changes = list(session.scalars(select(ProviderStatusChange).where(ProviderStatusChange.provider_id == provider_id)))
    ids = {c.actor_id for c in changes} | {d.decided_by_id for d in decisions.values()}
    names = dict(session.execute(select(User.id, User.full_name).where(User.id.in_(ids - {None}))).all())
    entries, shown = [], set()
    for change in changes:
        decision = decisions.get(change.decision_id)
        shown.add(change.decision_id)
        entries.append(TimelineEntry(change.changed_at, change.kind, change.from_status, change.to_status,
                                     change.reasons or [], change.cause, names.get(change.actor_id),
                                     decision.decision if decision else None,
                                     decision.reason_text if decision else None,
                                     bool(decision and "safeguarding" in (decision.reason_codes or []))))
    for decision in decisions.values():
        if decision.id not in shown:
            entries.append(TimelineEntry(decision.decided_at, "decision", decision.from_status, decision.to_status, [],
                                         "decision", names.get(decision.decided_by_id), decision.decision,
                                         decision.reason_text, "safeguarding" in (decision.reason_codes or [])))
    return sorted(entries, key=lambda e: e.when, reverse=True)


@dataclass(frozen=True)
class WeekRow:
    when: datetime
    provider_id: int
    provider_name: str
    from_status: str
    to_status: str
    cause: str
    who: str | None


@dataclass(frozen=True)
class WeekSummary:
    start: date  # Monday
    rows: list[WeekRow]
    counts: dict[str, int] = field(default_factory=dict)  # new published status -> changes

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_summary(session: Session, any_day: date) -> WeekSummary:
    """Published status changes in the week (Monday to Sunday, UK time) holding `any_day`."""
    start = monday_of(any_day)
    since = clock.day_start(start)
    until = clock.day_start(start + timedelta(days=7))
    rows = session.execute(
        select(ProviderStatusChange, Provider.legal_name, Provider.trading_name, User.full_name)
        .join(Provider, Provider.id == ProviderStatusChange.provider_id)
        .outerjoin(User, User.id == ProviderStatusChange.actor_id)
        .where(ProviderStatusChange.kind == "published", ProviderStatusChange.changed_at >= since,
               ProviderStatusChange.changed_at < until)
        .order_by(ProviderStatusChange.changed_at.desc(), ProviderStatusChange.id.desc())).all()
    lines = [WeekRow(c.changed_at, c.provider_id, trading or legal, c.from_status, c.to_status, c.cause, who)
             for c, legal, trading, who in rows]
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.to_status] = counts.get(line.to_status, 0) + 1
    return WeekSummary(start, lines, counts)


@dataclass(frozen=True)
class PlanRow:
    provider: Provider
    reasons: list[str]
    triggers: list[ProviderTrigger]
    recent_concerns: int
    booked: list[Visit]  # planned visits from today on


def planner(session: Session, today: date, config: EligibilityConfig = EligibilityConfig()) -> list[PlanRow]:
    """Providers needing a re-audit: audits expiring within the warning window (or expired), a
    re-audit due within it, open triggers, or a concern raised recently. Soonest due first."""
    horizon = today + timedelta(days=config.warning_days)
    since = clock.day_start(today - timedelta(days=CONCERN_LOOKBACK_DAYS))
    concerns = dict(session.execute(select(SafeguardingConcern.provider_id, func.count())
                                    .where(or_(SafeguardingConcern.received_at >= since,
                                               SafeguardingConcern.status == "open"))
                                    .group_by(SafeguardingConcern.provider_id)).all())
    triggers: dict[int, list[ProviderTrigger]] = {}
    for trigger in session.scalars(select(ProviderTrigger).where(ProviderTrigger.resolved_at.is_(None))
                                   .order_by(ProviderTrigger.reported_at)):
        triggers.setdefault(trigger.provider_id, []).append(trigger)
    providers = session.scalars(
        select(Provider).where(Provider.closed_at.is_(None), Provider.directory_status != "removed",
                               or_(Provider.valid_until <= horizon, Provider.reaudit_due <= horizon,
                                   Provider.id.in_(list(triggers) + list(concerns)))))
    candidates = list(providers)
    booked: dict[int, list[Visit]] = {}
    for visit in session.scalars(select(Visit).options(selectinload(Visit.audit_types))
                                 .where(Visit.provider_id.in_([p.id for p in candidates]), Visit.visit_date >= today,
                                        Visit.status.in_(("planned", "in_progress"))).order_by(Visit.visit_date)):
        booked.setdefault(visit.provider_id, []).append(visit)
    rows = [PlanRow(p, _plan_reasons(p, today, horizon), triggers.get(p.id, []), concerns.get(p.id, 0),
                    booked.get(p.id, [])) for p in candidates]
    return sorted(rows, key=lambda r: (r.provider.reaudit_due or r.provider.valid_until or date.max,
                                       r.provider.display_name.lower()))


def _plan_reasons(provider: Provider, today: date, horizon: date) -> list[str]:
    reasons = []
    if provider.valid_until and provider.valid_until < today:
        reasons.append(f"Audits expired on {provider.valid_until:%-d %B %Y}")
    elif provider.valid_until and provider.valid_until <= horizon:
        reasons.append(f"Audits expire on {provider.valid_until:%-d %B %Y}")
    if provider.reaudit_due and provider.reaudit_due <= horizon and provider.reaudit_due != provider.valid_until:
        reasons.append(f"Re-audit due by {provider.reaudit_due:%-d %B %Y}")
    return reasons


def capturers(session: Session) -> list[User]:
    """Active auditors and quality of education teachers, for assigning a visit."""
    return list(session.scalars(select(User).where(User.role.in_(("auditor", "qoe_teacher")), User.is_active.is_(True))
                                .order_by(User.role, User.full_name)))
