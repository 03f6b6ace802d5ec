"""Maintainers' provider records and the re-audit planner over HTTP on PostgreSQL: create, edit (version
and recompute), attach a site, mark closed, record a trigger, list what needs a re-audit, schedule a
visit that covers the triggers, and the trigger resolved when that visit's audits are finalised."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from auditapp.models import (Audit, AuditLogEntry, Organisation, Provider, ProviderTrigger, Site, Visit,
                             VisitAssignment)
from auditapp.services import rollup
from auditapp.services.audits import audit_id_for
from auditapp.services.templates import latest_version
from auditapp.web.maintainer_pages import today

from . import world
from .directory_helpers import concern, in_date, new_provider

HX = {"HX-Request": "true"}


@pytest.fixture
def listed(db_session):
    provider = new_provider(db_session)
    in_date(db_session, provider, visit_date=today() - timedelta(days=30))
    rollup.recompute(db_session, [provider.id], today(), "rollup")
    db_session.flush()
    return provider


def _record(db_session, **overrides) -> dict:
    city = db_session.scalar(select(Organisation.id).where(Organisation.name == "Leicester City Council"))
    form = {"legal_name": "Aylestone Allotment Learning CIC", "trading_name": "Aylestone Growers",
            "contact_name": "Jo Grower", "contact_email": "jo@aylestone.example.org", "age_min": "11", "age_max": "16",
            "district": "Leicester City", "time_basis": "part_time", "delivery_mode": "in_person",
            "provision_types": ["outdoor", "vocational"], "key_stages": ["KS3", "KS4"], "council_ids": [str(city)],
            "send_specialism": "yes", "cost_per_day": "85.50", "capacity": "6"}
    form.update(overrides)
    return form


def _post(client, auth, path, data, htmx=False):
    return client.post(path, data={"csrf_token": auth.csrf("/"), **data}, headers=HX if htmx else None)


def _logged(db_session, action, entity_id) -> list[AuditLogEntry]:
    return list(db_session.scalars(select(AuditLogEntry).where(AuditLogEntry.action == action,
                                                               AuditLogEntry.entity_id == str(entity_id))
                                   .order_by(AuditLogEntry.id)))


# ---- records ------------------------------------------------------------------------------------

def test_a_maintainer_creates_a_pending_provider_with_its_main_site(client, auth, db_session):
    auth.login("maintainer")
    site = {"site_name": "Allotments", "site_address_line1": "Middleton Street", "site_town": "Leicester",
            "site_postcode": "le2 8lx"}
    response = _post(client, auth, "/maintainers/providers/new", {**_record(db_session), **site}, htmx=True)
    assert response.status_code == 200 and "?done=created" in response.headers["HX-Redirect"]
    provider = db_session.scalar(select(Provider).where(Provider.legal_name == "Aylestone Allotment Learning CIC"))
    assert provider.directory_status == "pending" and provider.computed_status == "pending"
    assert provider.cost_per_day_pence == 8550 and provider.send_specialism and not provider.semh_specialism
    assert sorted(t.provision_type for t in provider.provision_types) == ["outdoor", "vocational"]
    assert [(s.name, s.postcode, s.is_main) for s in provider.sites] == [("Allotments", "LE2 8LX", True)]
    assert _logged(db_session, "provider.create", provider.id)
    assert provider.computed_reasons and provider.computed_rule == "R1"


def test_a_new_provider_with_missing_fields_gets_the_form_back_with_each_field(client, auth, db_session):
    auth.login("maintainer")
    before = db_session.scalar(select(Provider.id).order_by(Provider.id.desc()).limit(1))
    response = _post(client, auth, "/maintainers/providers/new",
                     _record(db_session, legal_name=" ", age_min="twelve", provision_types=[]), htmx=True)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="record-form"' in fragment and "<html" not in fragment
    for message in ("Enter the provider&#39;s legal name", "Enter the youngest age as a whole number from 4 to 19",
                    "Choose at least one type of provision", "Enter the main site&#39;s name"):
        assert message in fragment
    assert db_session.scalar(select(Provider.id).order_by(Provider.id.desc()).limit(1)) == before


def test_service_rules_come_back_as_field_errors_too(client, auth, db_session, listed):
    auth.login("maintainer")
    site = {"site_name": "Hall", "site_address_line1": "1 Road", "site_town": "Leicester",
            "site_postcode": "NOT A CODE"}
    response = _post(client, auth, "/maintainers/providers/new",
                     {**_record(db_session, legal_name=listed.legal_name.upper(), age_min="17", age_max="12",
                                contact_email="not-an-address"), **site})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Another provider already has this legal name" in page and "Ages must be 4 to 19" in page
    assert "Enter an email address in the correct format" in page


def test_editing_a_record_bumps_the_version_logs_before_and_after_and_recomputes(client, auth, db_session, listed):
    auth.login("maintainer")
    form = client.get(f"/maintainers/providers/{listed.id}/edit").get_data(as_text=True)
    assert f'value="{listed.legal_name}"' in form and f'name="version" value="{listed.version}"' in form
    version = listed.version
    data = _record(db_session, legal_name=listed.legal_name, district="Melton", key_stages=["KS4"],
                   semh_specialism="yes", version=str(version))
    response = _post(client, auth, f"/maintainers/providers/{listed.id}/edit", data)
    assert response.status_code == 303
    db_session.refresh(listed)
    assert listed.version == version + 1 and listed.district == "Melton" and listed.semh_specialism
    assert [k.key_stage for k in listed.key_stages] == ["KS4"]
    entry = _logged(db_session, "provider.edit", listed.id)[0]
    assert entry.before["district"] == "Blaby" and entry.after["district"] == "Melton"
    assert entry.after["key_stages"] == ["KS4"] and "legal_name" not in entry.after
    assert listed.computed_at is not None and listed.directory_status == "eligible"


def test_a_stale_edit_says_what_changed_and_saves_nothing(client, auth, db_session, listed):
    auth.login("maintainer")
    seen = listed.version
    concern(db_session, listed)
    rollup.recompute(db_session, [listed.id], today(), "concern")
    db_session.flush()
    data = _record(db_session, legal_name=listed.legal_name, district="Melton", version=str(seen))
    response = _post(client, auth, f"/maintainers/providers/{listed.id}/edit", data, htmx=True)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 409 and "Eligible to Under review" in fragment
    assert f'name="version" value="{listed.version}"' in fragment and 'value="Melton" selected' in fragment
    db_session.refresh(listed)
    assert listed.district == "Blaby" and not _logged(db_session, "provider.edit", listed.id)


def test_attaching_a_site_records_a_new_premises_trigger(client, auth, db_session, listed):
    auth.login("maintainer")
    response = _post(client, auth, f"/maintainers/providers/{listed.id}/sites/new",
                     {"name": "Barn", "address_line1": "Farm Lane", "town": "Blaby", "postcode": "LE84FF",
                      "record_trigger": "yes"})
    assert response.status_code == 303
    site = db_session.scalar(select(Site).where(Site.provider_id == listed.id, Site.name == "Barn"))
    assert site.postcode == "LE8 4FF" and not site.is_main
    trigger = db_session.scalar(select(ProviderTrigger).where(ProviderTrigger.provider_id == listed.id))
    assert trigger.kind == "new_premises" and "Barn" in trigger.note
    db_session.refresh(listed)
    assert listed.directory_status == "eligible"  # a new site leaves the status alone (audit-templates §1.6)
    bad = _post(client, auth, f"/maintainers/providers/{listed.id}/sites/new", {"name": "", "postcode": "12"},
                htmx=True)
    assert bad.status_code == 422 and "Enter the site&#39;s name" in bad.get_data(as_text=True)


def test_marking_a_provider_closed_removes_it_by_a_decision_and_keeps_its_history(client, auth, db_session, listed):
    auth.login("maintainer")
    no_reason = _post(client, auth, f"/maintainers/providers/{listed.id}/close", {"reason": " ",
                                                                                 "version": listed.version})
    assert no_reason.status_code == 422 and listed.closed_at is None
    response = _post(client, auth, f"/maintainers/providers/{listed.id}/close",
                     {"reason": "Stopped trading on 3 March", "version": listed.version})
    assert response.status_code == 303
    db_session.refresh(listed)
    assert listed.directory_status == "removed" and listed.closed_at is not None and not listed.needs_decision
    history = client.get(f"/maintainers/providers/{listed.id}/history").get_data(as_text=True)
    assert "Provider closed: Stopped trading on 3 March" in history
    assert rollup.recompute(db_session, [listed.id], today(), "rollup") == []  # the roll-up leaves it alone


# ---- triggers and the planner -------------------------------------------------------------------

def test_a_new_proprietor_puts_the_provider_under_review_and_in_the_queue(client, auth, db_session, listed):
    auth.login("maintainer")
    bad = _post(client, auth, f"/maintainers/providers/{listed.id}/triggers", {"kind": "new_landlord"}, htmx=True)
    assert bad.status_code == 422 and "Choose what changed" in bad.get_data(as_text=True)
    response = _post(client, auth, f"/maintainers/providers/{listed.id}/triggers",
                     {"kind": "new_proprietor", "note": "Sold to Acme Ltd"}, htmx=True)
    assert "?done=trigger" in response.headers["HX-Redirect"]
    db_session.refresh(listed)
    assert listed.directory_status == "under_review" and listed.needs_decision
    assert any(r["code"] == "change_awaiting_reaudit" for r in listed.computed_reasons)
    assert f'id="queue-{listed.id}"' in client.get("/maintainers/queue").get_data(as_text=True)
    assert _logged(db_session, "provider.trigger", listed.id)


def test_the_planner_lists_expiring_audits_open_triggers_and_recent_concerns(client, auth, db_session, listed):
    expiring, quiet, worried = new_provider(db_session), new_provider(db_session), new_provider(db_session)
    in_date(db_session, expiring, visit_date=today() - timedelta(days=330))  # expires in about 35 days
    in_date(db_session, quiet, visit_date=today() - timedelta(days=30))
    in_date(db_session, worried, visit_date=today() - timedelta(days=30))
    concern(db_session, worried)
    rollup.recompute(db_session, [expiring.id, quiet.id, worried.id], today(), "rollup")
    db_session.flush()
    auth.login("maintainer")
    _post(client, auth, f"/maintainers/providers/{listed.id}/triggers", {"kind": "new_activity"})
    page = client.get("/maintainers/planner").get_data(as_text=True)
    assert f'id="plan-{expiring.id}"' in page and f"Audits expire on {expiring.valid_until:%-d %B %Y}" in page
    assert f'id="plan-{listed.id}"' in page and "Trigger: New hazardous activity" in page
    assert f'id="plan-{worried.id}"' in page and "1 safeguarding concern raised recently" in page
    assert f'id="plan-{quiet.id}"' not in page


def test_scheduling_a_visit_links_the_triggers_and_finalising_it_resolves_them(client, auth, db_session, listed):
    auth.login("maintainer")
    _post(client, auth, f"/maintainers/providers/{listed.id}/triggers", {"kind": "new_proprietor"})
    trigger = db_session.scalar(select(ProviderTrigger).where(ProviderTrigger.provider_id == listed.id))
    auditor = world.user(db_session, "auditor")
    form = client.get(f"/maintainers/planner/{listed.id}/visits/new").get_data(as_text=True)
    assert f'value="{trigger.id}" checked' in form
    day = today() + timedelta(days=14)
    response = _post(client, auth, f"/maintainers/planner/{listed.id}/visits/new", {
        "site_id": listed.sites[0].id, "visit_date-day": day.day, "visit_date-month": day.month,
        "visit_date-year": day.year, "audit_types": ["safeguarding", "health_safety"], "assignee_ids": [auditor.id],
        "trigger_ids": [trigger.id], "announced": "no"}, htmx=True)
    assert response.headers["HX-Redirect"] == f"/maintainers/planner?scheduled={listed.id}"
    visit = db_session.scalar(select(Visit).where(Visit.provider_id == listed.id, Visit.visit_date == day))
    assert not visit.announced and [a.user_id for a in visit.assignments] == [auditor.id]
    db_session.refresh(trigger)
    assert trigger.visit_id == visit.id and trigger.resolved_at is None
    assert auditor.id in db_session.scalars(select(VisitAssignment.user_id).where(VisitAssignment.visit_id == visit.id))
    # One audit finalised: the trigger stays open (a new proprietor needs both SG and HS).
    _finalise(db_session, visit, "safeguarding")
    rollup.recompute(db_session, [listed.id], day, "finalise")
    assert trigger.resolved_at is None
    _finalise(db_session, visit, "health_safety")
    rollup.recompute(db_session, [listed.id], day, "finalise")
    assert trigger.resolved_at is not None and listed.computed_status == "eligible"
    assert listed.directory_status == "under_review" and listed.needs_decision  # a maintainer clears the review
    assert _logged(db_session, "provider.trigger_resolved", listed.id)


def test_a_visit_needs_a_future_date_and_someone_who_can_carry_out_each_audit(client, auth, db_session, listed):
    auth.login("maintainer")
    auditor = world.user(db_session, "auditor")
    past = today() - timedelta(days=1)
    response = _post(client, auth, f"/maintainers/planner/{listed.id}/visits/new", {
        "site_id": listed.sites[0].id, "visit_date-day": past.day, "visit_date-month": past.month,
        "visit_date-year": past.year, "audit_types": ["quality_education"], "assignee_ids": [auditor.id]}, htmx=True)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="schedule-form"' in fragment
    assert "The visit date must be today or in the future" in fragment
    assert "a quality of education teacher for quality of education audits" in fragment
    odd = _post(client, auth, f"/maintainers/planner/{listed.id}/visits/new", {
        "site_id": "x", "visit_date-day": "31", "visit_date-month": "2", "visit_date-year": "2027"})
    assert odd.status_code == 422 and "The visit date must be a real date" in odd.get_data(as_text=True)
    assert db_session.scalar(select(Visit).where(Visit.provider_id == listed.id, Visit.visit_date >= today())) is None


def _finalise(db_session, visit: Visit, audit_type: str) -> Audit:
    audit = Audit(id=audit_id_for(visit.id, audit_type), visit_id=visit.id, audit_type=audit_type,
                  template_version_id=latest_version(db_session, audit_type).id, status="finalised",
                  outcome="compliant", created_by_id=world.user(db_session, "auditor").id,
                  finalised_at=datetime.now(timezone.utc))
    db_session.add(audit)
    db_session.flush()
    return audit
