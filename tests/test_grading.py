"""QoE grading and moderation: the overall-grade guards, who may moderate, stale forms, frozen
audits, what finalising needs, the queues and the pages (HTTP on PostgreSQL, each test rolled back).

The world holds two submitted QE audits by the city teacher (services/grading_demo.py): Abbey Park
(Leicester City) with no grades, and Nurture Hub (Leicestershire County) graded Secure throughout,
not moderated. The world's QoE teacher is the county teacher.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from auditapp.grading_queries import week_start
from auditapp.models import AuditLogEntry, Organisation, QoeGrade
from auditapp.services import grading
from auditapp.services.errors import Conflict, Forbidden, Invalid
from auditapp.services.grading import AreaGrade, Moderation, finalise_blockers

from . import world
from .grading_helpers import (AREAS, agree_all, grade_all, grades, graded_world_audit, teacher,
                              ungraded_world_audit)

COUNTY_TEACHER = world.EMAIL["qoe_teacher"]


@pytest.fixture
def taylor(db_session):
    return teacher(db_session)


@pytest.fixture
def tomas(db_session):
    return teacher(db_session, COUNTY_TEACHER)


def _rows(session, audit) -> dict[str, QoeGrade]:
    session.expire_all()
    return {g.area: g for g in session.scalars(select(QoeGrade).where(QoeGrade.audit_id == audit.id))}


def _log(session, action: str, audit) -> list[AuditLogEntry]:
    return list(session.scalars(select(AuditLogEntry).where(AuditLogEntry.action == action,
                                                             AuditLogEntry.entity_id == str(audit.id))
                                .order_by(AuditLogEntry.id)))


def _form(auth, path: str, fields: dict) -> dict:
    return {"csrf_token": auth.csrf(path), **fields}


def _grade_fields(by_area: dict[str, str], versions: dict[str, int] | None = None) -> dict:
    fields = {}
    for area, grade in by_area.items():
        fields |= {f"grade-{area}": grade, f"rationale-{area}": f"Because of {area}",
                   f"version-{area}": (versions or {}).get(area, 0)}
    return fields


# ---- the guards on the overall grade (audit-templates.md §1.4) ----------------------------------

GUARDS = [  # area grades (QA-1 first, the rest), overall, allowed?
    ("strong", "strong", "strong", True),
    ("secure", "secure", "strong", True),  # Secure is not below Secure
    ("developing", "strong", "strong", False),  # an area below Secure: not Strong
    ("developing", "strong", "secure", True),
    ("weak", "strong", "secure", False),  # an area Weak: not above Developing
    ("weak", "strong", "strong", False),
    ("weak", "strong", "developing", True),
    ("weak", "weak", "weak", True),
    ("weak", "weak", "developing", True),
]


@pytest.mark.parametrize("first, rest, overall, allowed", GUARDS)
def test_overall_grade_guards(db_session, taylor, first, rest, overall, allowed):
    audit = ungraded_world_audit(db_session)
    changes = grades(audit.id, {"QA-1": first} | {a: rest for a in AREAS[1:]} | {"overall": overall})
    if allowed:
        grading.record_grades(db_session, taylor, changes)
        assert _rows(db_session, audit)["overall"].grade == overall
    else:
        with pytest.raises(Invalid) as refused:
            grading.record_grades(db_session, taylor, changes)
        assert "grade-overall" in refused.value.details and "at best" in refused.value.details["grade-overall"][0]
        db_session.rollback()
        assert _rows(db_session, audit) == {}  # all or nothing


def test_a_template_version_may_carry_its_own_guards(db_session, taylor):
    audit = ungraded_world_audit(db_session)
    sheet = grading.load_sheet(db_session, audit.id)
    strict = grading.Sheet(sheet.audit, sheet.areas, sheet.grades, {}, (("secure", "developing"),))
    assert grading.guard_problems(strict, {"QA-1": "secure", "overall": "secure"})
    assert grading.guard_problems(sheet, {"QA-1": "secure", "overall": "secure"}) == []


def test_the_overall_grade_waits_for_every_area(db_session, taylor):
    audit = ungraded_world_audit(db_session)
    with pytest.raises(Invalid) as refused:
        grading.record_grades(db_session, taylor, grades(audit.id, {"QA-1": "secure", "overall": "secure"}))
    assert "must be graded before the overall grade" in refused.value.details["grade-overall"][0]


# ---- moderation ------------------------------------------------------------------------------

def test_moderating_ones_own_grade_is_refused(db_session, tomas):
    audit = ungraded_world_audit(db_session)
    audit.created_by_id = teacher(db_session, world.EMAIL["admin"]).id  # neither teacher carried it out
    grade_all(db_session, tomas, audit)
    with pytest.raises(Forbidden) as refused:
        grading.moderate_grades(db_session, tomas, [Moderation(audit.id, "QA-1", "agreed", None, "", 1)])
    assert refused.value.code == "grading.own_grade"
    assert _rows(db_session, audit)["QA-1"].moderation is None


def test_the_teacher_who_carried_out_the_audit_cannot_moderate_its_grades(db_session, taylor, tomas):
    audit = ungraded_world_audit(db_session)  # carried out by Taylor
    grade_all(db_session, tomas, audit)
    with pytest.raises(Forbidden, match="second teacher"):
        grading.moderate_grades(db_session, taylor, [Moderation(audit.id, "QA-2", "agreed", None, "", 1)])


def test_the_database_refuses_a_moderator_who_is_the_grader(db_session, taylor):
    row = _rows(db_session, graded_world_audit(db_session))["QA-1"]
    with pytest.raises(IntegrityError, match="moderator_not_grader"):
        db_session.execute(text("UPDATE qoe_grades SET moderation = 'agreed', moderated_grade = grade, "
                                "moderated_by_id = graded_by_id WHERE id = :id"), {"id": row.id})


def test_a_changed_grade_needs_a_reason_and_a_different_grade(db_session, tomas):
    audit = graded_world_audit(db_session)
    with pytest.raises(Invalid) as no_reason:
        grading.moderate_grades(db_session, tomas, [Moderation(audit.id, "QA-1", "changed", "developing", " ", 1)])
    assert no_reason.value.details == {"reason-QA-1": ["Give the reason for changing the Curriculum grade"]}
    with pytest.raises(Invalid) as same:
        grading.moderate_grades(db_session, tomas, [Moderation(audit.id, "QA-1", "changed", "secure", "Why", 1)])
    assert "different grade" in same.value.details["moderation-QA-1"][0]
    assert _rows(db_session, audit)["QA-1"].moderation is None


def test_the_moderated_grade_is_the_one_that_counts(db_session, tomas):
    audit = graded_world_audit(db_session)
    grading.moderate_grades(db_session, tomas, [Moderation(audit.id, "QA-3", "changed", "developing",
                                                           "Teaching misses SEND needs", 1)])
    sheet = grading.load_sheet(db_session, audit.id)
    assert (sheet.rows["QA-3"].grade, sheet.counting("QA-3")) == ("secure", "developing")
    assert sheet.counting("QA-1") == "secure"  # provisional until moderated
    entry = _log(db_session, "qoe.moderate", audit)[0]
    expected = {"area": "QA-3", "moderation": "changed", "moderated_grade": "developing",
                "moderation_reason": "Teaching misses SEND needs", "moderated_by_id": tomas.id}
    assert entry.before["moderation"] is None and {k: entry.after[k] for k in expected} == expected


def test_a_moderated_overall_must_respect_the_moderated_areas(db_session, tomas):
    audit = graded_world_audit(db_session)
    decisions = [Moderation(audit.id, a, "agreed", None, "", 1) for a in AREAS[1:]]
    decisions.append(Moderation(audit.id, "QA-1", "changed", "weak", "No curriculum plans at all", 1))
    decisions.append(Moderation(audit.id, "overall", "agreed", None, "", 1))
    with pytest.raises(Invalid) as refused:
        grading.moderate_grades(db_session, tomas, decisions)
    assert "Developing at best" in refused.value.details["moderation-overall"][0]
    decisions[-1] = Moderation(audit.id, "overall", "changed", "developing", "Curriculum is weak", 1)
    grading.moderate_grades(db_session, tomas, decisions)
    assert finalise_blockers(db_session, audit) == []


def test_regrading_a_moderated_area_clears_its_moderation(db_session, taylor, tomas):
    audit = graded_world_audit(db_session)
    agree_all(db_session, tomas, audit)
    grading.record_grades(db_session, taylor, [AreaGrade(audit.id, "QA-2", "strong", "New evidence", 2)])
    row = _rows(db_session, audit)["QA-2"]
    assert (row.grade, row.moderation, row.moderated_by_id, row.version) == ("strong", None, None, 3)
    assert finalise_blockers(db_session, audit) == [
        "QoE judgement area “Admissions and individual planning”: not yet moderated by a second QoE teacher"]


# ---- stale forms and frozen audits -----------------------------------------------------------

def test_a_stale_grading_form_gets_409_with_what_changed_and_no_change(client, auth, db_session, taylor):
    audit = ungraded_world_audit(db_session)
    auth.login("qoe_teacher")
    path = f"/grading/{audit.id}"
    assert client.get(path).status_code == 200  # the county teacher opens the empty form (version 0)
    grading.record_grades(db_session, taylor, grades(audit.id, {"QA-1": "weak"}))  # the city teacher saves first
    db_session.commit()
    response = client.post(path, data=_form(auth, path, _grade_fields({"QA-1": "secure"})),
                           headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert body.lstrip().startswith('<div id="grade-form">') and "Nothing was saved" in body
    assert "Curriculum is now graded Weak" in body
    assert 'name="version-QA-1" value="1"' in body  # the form now carries what the teacher has seen
    assert _rows(db_session, audit)["QA-1"].grade == "weak"


def test_resaving_what_is_already_stored_from_a_stale_form_changes_nothing(db_session, taylor, tomas):
    audit = graded_world_audit(db_session)
    stored = _rows(db_session, audit)["QA-1"]
    same = AreaGrade(audit.id, "QA-1", stored.grade, stored.rationale, base_version=0)  # drawn before she graded
    assert grading.record_grades(db_session, tomas, [same]) == []
    row = _rows(db_session, audit)["QA-1"]
    assert (row.graded_by_id, row.version) == (taylor.id, 1)
    assert {e.actor_id for e in _log(db_session, "qoe.grade", audit)} == {taylor.id}  # only her own grading


def test_a_stale_moderation_is_refused(db_session, taylor, tomas):
    audit = graded_world_audit(db_session)
    grading.record_grades(db_session, taylor, [AreaGrade(audit.id, "QA-4", "developing", "Tracking is patchy", 1)])
    with pytest.raises(Conflict) as stale:
        grading.moderate_grades(db_session, tomas, [Moderation(audit.id, "QA-4", "agreed", None, "", 1)])
    assert stale.value.code == "grading.stale"
    assert stale.value.details == {"changed": ["Progress, reporting and voice is now graded Developing"]}


@pytest.mark.parametrize("status", ["finalised", "draft", "returned"])
def test_grades_change_only_while_the_audit_is_submitted(client, auth, db_session, status):
    audit = graded_world_audit(db_session)
    audit.status = status
    db_session.commit()
    auth.login("qoe_teacher")
    path = f"/grading/{audit.id}/moderation"
    response = client.post(path, data=_form(auth, path, {"moderation-QA-1": "agreed", "version-QA-1": 1}))
    assert response.status_code == 409
    assert "cannot be graded or moderated" in response.get_data(as_text=True)
    assert _rows(db_session, audit)["QA-1"].moderation is None
    with pytest.raises(Conflict, match="grading.audit_not_submitted|cannot be graded"):
        grading.record_grades(db_session, teacher(db_session), grades(audit.id, {"QA-1": "weak"}, base=1))


def test_a_finalised_audits_grading_page_is_read_only(client, auth, db_session):
    audit = graded_world_audit(db_session)
    audit.status = "finalised"
    db_session.commit()
    auth.login("qoe_teacher")
    body = client.get(f"/grading/{audit.id}").get_data(as_text=True)
    assert "its grades can no longer change" in body and "<form method=\"post\" action=\"/grading/" not in body


# ---- what finalising needs -------------------------------------------------------------------

def test_finalise_blockers_are_empty_for_other_audit_types(db_session):
    audit = graded_world_audit(db_session)
    audit.audit_type = "safeguarding"  # in memory only: the function reads the type
    assert finalise_blockers(db_session, audit) == []
    db_session.rollback()


def test_finalise_blockers_name_every_missing_grade_then_every_missing_moderation(db_session, tomas):
    ungraded, graded = ungraded_world_audit(db_session), graded_world_audit(db_session)
    missing = finalise_blockers(db_session, ungraded)
    assert len(missing) == 8 and missing[0] == "QoE judgement area “Curriculum”: not graded yet"
    assert missing[-1] == "Overall grade: not graded yet"
    unmoderated = finalise_blockers(db_session, graded)
    assert len(unmoderated) == 8 and all("not yet moderated by a second QoE teacher" in b for b in unmoderated)
    agree_all(db_session, tomas, graded)
    assert finalise_blockers(db_session, graded) == []


def test_finalise_blockers_report_a_broken_guard(db_session, taylor, tomas):
    audit = graded_world_audit(db_session)
    agree_all(db_session, tomas, audit)
    # The grader lowers an area after the overall was moderated; the moderator agrees with it.
    grading.record_grades(db_session, taylor, [AreaGrade(audit.id, "QA-6", "weak", "No exit plans", 2)])
    grading.moderate_grades(db_session, tomas, [Moderation(audit.id, "QA-6", "agreed", None, "", 3)])
    assert finalise_blockers(db_session, audit) == [
        "The overall grade cannot be Secure while Transition and exit is graded Weak: it can be Developing at best"]


# ---- who may grade ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["school", "auditor", "maintainer", "admin"])
def test_only_qoe_teachers_grade_or_moderate(client, auth, db_session, role):
    audit = graded_world_audit(db_session)
    actor = world.user(db_session, role)
    with pytest.raises(Forbidden):
        grading.record_grades(db_session, actor, grades(audit.id, {"QA-1": "weak"}, base=1))
    with pytest.raises(Forbidden):
        grading.moderate_grades(db_session, actor, [Moderation(audit.id, "QA-1", "agreed", None, "", 1)])
    auth.login(role)
    for path in (f"/grading/{audit.id}", f"/grading/{audit.id}/moderation"):
        response = client.post(path, data=_form(auth, "/", _grade_fields({"QA-1": "weak"}, {"QA-1": 1})))
        assert response.status_code == 403
    assert _rows(db_session, audit)["QA-1"].grade == "secure"


@pytest.mark.parametrize("role", ["school", "auditor"])
def test_schools_and_auditors_see_no_grading_page(client, auth, db_session, role):
    audit = graded_world_audit(db_session)
    auth.login(role)
    for path in ("/grading/", f"/grading/{audit.id}", f"/grading/{audit.id}/moderation", "/finalised-this-week"):
        response = client.get(path)
        assert response.status_code == 403 and "Secure for" not in response.get_data(as_text=True)


def test_a_safeguarding_audit_has_no_grading_page(client, auth, db_session):
    audit = graded_world_audit(db_session)
    db_session.execute(text("UPDATE audits SET audit_type = 'safeguarding' WHERE id = :id"), {"id": audit.id})
    db_session.commit()
    auth.login("qoe_teacher")
    assert client.get(f"/grading/{audit.id}").status_code == 404


# ---- the pages -------------------------------------------------------------------------------

def test_grading_by_form_saves_logs_and_shows_provisional_grades(client, auth, db_session, tomas):
    audit = ungraded_world_audit(db_session)
    auth.login("qoe_teacher")
    path = f"/grading/{audit.id}"
    page = client.get(path).get_data(as_text=True)
    assert "Education suits the learners placed" in page  # the Secure descriptor, as a hint
    assert "Items and ratings in Curriculum (5)" in page and "QE-1.1" in page
    fields = _grade_fields({a: "secure" for a in AREAS} | {"overall": "secure"})
    response = client.post(path, data=_form(auth, path, fields))
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{path}?saved=8")
    rows = _rows(db_session, audit)
    assert {r.grade for r in rows.values()} == {"secure"} and {r.graded_by_id for r in rows.values()} == {tomas.id}
    assert len(_log(db_session, "qoe.grade", audit)) == 8
    assert "8 changes saved" in client.get(f"{path}?saved=8").get_data(as_text=True)


@pytest.mark.parametrize("fields, field, message", [
    ({"grade-QA-1": "secure"}, "rationale-QA-1", "Give the reasons for the Curriculum grade"),
    ({"rationale-QA-2": "Good plans"}, "grade-QA-2", "Choose a grade for Admissions and individual planning"),
    ({"grade-QA-1": "outstanding", "rationale-QA-1": "x"}, "grade-QA-1", "Choose a grade for Curriculum"),
    ({}, "grade-QA-1", "Choose a grade for at least one judgement area"),
    ({"grade-QA-1": "secure", "rationale-QA-1": "x", "version-QA-1": "abc"}, "version-QA-1", "Reload the page"),
])
def test_bad_grades_get_the_form_back_with_422_and_nothing_stored(client, auth, db_session, fields, field, message):
    audit = ungraded_world_audit(db_session)
    auth.login("qoe_teacher")
    path = f"/grading/{audit.id}"
    response = client.post(path, data=_form(auth, path, fields), headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and body.lstrip().startswith('<div id="grade-form">')
    assert f'href="#{field}"' in body and message in body
    assert "HX-Request" in response.headers["Vary"]
    assert _rows(db_session, audit) == {}


def test_moderating_by_form_agrees_and_changes_with_a_reason(client, auth, db_session, tomas):
    audit = graded_world_audit(db_session)
    auth.login("qoe_teacher")
    path = f"/grading/{audit.id}/moderation"
    page = client.get(path).get_data(as_text=True)
    assert "Agree: Secure" in page and "Change to Developing" in page and "Provisional" in page
    fields = {f"moderation-{a}": "agreed" for a in AREAS} | {f"version-{a}": 1 for a in AREAS + ["overall"]}
    fields |= {"moderation-QA-7": "developing", "reason-QA-7": "Supervision records missing",
               "moderation-overall": "agreed"}
    response = client.post(path, data=_form(auth, path, fields), headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "8 changes saved" in body and "grading is complete" in body
    rows = _rows(db_session, audit)
    assert rows["QA-7"].moderated_grade == "developing" and rows["QA-1"].moderation == "agreed"
    assert {r.moderated_by_id for r in rows.values()} == {tomas.id}
    assert len(_log(db_session, "qoe.moderate", audit)) == 8


def test_a_change_without_a_reason_gets_422_by_form(client, auth, db_session):
    audit = graded_world_audit(db_session)
    auth.login("qoe_teacher")
    path = f"/grading/{audit.id}/moderation"
    response = client.post(path, data=_form(auth, path, {"moderation-QA-1": "weak", "version-QA-1": 1}),
                           headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and 'href="#reason-QA-1"' in body
    assert 'value="weak" checked' in body  # what was chosen is kept
    assert _rows(db_session, audit)["QA-1"].moderation is None


def test_the_author_sees_no_moderation_form(client, auth, db_session):
    audit = graded_world_audit(db_session)
    client.post("/sign-in", data={"email": teacher(db_session).email, "password": world.PASSWORD,
                                  "csrf_token": auth.csrf()})
    body = client.get(f"/grading/{audit.id}/moderation").get_data(as_text=True)
    assert "You carried out this audit" in body and 'name="moderation-QA-1"' not in body


# ---- queues ----------------------------------------------------------------------------------

def test_queues_list_visits_to_grade_and_moderations_oldest_first(client, auth, db_session):
    auth.login("qoe_teacher")
    body = client.get("/grading/").get_data(as_text=True)
    to_grade, to_moderate = body.split('id="to-moderate"')
    assert "Abbey Park Boxing Academy CIC" in to_grade and "0 of 8" in to_grade
    assert "Nurture Hub" in to_moderate and "8 of 8" in to_moderate
    home = client.get("/").get_data(as_text=True)
    assert "Visits to grade (1)" in home and "Moderations to do (1)" in home


def test_queue_filters_answer_with_the_fragment_only(client, auth, db_session):
    auth.login("qoe_teacher")
    city = db_session.scalar(select(Organisation.id).where(Organisation.name == "Leicester City Council"))
    response = client.get(f"/grading/?council={city}", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.lstrip().startswith('<div id="grading-queues"')
    assert "Abbey Park" in body and "Nurture Hub" not in body
    mine = client.get("/grading/?show=mine", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Visits to grade (0)" in mine
    bad = client.get("/grading/?council=Rutland", headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "Choose a valid council" in bad.get_data(as_text=True)


def test_moderations_wait_for_complete_grading_and_leave_the_queue_when_done(db_session, tomas, taylor):
    from auditapp.grading_queries import QueueFilters, moderations_to_do, visits_to_grade
    audit = graded_world_audit(db_session)
    assert [r.audit_id for r in moderations_to_do(db_session, tomas, QueueFilters())] == [audit.id]
    assert moderations_to_do(db_session, taylor, QueueFilters()) == []  # she carried it out
    agree_all(db_session, tomas, audit)
    assert moderations_to_do(db_session, tomas, QueueFilters()) == []
    ungraded = ungraded_world_audit(db_session)
    grading.record_grades(db_session, tomas, grades(ungraded.id, {"QA-1": "secure"}))
    assert [r.graded for r in visits_to_grade(db_session, tomas, QueueFilters())] == [1]
    assert moderations_to_do(db_session, taylor, QueueFilters()) == []  # not fully graded yet


def test_maintainers_see_audits_finalised_this_week(client, auth, db_session):
    now = datetime.now(timezone.utc)
    this_week, last_week = graded_world_audit(db_session), ungraded_world_audit(db_session)
    for audit, when in ((this_week, now), (last_week, week_start(now) - timedelta(minutes=1))):
        audit.status, audit.finalised_at, audit.outcome = "finalised", when, "compliant_with_actions"
    db_session.commit()
    auth.login("maintainer")
    body = client.get("/finalised-this-week").get_data(as_text=True)
    assert "Nurture Hub" in body and "Abbey Park" not in body and "Compliant with actions" in body
    assert "Audits finalised this week (1)" in client.get("/").get_data(as_text=True)
    other_type = client.get("/finalised-this-week?audit_type=safeguarding", headers={"HX-Request": "true"})
    assert other_type.get_data(as_text=True).lstrip().startswith('<div id="finalised-audits"')
    assert "0 audits finalised" in other_type.get_data(as_text=True)
    city = db_session.scalar(select(Organisation.id).where(Organisation.name == "Leicester City Council"))
    assert "0 audits finalised" in client.get(f"/finalised-this-week?council={city}").get_data(as_text=True)
    assert client.get("/finalised-this-week?audit_type=cooking").status_code == 422


@pytest.mark.parametrize("now, monday", [
    (datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc), datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)),
    # British Summer Time: Monday 00:00 in London is Sunday 23:00 UTC.
    (datetime(2026, 6, 10, 9, 0, tzinfo=timezone.utc), datetime(2026, 6, 7, 23, 0, tzinfo=timezone.utc)),
    (datetime(2026, 6, 7, 23, 30, tzinfo=timezone.utc), datetime(2026, 6, 7, 23, 0, tzinfo=timezone.utc)),
])
def test_the_week_starts_on_monday_in_london(now, monday):
    assert week_start(now) == monday



def test_a_save_checks_the_locked_row_not_what_the_session_read_earlier():
    """Another teacher's save committed between a page's first read and its locked write is seen."""
    from auditapp.db import bind
    from .conftest import world_database
    binding = bind(world_database("auditapp_grading_race"))
    page, other = binding.sessionmaker(), binding.sessionmaker()
    try:
        audit = graded_world_audit(page)
        grading.load_sheet(page, audit.id)  # the page reads version 1 before the other save commits
        grading.record_grades(other, teacher(other), [AreaGrade(audit.id, "QA-1", "weak", "Nothing planned", 1)])
        other.commit()
        with pytest.raises(Conflict, match="Curriculum is now graded Weak"):
            grading.record_grades(page, teacher(page, COUNTY_TEACHER),
                                  [AreaGrade(audit.id, "QA-1", "strong", "Great plans", 1)])
    finally:
        page.close()
        other.close()
        binding.engine.dispose()


def test_grading_pages_work_on_the_demo_world_of_make_run():
    """The demo world `make run` seeds: a QoE teacher's queues and moderation page, ages and times right."""
    from auditapp.db import bind, db as app_db, session_scope
    from auditapp.migrate import upgrade
    from auditapp.services import demo
    from .conftest import CSRF_RE, _fresh_database, _required_env, make_test_app
    url = _fresh_database(_required_env("TEST_DATABASE_URL"), "auditapp_grading_demo")
    upgrade(url)
    binding = bind(url)
    with session_scope(binding) as session:
        demo.seed_demo(session, {row[0]: world.PASSWORD for row in demo.DEMO_USERS}, today=world.TODAY)
        audit_id = graded_world_audit(session).id
    binding.engine.dispose()
    app = make_test_app(url)
    try:
        client = app.test_client()
        token = CSRF_RE.search(client.get("/sign-in").get_data(as_text=True)).group(1)
        client.post("/sign-in", data={"email": COUNTY_TEACHER, "password": world.PASSWORD, "csrf_token": token})
        queues = client.get("/grading/").get_data(as_text=True)
        assert "Abbey Park" in queues and ">today<" in queues.replace("\n", "").replace(" ", "")
        page = client.get(f"/grading/{audit_id}/moderation")
        assert page.status_code == 200 and "Taylor Teacher, " in page.get_data(as_text=True)
    finally:
        app_db.binding(app).engine.dispose()
