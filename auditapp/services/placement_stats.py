"""The LA dashboard's figures: the AP strategy's success measures, from placement notifications.

Counts only, never named children (shared/domain/README.md §12). One narrow query loads the
submitted and ended placements in scope; the figures are computed in Python from those rows, so
each one is easy to check by hand (tests/test_placement_stats.py holds a hand-computed fixture).
Definitions:
- a placement is *in AP during a month* when it started on or before the month's last day and had
  not ended (ended_on, else end_date) before the month's first day;
- children are counted once per month however many placements they have (UPN hash; a purged
  placement counts as its own child);
- the strategy's shares (learning outcomes, transition plan, child and family voice) are over
  placements that *started* in the period, against the 100 % target;
- "affected" placements are those whose provider was later published as Under review or Suspended
  while the placement was running.
"""
from __future__ import annotations

import calendar
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from ..gc_pause import collector_paused
from ..models import Placement, Provider, ProviderProvisionType, ProviderStatusChange

AFFECTING = ("under_review", "suspended")
TARGET_SHARE = 1.0  # the strategy: every placement by July 2026


@dataclass(frozen=True)
class StatsFilter:
    start: date  # first month shown (any day of it)
    end: date  # last month shown
    provision_type: str = ""
    district: str = ""


@dataclass
class Share:
    label: str
    count: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.count / self.total if self.total else 0.0


@dataclass
class Dashboard:
    months: list[tuple[date, int]]  # (first day of month, children in AP)
    by_provision_type: list[tuple[str, int]]
    by_district: list[tuple[str, int]]
    shares: list[Share]
    part_time: Share
    re_referrals: int
    started: int
    affected: int
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    pupil: str
    provider_id: int | None
    start: date | None
    finish: date | None
    part_time: bool
    outcomes: bool
    exit_plan: bool
    child_voice: bool
    family_voice: bool
    re_referral: bool


def months_between(start: date, end: date) -> list[date]:
    first, last = start.replace(day=1), end.replace(day=1)
    months = []
    while first <= last:
        months.append(first)
        first = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return months


def dashboard(session: Session, filters: StatsFilter) -> Dashboard:
    with collector_paused():  # one row per placement in the period: see gc_pause
        return _dashboard(session, filters)


def _dashboard(session: Session, filters: StatsFilter) -> Dashboard:
    months = months_between(filters.start, filters.end)
    if not months:
        months = [filters.start.replace(day=1)]
    period_start, period_end = months[0], _month_end(months[-1])
    rows = _rows(session, filters, period_start, period_end)
    base, top = _index(months[0]), _index(months[-1])
    children: list[set] = [set() for _ in months]
    for r in rows:  # each placement into the months it runs in: rows x months-running, not rows x months
        first = max(_index(r.start), base)
        last = min(_index(r.finish), top) if r.finish else top
        for i in range(first, last + 1):
            children[i - base].add(r.pupil)
    per_month = list(zip(months, (len(c) for c in children)))
    started = [r for r in rows if r.start is not None and period_start <= r.start <= period_end]
    types, districts = _provider_facts(session, {r.provider_id for r in rows if r.provider_id})
    in_period = [r for r in rows if _running(r, period_start, period_end)]
    by_type: Counter = Counter()
    for r in in_period:
        by_type.update(types.get(r.provider_id, ["not recorded"]))
    by_district = Counter(districts.get(r.provider_id, "not recorded") for r in in_period)
    total = len(started)
    shares = [Share("Learning outcomes recorded", sum(r.outcomes for r in started), total),
              Share("Transition plan recorded", sum(r.exit_plan for r in started), total),
              Share("Child and family voice recorded", sum(r.child_voice and r.family_voice for r in started), total)]
    return Dashboard(months=per_month, by_provision_type=sorted(by_type.items()), by_district=sorted(by_district.items()),
                     shares=shares, part_time=Share("Part-time timetables", sum(r.part_time for r in started), total),
                     re_referrals=sum(r.re_referral for r in started), started=total,
                     affected=_affected(session, in_period),
                     notes=["A placement at a provider offering several types of provision counts under each type."])


def _rows(session, filters: StatsFilter, period_start: date, period_end: date) -> list[_Row]:
    # Whether each plan field was filled is decided in SQL: the text itself never leaves the database.
    # The child is the UPN hash (a purged placement, with none, is its own child): one text column, so the
    # driver builds no UUID objects for rows that only need counting.
    query = (select(func.coalesce(Placement.upn_sha256, cast(Placement.id, String)), Placement.provider_id,
                    Placement.start_date,
                    func.coalesce(Placement.ended_on, Placement.end_date), Placement.part_time,
                    _filled(Placement.learning_outcomes), _filled(Placement.exit_strategy),
                    _filled(Placement.child_voice), _filled(Placement.family_voice),
                    Placement.re_referral_of_id.is_not(None))
             .where(Placement.status.in_(("submitted", "ended")), Placement.start_date <= period_end,
                    or_(func.coalesce(Placement.ended_on, Placement.end_date).is_(None),
                        func.coalesce(Placement.ended_on, Placement.end_date) >= period_start)))
    if filters.district:
        query = query.where(Placement.provider_id.in_(select(Provider.id).where(Provider.district == filters.district)))
    if filters.provision_type:
        query = query.where(Placement.provider_id.in_(select(ProviderProvisionType.provider_id).where(
            ProviderProvisionType.provision_type == filters.provision_type)))
    return [_Row(pupil, provider, start, finish, bool(part), bool(outcomes), bool(plan), bool(child), bool(family),
                 bool(again))
            for pupil, provider, start, finish, part, outcomes, plan, child, family, again
            in session.connection().execute(query).all()]


def _provider_facts(session, provider_ids: set[int]) -> tuple[dict[int, list[str]], dict[int, str]]:
    if not provider_ids:
        return {}, {}
    types: dict[int, list[str]] = {}
    for pid, kind in session.execute(select(ProviderProvisionType.provider_id, ProviderProvisionType.provision_type)
                                     .where(ProviderProvisionType.provider_id.in_(provider_ids))):
        types.setdefault(pid, []).append(kind)
    districts = dict(session.execute(select(Provider.id, Provider.district).where(Provider.id.in_(provider_ids))).all())
    return types, districts


def _affected(session, rows: list[_Row]) -> int:
    """Placements running when their provider was published as Under review or Suspended."""
    provider_ids = {r.provider_id for r in rows if r.provider_id}
    if not provider_ids:
        return 0
    changes: dict[int, list[date]] = {}
    for pid, when in session.execute(select(ProviderStatusChange.provider_id, ProviderStatusChange.changed_at)
                                     .where(ProviderStatusChange.provider_id.in_(provider_ids),
                                            ProviderStatusChange.kind == "published",
                                            ProviderStatusChange.to_status.in_(AFFECTING))):
        changes.setdefault(pid, []).append(when.date())
    return sum(1 for r in rows if r.start and any(r.start <= day and (r.finish is None or day <= r.finish)
                                                    for day in changes.get(r.provider_id, ())))


def _running(row: _Row, first: date, last: date) -> bool:
    return row.start is not None and row.start <= last and (row.finish is None or row.finish >= first)


def _index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def _filled(column):
    return func.length(func.trim(func.coalesce(column, ""))) > 0
