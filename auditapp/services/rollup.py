"""Roll audits up into each provider's directory status (ARCHITECTURE.md §5, audit-templates.md §1.5).

`recompute` gathers every provider's facts set-based (a handful of queries whatever the number of
providers), runs the pure `eligibility()` on each, stores the computed status and reasons, and
moves the *published* status only where the app may do so on its own:
- between Eligible and Conditional (both listed);
- to Under review whenever the computed status is Under review or Suspended (a Suspended result
  waits in the maintainers' queue, shown as Under review meanwhile).
Everything else — a first listing, a suspension, a reinstatement, a removal, clearing a review —
is a maintainer's decision (services/decisions.py), which calls `recompute` too. Every change is
written to the history timeline and the audit log, and watchers are notified, in the caller's
transaction. Idempotent: recomputing unchanged facts changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import and_, func, select, true
from sqlalchemy.orm import Session

from ..models import (Action, Answer, Audit, Provider, ProviderStatusChange, ProviderTrigger, QoeGrade,
                      SafeguardingConcern, User, Visit)
from . import audit_log, notifications, placements, planner
from .eligibility import (CLOSED_ACTION_STATUSES, ActionFact, AuditFact, Eligibility, EligibilityConfig,
                          ProviderFacts, eligibility)

LISTED = ("eligible", "conditional")
HELD_BY_MAINTAINERS = ("suspended", "removed")  # only a decision moves a provider out of these
REVIEW_TRIGGERS = ("new_proprietor", "serious_incident")  # notified changes that put a provider under review
REGISTRATION_ITEM = "HDR-4.5"


@dataclass(frozen=True)
class StatusChange:
    provider_id: int
    provider_name: str
    kind: str  # computed | published
    from_status: str
    to_status: str


def recompute(session: Session, provider_ids: list[int] | None, today: date, cause: str,
              actor: User | None = None, audit_id=None, config: EligibilityConfig = EligibilityConfig()
              ) -> list[StatusChange]:
    """Recompute the providers (all open ones when `provider_ids` is None); return what changed."""
    query = select(Provider).where(Provider.closed_at.is_(None))
    if provider_ids is not None:
        query = query.where(Provider.id.in_(provider_ids))
    providers = list(session.scalars(query))
    now = datetime.now(timezone.utc)
    # A finalise can complete the visit booked for a notified change: resolve it before reading facts.
    planner.resolve_covered_triggers(session, provider_ids, now, actor)
    # A full roll-up reads every row rather than filtering by thousands of ids.
    facts = gather_facts(session, providers, everyone=provider_ids is None)
    changes: list[StatusChange] = []
    for provider in providers:
        result = eligibility(facts[provider.id], today, config)
        changes += _apply(session, provider, result, now, cause, actor, audit_id)
    return changes


def _apply(session, provider: Provider, result: Eligibility, now, cause, actor, audit_id) -> list[StatusChange]:
    reasons = [{"code": r.code, "text": r.text, "category": r.category, "safeguarding": r.safeguarding}
               for r in result.reasons]
    changes = []
    if provider.computed_status != result.status:
        changes.append(_history(session, provider, "computed", provider.computed_status, result.status,
                                reasons, cause, actor, audit_id, now))
    provider.computed_status, provider.computed_rule = result.status, result.rule
    if provider.computed_reasons != reasons:
        provider.computed_reasons = reasons
    provider.valid_until, provider.reaudit_due, provider.computed_at = result.valid_until, result.reaudit_due, now
    published = automatic_publication(provider.directory_status, result.status)
    if published != provider.directory_status:
        changes.append(_history(session, provider, "published", provider.directory_status, published,
                                reasons, cause, actor, audit_id, now))
        publish(session, provider, published, now, reasons)
    needs, urgency = queue_position(provider.directory_status, result)
    if (provider.needs_decision, provider.queue_urgency) != (needs, urgency):
        provider.needs_decision, provider.queue_urgency = needs, urgency
    return changes


def automatic_publication(published: str, computed: str) -> str:
    """The published status after a recompute, within what the app may change on its own."""
    if published in LISTED and computed in LISTED:
        return computed
    if published in LISTED and computed in ("under_review", "suspended"):
        return "under_review"
    return published


def queue_position(published: str, result: Eligibility) -> tuple[bool, int]:
    """Whether a maintainer must decide, and how urgently (3 safeguarding, 2 suspension, 1 other)."""
    needs = (published == "under_review"
             or (published == "pending" and result.status in LISTED)
             or (published == "suspended" and result.status in LISTED))
    if not needs:
        return False, 0
    if any(r.safeguarding for r in result.reasons):
        return True, 3
    return True, 2 if result.status == "suspended" else 1


def publish(session: Session, provider: Provider, status: str, now: datetime, reasons: list[dict]) -> None:
    """Set the published status, bump the version schools' caches key on, and tell the watchers."""
    before = provider.directory_status
    provider.directory_status, provider.status_changed_at = status, now
    provider.version += 1
    if status in LISTED and provider.first_listed_on is None:
        provider.first_listed_on = now
    notifications.status_changed(session, provider, before, status, reasons)
    if status in ("under_review", "suspended"):  # commissioners with pupils there must review them now
        placements.notify_affected_schools(session, provider, status, now.date())


def _history(session, provider, kind, before, after, reasons, cause, actor, audit_id, now) -> StatusChange:
    session.add(ProviderStatusChange(provider_id=provider.id, kind=kind, from_status=before, to_status=after,
                                     reasons=reasons, cause=cause, actor_id=actor.id if actor else None,
                                     audit_id=audit_id, changed_at=now))
    audit_log.record(session, actor, f"provider.{kind}_status", "provider", provider.id,
                     before={"status": before}, after={"status": after, "cause": cause,
                                                       "reasons": [r["code"] for r in reasons]})
    return StatusChange(provider.id, provider.display_name, kind, before, after)


def gather_facts(session: Session, providers: list[Provider], everyone: bool = False) -> dict[int, ProviderFacts]:
    """Everything eligibility() needs for these providers, in a fixed number of queries.

    `everyone`: the providers are all there are, so the queries need no id filter.
    """
    if not providers:
        return {}
    ids = None if everyone else [p.id for p in providers]
    latest = _latest_finalised(session, ids)
    by_provider: dict[int, list[_Latest]] = {}
    for (pid, _), audit in latest.items():
        by_provider.setdefault(pid, []).append(audit)
    grades = _overall_grades(session, [a.id for a in latest.values() if a.audit_type == "quality_education"])
    registration = _latest_registration(session, ids)
    actions = _open_actions(session, ids)
    concerns = dict(session.execute(select(SafeguardingConcern.provider_id, func.count())
                                    .where(_among(SafeguardingConcern.provider_id, ids),
                                           SafeguardingConcern.status == "open")
                                    .group_by(SafeguardingConcern.provider_id)).all())
    triggers: dict[int, list[str]] = {}
    for provider_id, kind in session.execute(select(ProviderTrigger.provider_id, ProviderTrigger.kind)
                                             .where(_among(ProviderTrigger.provider_id, ids),
                                                    ProviderTrigger.resolved_at.is_(None),
                                                    ProviderTrigger.kind.in_(REVIEW_TRIGGERS))):
        triggers.setdefault(provider_id, []).append(kind)
    facts = {}
    for provider in providers:
        pid = provider.id
        audits = tuple(AuditFact(a.audit_type, a.outcome, a.visit_date, grades.get(a.id))
                       for a in by_provider.get(pid, ()))
        listed = provider.first_listed_on.date() if provider.first_listed_on else None
        facts[pid] = ProviderFacts(listed_since=listed,
                                   registration=registration.get(pid, provider.registration_status),
                                   audits=audits, actions=tuple(actions.get(pid, ())),
                                   untriaged_concerns=concerns.get(pid, 0),
                                   pending_changes=tuple(triggers.get(pid, ())))
    return facts


@dataclass(frozen=True)
class _Latest:
    id: object
    audit_type: str
    outcome: str
    visit_date: date


def _among(column, ids):
    return true() if ids is None else column.in_(ids)


def _latest_finalised(session, provider_ids) -> dict[tuple[int, str], _Latest]:
    """The newest finalised audit of each type per provider (by visit date, then revision)."""
    ranked = (select(Visit.provider_id, Audit.id, Audit.audit_type, Audit.outcome, Visit.visit_date,
                     func.row_number().over(partition_by=(Visit.provider_id, Audit.audit_type),
                                            order_by=(Visit.visit_date.desc(), Audit.revision.desc())).label("rank"))
              .join(Visit, Visit.id == Audit.visit_id)
              .where(_among(Visit.provider_id, provider_ids), Audit.status == "finalised", Audit.outcome.is_not(None))
              .subquery())
    rows = session.execute(select(ranked).where(ranked.c.rank == 1))
    return {(r.provider_id, r.audit_type): _Latest(r.id, r.audit_type, r.outcome, r.visit_date) for r in rows}


def _overall_grades(session, audit_ids) -> dict:
    """The moderated overall QoE grade of each audit (the moderated grade is the one that counts)."""
    if not audit_ids:
        return {}
    rows = session.execute(select(QoeGrade.audit_id, func.coalesce(QoeGrade.moderated_grade, QoeGrade.grade))
                           .where(QoeGrade.audit_id.in_(audit_ids), QoeGrade.area == "overall",
                                  QoeGrade.moderation.is_not(None)))
    return dict(rows.all())


def _latest_registration(session, provider_ids) -> dict[int, str]:
    """The newest registration check (HDR-4.5) among each provider's finalised audits."""
    ranked = (select(Visit.provider_id, Answer.value,
                     func.row_number().over(partition_by=Visit.provider_id,
                                            order_by=(Visit.visit_date.desc(), Audit.finalised_at.desc())).label("rank"))
              .join(Audit, Audit.id == Answer.audit_id).join(Visit, Visit.id == Audit.visit_id)
              .where(_among(Visit.provider_id, provider_ids), Audit.status == "finalised",
                     Answer.item_key == REGISTRATION_ITEM, Answer.value.is_not(None))
              .subquery())
    return {r.provider_id: r.value for r in session.execute(select(ranked).where(ranked.c.rank == 1))
            if isinstance(r.value, str)}


def _open_actions(session, provider_ids) -> dict[int, list[ActionFact]]:
    """Confirmed actions not yet closed, of finalised audits only: a reviewer confirms actions before the
    audit is finalised, and an audit still in review must not move the directory (proposed ones are not
    actions until a reviewer confirms them)."""
    rows = session.execute(select(Action.provider_id, Audit.audit_type, Action.due_date, Action.status)
                           .join(Audit, and_(Audit.id == Action.audit_id, Audit.status == "finalised"))
                           .where(_among(Action.provider_id, provider_ids),
                                  Action.status.not_in(CLOSED_ACTION_STATUSES + ("proposed",))))
    actions: dict[int, list[ActionFact]] = {}
    for provider_id, audit_type, due, status in rows:
        actions.setdefault(provider_id, []).append(ActionFact(audit_type, due, status))
    return actions
