"""The LA dashboard's figures against a fixture computed by hand (see the comments)."""
import uuid
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import delete

from auditapp.models import Placement, ProviderProvisionType, ProviderStatusChange
from auditapp.services.placement_stats import StatsFilter, dashboard, months_between

from . import world
from .directory_helpers import new_provider

JAN, FEB, MAR = date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)


def _placement(session, school, provider, pupil, start, end, status="submitted", ended_on=None, part_time=False,
               outcomes=True, exit_plan=True, child=True, family=True, re_referral_of=None):
    row = Placement(id=uuid.uuid4(), school_id=school.organisation_id, created_by_id=school.id, status=status,
                    upn_sha256=(pupil * 64)[:64], provider_id=provider.id, start_date=start, end_date=end,
                    ended_on=ended_on, part_time=part_time, learning_outcomes="Maths" if outcomes else None,
                    exit_strategy="Phased return" if exit_plan else None, child_voice="Likes it" if child else "",
                    family_voice="Agrees" if family else None, re_referral_of_id=re_referral_of,
                    hours_per_week=10)
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def fixture(db_session):
    db_session.execute(delete(Placement))  # only the placements below: the demo world's own are counted elsewhere
    school = world.user(db_session, "school")
    p1, p2 = new_provider(db_session), new_provider(db_session)
    p2.district = "Melton"
    db_session.add_all([ProviderProvisionType(provider_id=p1.id, provision_type="vocational"),
                        ProviderProvisionType(provider_id=p1.id, provision_type="sport"),
                        ProviderProvisionType(provider_id=p2.id, provision_type="tutoring")])
    a = _placement(db_session, school, p1, "a", date(2027, 1, 10), date(2027, 2, 15))
    _placement(db_session, school, p2, "a", date(2027, 2, 20), date(2027, 4, 30), part_time=True, exit_plan=False,
               family=False, re_referral_of=a.id)                                                     # B
    _placement(db_session, school, p1, "b", date(2026, 12, 1), date(2027, 1, 5), status="ended",
               ended_on=date(2027, 1, 3), outcomes=False, exit_plan=False, child=False, family=False)  # C
    _placement(db_session, school, p1, "c", date(2027, 3, 31), date(2027, 6, 30), part_time=True, outcomes=False,
               family=False)                                                                           # D
    _placement(db_session, school, p1, "d", date(2026, 10, 1), date(2026, 12, 20))                    # E: ended before
    _placement(db_session, school, p1, "e", date(2027, 1, 15), date(2027, 2, 1), status="draft")      # F: a draft
    def change(provider, kind, to, day):
        db_session.add(ProviderStatusChange(provider_id=provider.id, kind=kind, from_status="eligible", to_status=to,
                                            reasons=[], cause="rollup",
                                            changed_at=datetime(day.year, day.month, day.day, 9, tzinfo=timezone.utc)))
    change(p2, "published", "under_review", date(2027, 3, 1))   # B is running then: affected
    change(p1, "published", "suspended", date(2026, 11, 1))     # only E was running: out of the period
    change(p1, "computed", "suspended", date(2027, 1, 20))      # computed, never published: not counted
    db_session.flush()
    return p1, p2


def test_dashboard_matches_the_hand_computed_figures(db_session, fixture):
    result = dashboard(db_session, StatsFilter(JAN, MAR))
    # Jan: A (pupil a) and C (pupil b, ended 3 Jan); Feb: A and B are the same pupil; Mar: B and D.
    assert result.months == [(JAN, 2), (FEB, 1), (MAR, 2)]
    # Started in the period: A, B, D. Outcomes A, B; transition plan A, D; child and family voice A only.
    assert result.started == 3
    assert [(s.count, s.total) for s in result.shares] == [(2, 3), (2, 3), (1, 3)]
    assert round(result.shares[0].percent, 1) == 66.7
    assert (result.part_time.count, result.re_referrals) == (2, 1)  # B and D part time; B re-referred
    # Running in the period: A, C, D at the first provider (vocational + sport, Blaby), B at the second (tutoring, Melton).
    assert result.by_provision_type == [("sport", 3), ("tutoring", 1), ("vocational", 3)]
    assert result.by_district == [("Blaby", 3), ("Melton", 1)]
    assert result.affected == 1


def test_filters_narrow_every_figure(db_session, fixture):
    result = dashboard(db_session, StatsFilter(JAN, MAR, district="Melton"))
    assert result.months == [(JAN, 0), (FEB, 1), (MAR, 1)] and result.started == 1 and result.affected == 1
    vocational = dashboard(db_session, StatsFilter(JAN, MAR, provision_type="vocational"))
    assert vocational.months == [(JAN, 2), (FEB, 1), (MAR, 1)] and vocational.affected == 0


def test_purged_placements_count_as_a_child_each(db_session, fixture):
    # Given two placements whose pupil data was purged (no UPN hash left), running in February
    p1, _ = fixture
    school = world.user(db_session, "school")
    for _ in range(2):
        _placement(db_session, school, p1, "x", date(2027, 2, 1), date(2027, 2, 28), status="ended").upn_sha256 = None
    db_session.flush()
    # Then each counts as one child of its own, beside pupil a
    assert dashboard(db_session, StatsFilter(FEB, FEB)).months == [(FEB, 3)]


def test_months_between_spans_years():
    assert months_between(date(2026, 11, 15), date(2027, 2, 3)) == [date(2026, 11, 1), date(2026, 12, 1),
                                                                   date(2027, 1, 1), date(2027, 2, 1)]
