"""Action plans on PostgreSQL: confirmed at review (proposed → open) by a reviewer only, reported done
by the provider (never closing), verified with a note and evidence by the audit's auditor or a
maintainer, overdue after the due date (at read time and by `mark_overdue`); every change logged."""
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from auditapp.models import Action, AuditLogEntry, ChangeLogEntry, Evidence
from auditapp.services import actions
from auditapp.services.errors import Conflict, Forbidden, Invalid, NotFound

from . import report_helpers as rh
from . import world
from .review_helpers import CITY_TEACHER, LEAD, by_email, sign_in

VERSION_FIELD = re.compile(r'name="version-([0-9a-f-]+)" value="(\d+)"')


def _log(db_session, action_id, what=None):
    query = select(AuditLogEntry).where(AuditLogEntry.entity == "action", AuditLogEntry.entity_id == str(action_id))
    if what:
        query = query.where(AuditLogEntry.action == what)
    return db_session.scalars(query.order_by(AuditLogEntry.id)).all()


def _post(client, auth, path, data, htmx=False):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(path, data={"csrf_token": auth.csrf("/"), **data}, headers=headers)


@pytest.fixture
def submitted(app, db_session):
    return rh.submitted_with_actions(db_session, app)


@pytest.fixture
def finalised(app, db_session):
    return rh.finalised_with_actions(db_session, app)


# ---- confirm at review -------------------------------------------------------------------------

def test_the_lead_reviewer_confirms_proposed_actions_and_they_open(db_session, submitted):
    before = rh.actions_of(db_session, submitted)
    assert {a.status for a in before.values()} == {"proposed"}
    versions = {key: a.version for key, a in before.items()}
    changed = rh.confirm_all(db_session, submitted)
    assert {a.item_key for a in changed} == {"SG-1.2", "SG-6.1"}
    for action in changed:
        assert (action.status, action.confirmed_by_id) == ("open", rh.lead(db_session).id)
        assert action.version == versions[action.item_key] + 1
        entry = _log(db_session, action.id, "action.confirm")[0]
        assert (entry.before["status"], entry.after["status"]) == ("proposed", "open")
        # The tablets pull the new state through the change log.
        assert db_session.scalar(select(ChangeLogEntry.version).where(ChangeLogEntry.entity == "action",
                                                                      ChangeLogEntry.entity_id == str(action.id))
                                 .order_by(ChangeLogEntry.id.desc()).limit(1)) == action.version
    assert rh.actions_of(db_session, submitted)["SG-6.1"].priority == "high"


@pytest.mark.parametrize("who", ["auditor", "maintainer", "city_teacher"])
def test_only_a_reviewer_who_is_not_the_author_may_confirm(db_session, submitted, who):
    actor = by_email(db_session, CITY_TEACHER) if who == "city_teacher" else world.user(db_session, who)
    action = rh.actions_of(db_session, submitted)["SG-1.2"]
    with pytest.raises(Forbidden) as caught:
        actions.confirm_actions(db_session, actor, submitted, [
            actions.ActionConfirmation(action.id, "Manager", action.due_date, "normal")])
    assert caught.value.code == "review.not_reviewer"
    assert db_session.get(Action, action.id).status == "proposed"


def test_confirming_outside_review_is_refused(db_session, finalised):
    action = rh.actions_of(db_session, finalised)["SG-1.2"]
    with pytest.raises(Conflict) as caught:
        actions.confirm_actions(db_session, rh.lead(db_session), finalised, [
            actions.ActionConfirmation(action.id, "Manager", action.due_date, "normal")])
    assert caught.value.code == "audit.not_under_review"


def test_confirm_form_over_http_opens_the_actions(client, auth, db_session, submitted):
    sign_in(auth, LEAD)
    page = client.get(f"/audits/{submitted.id}/actions/confirm")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    versions = dict(VERSION_FIELD.findall(html))
    assert len(versions) == 2
    data = {"action_id": list(versions)}
    for action_id, version in versions.items():
        action = db_session.get(Action, uuid.UUID(action_id))
        data |= {f"version-{action_id}": version, f"owner_role-{action_id}": "Centre manager",
                 f"due_date-{action_id}": action.due_date.isoformat(), f"priority-{action_id}": "immediate",
                 f"description-{action_id}": action.description}
    response = _post(client, auth, f"/audits/{submitted.id}/actions/confirm", data, htmx=True)
    assert response.status_code == 200
    assert "The actions are confirmed" in response.get_data(as_text=True)
    db_session.expire_all()
    rows = rh.actions_of(db_session, submitted).values()
    assert {(a.status, a.owner_role, a.priority) for a in rows} == {("open", "Centre manager", "immediate")}


def test_bad_confirmation_answers_422_with_the_fields_and_changes_nothing(client, auth, db_session, submitted):
    sign_in(auth, LEAD)
    html = client.get(f"/audits/{submitted.id}/actions/confirm").get_data(as_text=True)
    versions = dict(VERSION_FIELD.findall(html))
    action_id = next(iter(versions))
    before = db_session.get(Action, uuid.UUID(action_id))
    too_early = (submitted.visit.visit_date - timedelta(days=1)).isoformat()
    response = _post(client, auth, f"/audits/{submitted.id}/actions/confirm", {
        "action_id": action_id, f"version-{action_id}": versions[action_id], f"owner_role-{action_id}": "  ",
        f"due_date-{action_id}": too_early, f"priority-{action_id}": "normal"}, htmx=True)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="confirm-actions"' in body and "There is a problem" in body
    assert "Enter who at the provider owns the action" in body
    assert "must be on or after the visit" in body
    response = _post(client, auth, f"/audits/{submitted.id}/actions/confirm", {
        "action_id": action_id, f"version-{action_id}": versions[action_id], f"owner_role-{action_id}": "Manager",
        f"due_date-{action_id}": "31/02/2027", f"priority-{action_id}": "soon"}, htmx=True)
    assert response.status_code == 422
    assert "Enter a real date" in response.get_data(as_text=True)
    assert "Choose a priority" in response.get_data(as_text=True)
    db_session.expire_all()
    after = db_session.get(Action, before.id)
    assert (after.status, after.owner_role, after.version) == ("proposed", "Designated safeguarding lead", before.version)


def test_a_stale_confirmation_is_refused_and_shows_what_changed(client, auth, db_session, submitted):
    sign_in(auth, LEAD)
    html = client.get(f"/audits/{submitted.id}/actions/confirm").get_data(as_text=True)
    versions = dict(VERSION_FIELD.findall(html))
    action_id = next(iter(versions))
    action = db_session.get(Action, uuid.UUID(action_id))
    # Meanwhile another reviewer confirms it with another owner.
    actions.confirm_actions(db_session, rh.lead(db_session), submitted, [
        actions.ActionConfirmation(action.id, "Trustee board", action.due_date, "high")])
    db_session.flush()
    response = _post(client, auth, f"/audits/{submitted.id}/actions/confirm", {
        "action_id": action_id, f"version-{action_id}": versions[action_id], f"owner_role-{action_id}": "Manager",
        f"due_date-{action_id}": action.due_date.isoformat(), f"priority-{action_id}": "normal"}, htmx=True)
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert "Nothing was saved" in body and "Trustee board" in body
    db_session.expire_all()
    assert db_session.get(Action, action.id).owner_role == "Trustee board"


# ---- follow-up after finalisation --------------------------------------------------------------

def test_provider_reported_done_never_closes_an_action(db_session, finalised):
    action = rh.actions_of(db_session, finalised)["SG-1.2"]
    done = actions.report_provider_done(db_session, world.user(db_session, "maintainer"), action.id, "Emailed us")
    assert done.status == "provider_done" and done.provider_reported_at is not None
    assert done.status in actions.STILL_OPEN and done.verified_at is None
    entry = _log(db_session, action.id, "action.provider_reported_done")[0]
    assert entry.after == {"status": "provider_done", "note": "Emailed us"}
    # Past its due date it is overdue all the same: only verification closes it.
    late = action.due_date + timedelta(days=1)
    assert actions.effective_status(done, late) == "overdue"
    with pytest.raises(Conflict):
        actions.report_provider_done(db_session, world.user(db_session, "maintainer"), action.id)


def test_verification_needs_a_note_and_a_verified_evidence_item(db_session, finalised):
    action = rh.actions_of(db_session, finalised)["SG-1.2"]
    auditor = world.user(db_session, "auditor")
    with pytest.raises(Invalid) as caught:
        actions.verify_action(db_session, auditor, action.id, "  ", None)
    assert set(caught.value.details) == {"note", "evidence_id"}
    other = uuid.uuid4()
    with pytest.raises(Invalid) as caught:
        actions.verify_action(db_session, auditor, action.id, "Checked", other)
    assert set(caught.value.details) == {"evidence_id"}
    assert db_session.get(Action, action.id).status == "open"
    choices = actions.verification_evidence(db_session, action)
    assert [e.item_key for e in choices] == ["SG-1.2"] and choices[0].status == "verified"
    closed = actions.verify_action(db_session, auditor, action.id, "Saw the new policy dated this month", choices[0].id)
    assert (closed.status, closed.verified_by_id, closed.verification_evidence_id) == (
        "verified_closed", auditor.id, choices[0].id)
    assert _log(db_session, action.id, "action.verify")[0].after["evidence_id"] == str(choices[0].id)
    assert actions.effective_status(closed, closed.due_date + timedelta(days=100)) == "verified_closed"


@pytest.mark.parametrize("who, allowed", [("auditor", True), ("maintainer", True), ("qoe_teacher", NotFound),
                                          ("lead", Forbidden)])
def test_only_the_audits_auditor_or_a_maintainer_follows_up(db_session, finalised, who, allowed):
    """The lead reviewer sees the plan but may not follow it up (403); a QoE teacher may not see a safeguarding
    audit's plan at all, so its action answers as if it did not exist (404)."""
    actor = rh.lead(db_session) if who == "lead" else world.user(db_session, who)
    action = rh.actions_of(db_session, finalised)["SG-6.1"]
    if allowed is True:
        assert actions.report_provider_done(db_session, actor, action.id).status == "provider_done"
    else:
        with pytest.raises(allowed):
            actions.report_provider_done(db_session, actor, action.id)


def test_follow_up_waits_for_finalisation(db_session, submitted):
    rh.confirm_all(db_session, submitted)
    action = rh.actions_of(db_session, submitted)["SG-1.2"]
    with pytest.raises(Conflict) as caught:
        actions.report_provider_done(db_session, world.user(db_session, "maintainer"), action.id)
    assert caught.value.code == "action.audit_not_finalised"


def test_overdue_at_read_time_and_stored_by_mark_overdue(db_session, finalised):
    rows = rh.actions_of(db_session, finalised)
    first_due = min(a.due_date for a in rows.values())
    assert actions.effective_status(rows["SG-6.1"], first_due) == "open"  # due today is still in time
    assert actions.effective_status(rows["SG-6.1"], first_due + timedelta(days=1)) == "overdue"
    changed = actions.mark_overdue(db_session, first_due + timedelta(days=1))
    assert [a.item_key for a in changed] == ["SG-6.1"]  # SG-1.2 is due two weeks later
    assert db_session.get(Action, rows["SG-6.1"].id).status == "overdue"
    entry = _log(db_session, rows["SG-6.1"].id, "action.overdue")[0]
    assert entry.actor_id is None and entry.after["status"] == "overdue"
    assert actions.mark_overdue(db_session, first_due + timedelta(days=1)) == []  # idempotent
    # An overdue action can still be verified and closed.
    evidence = db_session.scalar(select(Evidence).where(Evidence.audit_id == finalised.id))
    closed = actions.verify_action(db_session, world.user(db_session, "maintainer"), rows["SG-6.1"].id,
                                   "Visitor book now in use", evidence.id)
    assert closed.status == "verified_closed"


def test_plan_page_follow_up_forms_over_http(client, auth, db_session, finalised):
    auth.login("auditor")
    rows = rh.actions_of(db_session, finalised)
    page = client.get(f"/audits/{finalised.id}/actions")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Verify and close" in html and "Put right SG-6.1" in html
    bad = _post(client, auth, f"/actions/{rows['SG-6.1'].id}/verify", {"note": "", "evidence_id": ""}, htmx=True)
    assert bad.status_code == 422
    body = bad.get_data(as_text=True)
    assert f'id="action-{rows["SG-6.1"].id}"' in body and "Say what you checked" in body
    evidence = db_session.scalar(select(Evidence).where(Evidence.audit_id == finalised.id))
    good = _post(client, auth, f"/actions/{rows['SG-6.1'].id}/verify",
                 {"note": "Visitor book in use", "evidence_id": str(evidence.id)}, htmx=True)
    assert good.status_code == 200 and "Verified and closed" in good.get_data(as_text=True)
    plain = _post(client, auth, f"/actions/{rows['SG-1.2'].id}/provider-done", {"note": "Phoned"})
    assert plain.status_code == 303
    db_session.expire_all()
    assert db_session.get(Action, rows["SG-1.2"].id).status == "provider_done"


def test_school_and_unrelated_users_never_see_the_plan(client, auth, db_session, finalised):
    auth.login("school")
    assert client.get(f"/audits/{finalised.id}/actions").status_code == 403
    auth.logout()
    sign_in(auth, CITY_TEACHER)  # a QoE teacher: a safeguarding audit's outcome only (need to know), no plan
    response = client.get(f"/audits/{finalised.id}/actions")
    assert response.status_code == 404 and "Put right SG-6.1" not in response.get_data(as_text=True)
    action = rh.actions_of(db_session, finalised)["SG-6.1"]
    assert _post(client, auth, f"/actions/{action.id}/provider-done", {}).status_code == 404
