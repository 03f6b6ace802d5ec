"""Pages and fragments: role-aware content, HTMX fragments, validation that answers 422, not 500."""
import pytest

from auditapp.models import AuditLogEntry, Provider, User

from . import world


def _new_user_form(auth, **overrides):
    organisation_id = overrides.pop("organisation_id", None)
    form = {"full_name": "Robin Reviewer", "email": "robin@assure.example.org", "role": "auditor",
            "password": "a long enough password", "csrf_token": auth.csrf("/admin/users/new"),
            "organisation_id": organisation_id, **overrides}
    return {k: v for k, v in form.items() if v is not None}


def test_auditor_home_lists_only_their_own_upcoming_visits(client, auth, db_session):
    auth.login("auditor")
    body = client.get("/").get_data(as_text=True)
    mine = world.visit_assigned_to(db_session, "auditor")
    assert mine.provider.display_name in body
    assert "Highfields Mentors" not in body  # a QoE teacher's visit


def test_directory_filters_narrow_the_results(client, auth):
    auth.login("school")
    body = client.get("/directory/?district=Harborough").get_data(as_text=True)
    assert "Greenfield Farm" in body and "Riverside Motors" not in body
    assert "1 provider<" in body  # Hoofbeats in Harborough is Pending: hidden from schools


def test_school_never_sees_pending_providers(client, auth, db_session):
    auth.login("school")
    pending = world.provider(db_session, "pending")
    assert pending.display_name not in client.get("/directory/").get_data(as_text=True)
    assert client.get(f"/directory/providers/{pending.id}").status_code == 404


def test_maintainer_sees_every_status_and_the_la_section(client, auth, db_session):
    auth.login("maintainer")
    pending = world.provider(db_session, "pending")
    page = client.get(f"/directory/providers/{pending.id}").get_data(as_text=True)
    assert "For the LA" in page and "Registration check" in page


def test_school_provider_page_has_the_disclaimer_and_no_la_detail(client, auth, db_session):
    auth.login("school")
    page = client.get(f"/directory/providers/{world.provider(db_session, 'eligible').id}").get_data(as_text=True)
    assert "A listing is not an endorsement" in page
    assert "For the LA" not in page and "Registration check" not in page and "Visits" not in page


def test_htmx_directory_request_gets_only_the_results_fragment(client, auth):
    auth.login("school")
    response = client.get("/directory/?provision_type=outdoor", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="directory-results"') and "<html" not in body
    assert "HX-Request" in response.headers["Vary"]
    assert "<html" in client.get("/directory/?provision_type=outdoor").get_data(as_text=True)


@pytest.mark.parametrize("query, message", [("district=Atlantis", "Choose a valid district"),
                                            ("key_stage=KS9", "Choose a valid key stage"),
                                            ("q=" + "x" * 101, "100 characters or fewer")])
def test_bad_directory_filters_get_422_with_a_message(client, auth, query, message):
    auth.login("school")
    response = client.get(f"/directory/?{query}", headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/visits/999999", "/directory/providers/999999", "/admin/templates/999999",
                                  "/no-such-page", "/visits/not-a-number"])
def test_unknown_ids_get_404_with_a_page(client, auth, path):
    auth.login("admin")
    response = client.get(path)
    assert response.status_code == 404
    assert "govuk-heading-l" in response.get_data(as_text=True)


def test_json_clients_get_a_stable_error_code(client, auth):
    auth.login("admin")
    response = client.get("/visits/999999", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json() == {"code": "visit.not_found", "details": {},
                                   "message": "There is no such visit, or it is not assigned to you"}


def test_admin_creates_a_user_who_can_then_sign_in(client, auth, db_session):
    auth.login("admin")
    contractor = world.user(db_session, "auditor").organisation_id
    response = client.post("/admin/users/new", data=_new_user_form(auth, organisation_id=contractor))
    assert response.status_code == 303
    created = db_session.query(User).filter_by(email="robin@assure.example.org").one()
    assert created.password_hash.startswith("$argon2id$")
    assert db_session.query(AuditLogEntry).filter_by(action="user.create", entity_id=str(created.id)).count() == 1
    auth.logout()
    response = client.post("/sign-in", data={"email": "Robin@Assure.example.org", "password": "a long enough password",
                                             "csrf_token": auth.csrf()})
    assert response.status_code == 302


@pytest.mark.parametrize("overrides, field_message", [
    ({"email": "not-an-email"}, "Enter an email address in the correct format"),
    ({"password": "short"}, "Password must be at least 12 characters"),
    ({"role": "superuser"}, "Choose a role"),
    ({"organisation_id": "abc"}, "Choose an organisation"),
    ({"organisation_id": "999999"}, "Choose an organisation"),
    ({"full_name": ""}, "Enter the person&#39;s full name"),
    ({"email": "auditor@assure.example.org"}, "Already in use"),
])
def test_invalid_new_user_gets_422_and_nothing_is_stored(client, auth, db_session, overrides, field_message):
    auth.login("admin")
    before = db_session.query(User).count()
    contractor = world.user(db_session, "auditor").organisation_id
    form = _new_user_form(auth, organisation_id=overrides.pop("organisation_id", contractor), **overrides)
    response = client.post("/admin/users/new", data=form, headers={"HX-Request": "true"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<form id="user-form"') and field_message in body
    assert db_session.query(User).count() == before


def test_a_school_role_cannot_be_placed_in_a_council(client, auth, db_session):
    auth.login("admin")
    council = world.user(db_session, "maintainer").organisation_id
    response = client.post("/admin/users/new", data=_new_user_form(auth, role="school", organisation_id=council))
    assert response.status_code == 422
    assert "cannot belong to Leicester City Council" in response.get_data(as_text=True)


def test_maintainers_home_shows_the_decision_queue_most_urgent_first(client, auth, db_session):
    # Given two providers waiting for a decision: one on safeguarding grounds, one other
    providers = db_session.query(Provider).order_by(Provider.id).limit(2).all()
    for provider, urgency in zip(providers, (1, 3)):
        provider.needs_decision, provider.queue_urgency = True, urgency
    db_session.flush()
    auth.login("maintainer")
    body = client.get("/").get_data(as_text=True)
    # Then the home page lists the safeguarding one first, each linking to the decision page
    other, safeguarding = providers
    assert body.index(safeguarding.display_name) < body.index(other.display_name)
    assert f'href="/maintainers/providers/{safeguarding.id}"' in body and "Open the decision queue" in body
    assert "Safeguarding" in body


def test_health_check_reports_ok(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_template_page_shows_items_guidance_and_critical_flags(client, auth, db_session):
    from auditapp.services.templates import latest_version
    auth.login("admin")
    body = client.get(f"/admin/templates/{latest_version(db_session, 'safeguarding').id}").get_data(as_text=True)
    assert "SG-3.3" in body and "Critical" in body and "LC-3" in body


def test_an_unexpected_error_gets_the_500_page_or_json_and_no_traceback(database_url):
    from auditapp.db import db
    from .conftest import make_test_app
    app = make_test_app(database_url)

    @app.get("/boom")
    def boom():
        raise RuntimeError("database exploded with secret detail")

    client = app.test_client()
    page = client.get("/boom")
    assert page.status_code == 500
    body = page.get_data(as_text=True)
    assert "Sorry, there is a problem with the service" in body and "secret detail" not in body
    as_json = client.get("/boom", headers={"Accept": "application/json"})
    assert as_json.status_code == 500 and as_json.get_json()["code"] == "server.error"
    db.binding(app).engine.dispose()
