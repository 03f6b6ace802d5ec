"""The app's one clock: every service, view, query and command reads the time here, nothing else does.

Timestamps are timezone-aware UTC (`now()`); the dates people see and the dates that expire (audits,
actions, share links) are Europe/London calendar dates (`today()`, `local_date()`). Tests may fix the
clock with `frozen(...)`; `make test` also runs the date-sensitive tests under libfaketime, which shifts
what `datetime.now` returns here and in the tests alike (PostgreSQL's own `now()` is not shifted, so
the app never asks the database for the time).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")  # the councils' time: calendar dates, and the times people read

_fixed: datetime | None = None


def now() -> datetime:
    """The current moment, timezone-aware UTC."""
    return _fixed if _fixed is not None else datetime.now(timezone.utc)


def today() -> date:
    """Today's calendar date in Leicester (Europe/London): what decides expiry and what people see."""
    return local_date(now())


def local_date(moment: datetime) -> date:
    """The Europe/London calendar date of an aware `moment`.

    :raises ValueError: for a naive datetime (every stored timestamp is aware).
    """
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place in auditapp: timestamps are timezone-aware UTC")
    return moment.astimezone(LONDON).date()


def day_start(day: date) -> datetime:
    """The moment the Europe/London calendar `day` begins (its local midnight), aware UTC: where a range of
    dates people chose starts and ends among timestamps."""
    return datetime.combine(day, time(0), LONDON).astimezone(timezone.utc)


def local(moment: datetime) -> datetime:
    """An aware `moment` in Europe/London, for display."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place in auditapp: timestamps are timezone-aware UTC")
    return moment.astimezone(LONDON)


@contextmanager
def frozen(moment: datetime) -> Iterator[datetime]:
    """Fix the clock at an aware `moment` for the duration (tests of what happens on a given day)."""
    global _fixed
    if moment.tzinfo is None:
        raise ValueError("freeze the clock at an aware datetime")
    previous, _fixed = _fixed, moment.astimezone(timezone.utc)
    try:
        yield _fixed
    finally:
        _fixed = previous
