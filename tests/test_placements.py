"""Placement notifications: validation, directory checks, duplicates, access, reviews, outcomes, purge."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from auditapp.models import AuditLogEntry, Notification, Placement, User
from auditapp.services import placements
from auditapp.services.errors import Conflict, Forbidden, Invalid, NotFound
from auditapp.services.placements import PlacementInput

from . import world
from .directory_helpers import new_provider
from .placement_helpers import END, START

KEY = b"test upn hash key"
TODAY = world.TODAY


def form(provider, **changes) -> dict:
    values = {"pupil_initials": "jb", "year_group": "9", "date_of_birth": "2012-03-04", "upn": "A123456789012",
              "contact_name": "Jo Head", "contact_role": "Deputy head", "contact_email": "jo@school.example.org",
              "provider_id": str(provider.id), "hours_per_week": "15", "start_date": START.isoformat(),
              "end_date": END.isoformat(), "attendance_code": "b", "learning_outcomes": "Re-engage with maths",
              "success_measures": "Attendance above 90%", "exit_strategy": "Phased return after Easter",
              "child_voice": "Wants to work with animals", "family_voice": "Parents support the plan"}
    values.update(changes)
    return values


@pytest.fixture
def school(db_session):
    return world.user(db_session, "school")


@pytest.fixture
def other_school(db_session):
    return db_session.scalar(select(User).where(User.email == "staff@charnwoodvalley.example.org"))


@pytest.fixture
def eligible(db_session):
    return new_provider(db_session, status="eligible")


def submit(db_session, school, provider, **changes):
    return placements.save(db_session, school, None, PlacementInput(form(provider, **changes)), KEY, submit=True,
                           today=TODAY)


def test_a_complete_notification_is_stored_minimised_and_the_la_is_told(db_session, school, eligible):
    saved = submit(db_session, school, eligible)
    placement = saved.placement
    assert placement.status == "submitted" and placement.pupil_initials == "JB" and placement.attendance_code == "B"
    assert placement.upn_sha256 == placements.upn_hash("A123456789012", KEY)
    assert "A123456789012" not in repr(vars(placement))  # the UPN itself is never stored
    assert saved.warnings == []
    told = db_session.scalars(select(Notification.user_id).where(Notification.kind == "placement_submitted")).all()
    assert world.user(db_session, "maintainer").id in told


def test_bad_answers_name_their_fields_and_store_nothing(db_session, school, eligible):
    before = db_session.scalar(select(func.count()).select_from(Placement))
    with pytest.raises(Invalid) as refused:
        submit(db_session, school, eligible, end_date=(START - timedelta(days=34)).isoformat(), hours_per_week="45", upn="123", year_group="x",
               contact_email="not an email", pupil_initials="John Smith")
    assert {"end_date", "hours_per_week", "upn", "year_group", "contact_email", "pupil_initials"} <= set(refused.value.details)
    assert db_session.scalar(select(func.count()).select_from(Placement)) == before


def test_a_suspended_provider_is_refused_with_the_reason(db_session, school):
    suspended = new_provider(db_session, status="suspended")
    with pytest.raises(Invalid) as refused:
        submit(db_session, school, suspended)
    assert "Suspended" in refused.value.details["provider_id"][0]


def test_a_conditional_provider_needs_its_conditions_acknowledged(db_session, school):
    conditional = new_provider(db_session, status="conditional")
    conditional.computed_reasons = [{"code": "health_safety_actions_open", "text": "2 open action(s)",
                                     "category": "safety", "safeguarding": False}]
    with pytest.raises(Invalid) as refused:
        submit(db_session, school, conditional)
    assert "acknowledge_conditions" in refused.value.details
    assert placements.conditions(conditional) == ["2 open action(s)"]
    saved = placements.save(db_session, school, None, PlacementInput(form(conditional), acknowledge_conditions=True),
                            KEY, submit=True, today=TODAY)
    assert saved.placement.conditions_acknowledged_at is not None


def test_the_same_pupil_provider_and_dates_cannot_be_notified_twice(db_session, school, eligible):
    submit(db_session, school, eligible)
    with pytest.raises(Conflict) as duplicate:
        submit(db_session, school, eligible, upn="a 1234 5678 9012")  # same UPN, typed differently
    assert duplicate.value.code == "placement.duplicate"
    assert db_session.scalar(select(func.count()).select_from(Placement).where(Placement.provider_id == eligible.id)) == 1


def test_a_later_placement_of_the_same_pupil_links_the_earlier_one(db_session, school, eligible):
    first = submit(db_session, school, eligible).placement
    again = submit(db_session, school, eligible, start_date=(END + timedelta(days=24)).isoformat(),
                   end_date=(END + timedelta(days=112)).isoformat()).placement
    assert again.re_referral_of_id == first.id


def test_drafts_save_incomplete_and_warnings_are_given(db_session, school, eligible):
    draft = placements.save(db_session, school, None, PlacementInput({"pupil_initials": "AB", "hours_per_week": "20",
                                                                      "part_time": "on"}), KEY, submit=False, today=TODAY)
    assert draft.placement.status == "draft"
    assert any("18 hours" in w for w in draft.warnings) and any("Part-time" in w for w in draft.warnings)
    assert any("learning outcomes" in w for w in draft.warnings)
    with pytest.raises(Conflict):
        placements.save(db_session, school, draft.placement.id, PlacementInput({"pupil_initials": "CD"}), KEY,
                        submit=False, today=TODAY, expected_version=draft.placement.version - 1)


def test_another_school_cannot_read_or_edit_and_reads_are_logged(db_session, school, other_school, eligible):
    placement = submit(db_session, school, eligible).placement
    with pytest.raises(NotFound):
        placements.read(db_session, other_school, placement.id)
    with pytest.raises(NotFound):
        placements.save(db_session, other_school, placement.id, PlacementInput({}), KEY, submit=False, today=TODAY)
    with pytest.raises(Forbidden):
        db_session.scalars(placements.visible(db_session, world.user(db_session, "auditor"))).all()
    assert placements.read(db_session, world.user(db_session, "maintainer"), placement.id) is placement
    assert db_session.scalar(select(func.count()).select_from(AuditLogEntry).where(
        AuditLogEntry.action == "placement.viewed", AuditLogEntry.entity_id == str(placement.id))) == 1
    mine = db_session.scalars(placements.visible(db_session, other_school)).all()
    assert placement not in mine


def test_reviews_outcomes_and_purge(db_session, school, eligible):
    placement = submit(db_session, school, eligible).placement
    with pytest.raises(Invalid):
        placements.add_review(db_session, school, placement.id, START + timedelta(days=37), " ", None)
    placements.add_review(db_session, school, placement.id, START + timedelta(days=37), "Settled well",
                          START + timedelta(days=75))
    with pytest.raises(Invalid):
        placements.end(db_session, school, placement.id, "returned_full_time", START - timedelta(days=368), None)
    placements.end(db_session, school, placement.id, "returned_full_time", END, "Back full time")
    assert placements.purge(db_session, None, END, dry_run=False) == []
    listed = placements.purge(db_session, None, END + timedelta(days=1000), dry_run=True)
    assert placement.id in listed and placement.pupil_initials == "JB"  # a dry run changes nothing
    placements.purge(db_session, None, END + timedelta(days=1000), dry_run=False)
    assert placement.pupil_initials is None and placement.upn_sha256 is None and placement.child_voice.startswith("[")
    assert placement.learning_outcomes is not None and placement.provider_id == eligible.id


def test_schools_with_running_placements_hear_when_the_provider_is_suspended(db_session, school, eligible):
    from auditapp.services import rollup
    from auditapp.services.decisions import Decision, decide
    from .directory_helpers import in_date
    in_date(db_session, eligible)
    rollup.recompute(db_session, [eligible.id], TODAY, "rollup")
    submit(db_session, school, eligible)
    decide(db_session, world.user(db_session, "maintainer"),
           Decision(eligible.id, "suspend", "Serious incident reported", eligible.version), TODAY)
    told = db_session.scalars(select(Notification).where(Notification.kind == "placement_affected",
                                                         Notification.provider_id == eligible.id)).all()
    assert [n.user_id for n in told] == [school.id] and "Suspended" in told[0].title


def test_one_roll_up_over_many_providers_tells_each_its_own_watchers_and_schools(db_session, school, other_school):
    from sqlalchemy import event

    from auditapp.models import Watch
    from auditapp.services import rollup
    from .directory_helpers import concern, in_date, new_provider
    # Given two listed providers: one watched by a school, one where another school has a pupil placed
    watched, placed = new_provider(db_session), new_provider(db_session)
    for provider in (watched, placed):
        in_date(db_session, provider)
    rollup.recompute(db_session, [watched.id, placed.id], TODAY, "rollup")
    db_session.add(Watch(user_id=other_school.id, provider_id=watched.id))
    submit(db_session, school, placed)
    for provider in (watched, placed):
        concern(db_session, provider)
    db_session.flush()
    statements: list[str] = []
    event.listen(db_session.connection(), "before_cursor_execute", lambda *args: statements.append(args[2]))
    # When one recompute drops both
    rollup.recompute(db_session, [watched.id, placed.id], TODAY, "concern")
    db_session.flush()
    # Then each provider's own watcher and school are told, and nobody about the other provider
    told = db_session.execute(select(Notification.user_id, Notification.provider_id, Notification.kind).where(
        Notification.provider_id.in_([watched.id, placed.id]),
        Notification.kind.in_(("status_changed", "placement_affected")))).all()
    assert sorted(told) == sorted([(other_school.id, watched.id, "status_changed"),
                                   (school.id, placed.id, "placement_affected")])
    # And the watchers of both were read in one statement, not one per provider
    assert sum(" watches" in s for s in statements) == 1, statements
