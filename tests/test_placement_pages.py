"""Placement pages over HTTP: notify, refuse bad input in place, refuse duplicates, who may read."""
from sqlalchemy import func, select

from auditapp.models import AuditLogEntry, Placement

from . import world
from .placement_helpers import FORM


def _form(auth, provider_id, **changes):
    return {**FORM, "provider_id": str(provider_id), "csrf_token": auth.csrf("/placements/new"), "action": "submit",
            **changes}


def test_a_school_notifies_a_placement_and_lands_on_its_page(client, auth, db_session):
    auth.login("school")
    provider = world.provider(db_session, "eligible")
    response = client.post("/placements/new", data=_form(auth, provider.id))
    assert response.status_code == 303 and "/placements/" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "The local authority has been notified" in html
    assert "A123456789012" not in html and "JB" in html


def test_bad_answers_come_back_in_place_with_422_and_nothing_is_stored(client, auth, db_session):
    auth.login("school")
    provider = world.provider(db_session, "eligible")
    before = db_session.scalar(select(func.count()).select_from(Placement))
    response = client.post("/placements/new", data=_form(auth, provider.id, end_date="2026-01-01", hours_per_week="50"),
                           headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The end date must be on or after the start date" in html and "Enter hours from 0.5 to 40" in html
    assert 'id="placement-form"' in html and "<html" not in html  # the form fragment, not a page
    assert db_session.scalar(select(func.count()).select_from(Placement)) == before


def test_a_duplicate_notification_is_refused_with_409(client, auth, db_session):
    auth.login("school")
    provider = world.provider(db_session, "eligible")
    assert client.post("/placements/new", data=_form(auth, provider.id)).status_code == 303
    again = client.post("/placements/new", data=_form(auth, provider.id, upn="a123 4567 89012"))
    assert again.status_code == 409 and "already been notified" in again.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(Placement).where(Placement.pupil_initials == "JB")) == 1


def test_a_suspended_provider_is_refused_with_its_status(client, auth, db_session):
    auth.login("school")
    suspended = world.provider(db_session, "suspended")
    response = client.post("/placements/new", data=_form(auth, suspended.id))
    assert response.status_code == 422 and "Suspended" in response.get_data(as_text=True)


def test_another_school_cannot_read_it_and_la_views_are_logged(app, client, auth, db_session):
    from .placement_helpers import matrix_placement
    placement = matrix_placement(db_session, app)
    db_session.commit()
    auth.login("maintainer")
    assert client.get(f"/placements/{placement.id}").status_code == 200
    assert db_session.scalar(select(func.count()).select_from(AuditLogEntry).where(
        AuditLogEntry.action == "placement.viewed", AuditLogEntry.entity_id == str(placement.id))) >= 1
    auth.logout()
    client.post("/sign-in", data={"email": "staff@charnwoodvalley.example.org", "password": world.PASSWORD,
                                  "csrf_token": auth.csrf()})
    response = client.get(f"/placements/{placement.id}")
    assert response.status_code == 404
    listing = client.get("/placements").get_data(as_text=True)
    assert "MX" not in listing


def test_maintainers_see_running_and_affected_placements_at_a_provider(app, client, auth, db_session):
    from auditapp.services.decisions import Decision, decide
    from .placement_helpers import matrix_placement
    placement = matrix_placement(db_session, app)
    provider = db_session.get(type(world.provider(db_session, "eligible")), placement.provider_id)
    decide(db_session, world.user(db_session, "maintainer"),
           Decision(provider.id, "suspend", "Serious incident", provider.version), world.TODAY)
    db_session.commit()
    auth.login("maintainer")
    html = client.get(f"/placements/at-provider/{provider.id}").get_data(as_text=True)
    assert "1 placement running now" in html and "Suspended on" in html and "MX" in html
    assert "Placements here" in client.get(f"/maintainers/providers/{provider.id}").get_data(as_text=True)
