"""The schools' directory search and provider page on PostgreSQL: every filter, odd input (never a
500), what a school may see (never Pending, Removed or closed providers) and what it never reads
(concern content, notes, conversations, action wording, maintainers' reasons) — asserted on the HTML."""
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from auditapp.models import Answer, Conversation, Provider
from auditapp.services import rollup
from auditapp.services.decisions import Decision, decide
from auditapp.services.eligibility import add_months

from . import world
from .directory_helpers import IN_DATE, action, concern, in_date, new_provider

TODAY = world.TODAY
SECRETS = ("Concern content the schools must never see", "Learner note the school must never see",
           "Conversation note the school must never see", "Update the policy", "LADO referral about the manager")


def names(body: str) -> set[str]:
    """The provider names on a results page (the summary cards' titles)."""
    return set(re.findall(r'govuk-summary-card__title"><a class="govuk-link" href="[^"]+">([^<]+)</a>', body))


def search(client, query: str, **headers):
    response = client.get(f"/directory/?{query}", headers=headers)
    return response.status_code, response.get_data(as_text=True)


@pytest.fixture
def school(auth):
    auth.login("school")


@pytest.mark.parametrize("query, expected", [
    ("provision_type=outdoor", {"Greenfield Farm", "Melton Outdoor Pursuits CIC"}),
    ("key_stage=KS1", {"Nurture Hub"}),
    ("age=6", {"Nurture Hub"}),
    ("district=Harborough", {"Greenfield Farm"}),  # Hoofbeats there is Pending
    ("specialism=send&specialism=semh", {"Greenfield Farm", "Charnwood Therapeutic Education Ltd", "Nurture Hub"}),
    ("time_basis=full_time", {"BCA Skills", "Code Belgrave"}),
    ("delivery=online", {"Wigston Online", "Soar Tutors", "Code Belgrave"}),  # hybrid matches online too
    ("status=suspended", {"Highfields Mentors"}),
    ("q=soar", {"Soar Tutors"}),
    ("q=VALLEY+TUTORING", {"Soar Tutors"}),  # the legal name, any case
    ("district=Leicester+City&provision_type=sport&specialism=semh", {"Highfields Mentors", "Abbey Park Boxing Academy CIC"}),
])
def test_each_filter_narrows_the_results(client, school, query, expected):
    status, body = search(client, query)
    assert status == 200
    assert names(body) == expected
    assert f"{len(expected)} provider{'' if len(expected) == 1 else 's'}<" in body


def test_both_time_bases_and_every_status_tag_show_in_results(client, db_session, school):
    provider = new_provider(db_session)
    provider.time_basis, provider.trading_name = "both", "Either Way Learning"
    db_session.flush()
    for query in ("time_basis=part_time", "time_basis=full_time"):
        assert "Either Way Learning" in names(search(client, query)[1])
    body = search(client, "")[1]
    for label in ("Eligible", "Conditional", "Under review", "Suspended"):
        assert f">{label}</strong>" in body


@pytest.mark.parametrize("query, message", [
    ("q=" + "x" * 101, "Search for 100 characters or fewer"),
    ("q=" + "x" * 5000, "Search for 100 characters or fewer"),
    ("q=%00", "Search using letters, numbers and punctuation only"),
    ("q=ab%07cd", "Search using letters, numbers and punctuation only"),
    ("district=Atlantis", "Choose a valid district"),
    ("provision_type=%27%20OR%201%3D1--", "Choose a valid type of provision"),
    ("key_stage=KS9", "Choose a valid key stage"),
    ("age=abc", "Enter an age from 4 to 19"),
    ("age=3", "Enter an age from 4 to 19"),
    ("age=99999999999999999999999", "Enter an age from 4 to 19"),
    ("specialism=autism", "Choose SEND, SEMH or both"),
    ("time_basis=weekends", "Choose a valid full or part time option"),
    ("delivery=carrier-pigeon", "Choose a valid delivery option"),
    ("status=pending", "Choose a valid status"),  # exists, but never for schools
    ("status=removed", "Choose a valid status"),
    ("status=gone", "Choose a valid status"),
    ("page=0", "Choose a valid page"),
    ("page=two", "Choose a valid page"),
])
def test_odd_input_gets_a_clear_message_never_a_500(client, school, query, message):
    for headers in ({}, {"HX-Request": "true"}):
        status, body = search(client, query, **headers)
        assert status == 422, body[:500]
        assert message in body.replace("&#39;", "'")
        assert "govuk-error-summary" in body


@pytest.mark.parametrize("text", ["%", "_", "%%", "Riverside%", "Motor_Skills", "'; DROP TABLE providers; --",
                                  '"', "\\", "O'Brien", "ünïcödé 🚀", "a" * 100, "  soar  "])
def test_sql_metacharacters_are_plain_text_in_the_name_search(client, db_session, school, text):
    before = db_session.scalar(select(func.count()).select_from(Provider))
    response = client.get("/directory/", query_string={"q": text})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    # % and _ match only themselves (no provider has them in its name); only "soar" finds anything.
    assert names(body) == ({"Soar Tutors"} if text.strip() == "soar" else set())
    assert db_session.scalar(select(func.count()).select_from(Provider)) == before


def test_unknown_parameters_are_ignored_and_a_page_past_the_end_shows_the_last(client, school):
    status, body = search(client, "colour=blue&page=999")
    assert status == 200 and len(names(body)) == 11


@pytest.mark.parametrize("provider_id", [0, 2**31, 10**20])
def test_a_provider_id_out_of_range_is_not_found_never_a_500(client, school, provider_id):
    response = client.get(f"/directory/providers/{provider_id}")
    assert response.status_code == 404


def test_results_come_in_pages_of_twenty(client, db_session, school):
    for _ in range(25):
        new_provider(db_session, status="eligible")
    first = search(client, "district=Blaby")[1]
    second = search(client, "district=Blaby&page=2")[1]
    assert "26 providers" in first and len(names(first)) == 20 and len(names(second)) == 6
    assert "1 of 2" in first and 'rel="next"' in first and 'rel="prev"' in second
    assert not names(first) & names(second)
    past_the_end = search(client, "district=Blaby&page=7")[1]
    assert names(past_the_end) == names(second) and "2 of 2" in past_the_end and "26 providers" in past_the_end


def test_schools_never_see_pending_removed_or_closed_providers(client, db_session, school):
    pending = world.provider(db_session, "pending")
    removed = new_provider(db_session, status="removed")
    closed = new_provider(db_session, status="eligible")
    closed.closed_at = datetime.now(timezone.utc)
    db_session.flush()
    hidden = [pending, removed, closed]
    pages = [search(client, "")[1], search(client, "district=Blaby")[1],
             client.get("/directory/export.csv").get_data(as_text=True),
             client.get("/api/v1/providers?per_page=200").get_data(as_text=True)]
    for provider in hidden:
        assert all(provider.legal_name not in page for page in pages)
        assert client.get(f"/directory/providers/{provider.id}").status_code == 404
        assert client.get(f"/api/v1/providers/{provider.id}").status_code == 404


def test_la_roles_see_every_status_in_the_search(client, auth, db_session):
    auth.login("maintainer")
    status, body = search(client, "status=pending")
    assert status == 200 and names(body) == {"Coalville Creates", "Hoofbeats"}


def _troubled_provider(db_session):
    """A provider with an open action, an answer note, a conversation note and a live concern."""
    provider = new_provider(db_session)
    audits = in_date(db_session, provider, sg="compliant_with_actions")
    action(db_session, audits["safeguarding"], due=TODAY + timedelta(days=20))
    auditor = world.user(db_session, "auditor")
    db_session.add(Answer(id=uuid.uuid4(), audit_id=audits["safeguarding"].id, item_key="SG-1.1",
                          rating="partially_met", note=SECRETS[1], updated_by_id=auditor.id))
    db_session.add(Conversation(id=uuid.uuid4(), audit_id=audits["safeguarding"].id, kind="learner",
                                reference="L1", notes=SECRETS[2], updated_by_id=auditor.id))
    db_session.flush()
    rollup.recompute(db_session, [provider.id], TODAY, "finalise")
    db_session.flush()
    return provider


def test_conditional_provider_page_shows_open_actions_by_heading_only(client, db_session, school):
    provider = _troubled_provider(db_session)
    assert provider.directory_status == "conditional"
    body = client.get(f"/directory/providers/{provider.id}").get_data(as_text=True)
    assert "Conditional" in body and "Policies and leadership" in body  # SG-1's title
    assert re.search(r"Open actions</dt>\s*<dd[^>]*>1\b", body)
    visited, valid_until = IN_DATE, add_months(IN_DATE, 12)
    assert f"{visited.day} {visited:%B %Y}" in body and "Compliant with actions" in body
    assert f"{valid_until.day} {valid_until:%B %Y}" in body
    assert "A listing is not an endorsement" in body and "notified to the council" in body
    for secret in SECRETS:
        assert secret not in body


def test_under_review_for_a_concern_shows_a_plain_category_not_the_concern(client, db_session, school):
    provider = _troubled_provider(db_session)
    concern(db_session, provider)
    rollup.recompute(db_session, [provider.id], TODAY, "concern")
    db_session.flush()
    assert provider.directory_status == "under_review"
    body = client.get(f"/directory/providers/{provider.id}").get_data(as_text=True)
    assert "contact the AP team before placing" in body
    assert "a safeguarding matter the council is looking into" in body
    assert "awaiting triage" not in body and "Policies and leadership" not in body  # headings: Conditional only
    for secret in SECRETS:
        assert secret not in body


def test_a_suspension_shows_the_status_but_never_the_maintainers_reason(client, db_session, school):
    provider = _troubled_provider(db_session)
    decide(db_session, world.user(db_session, "maintainer"),
           Decision(provider.id, "suspend", SECRETS[4], provider.version, safeguarding=True), TODAY)
    db_session.flush()
    for url in (f"/directory/providers/{provider.id}", f"/api/v1/providers/{provider.id}"):
        body = client.get(url).get_data(as_text=True)
        assert "Suspended" in body and "no new placements" in body.lower()
        assert "a safeguarding matter the council is looking into" in body
        for secret in SECRETS:
            assert secret not in body


def test_htmx_search_gets_only_the_results_fragment(client, school):
    response = client.get("/directory/?district=Melton", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="directory-results"') and "<html" not in body
    assert "HX-Request" in response.headers["Vary"] and names(body) == {"Melton Outdoor Pursuits CIC"}
    assert response.headers["HX-Push-Url"] == "/directory/?district=Melton"  # the address bar, without empty fields


def test_csv_is_the_directory_as_a_school_sees_it_and_safe_in_a_spreadsheet(client, db_session, auth):
    provider = new_provider(db_session)
    provider.trading_name, provider.contact_name = '=HYPERLINK("http://evil.example","click")', "@SUM(A1)"
    db_session.flush()
    auth.login("maintainer")  # whoever downloads it gets the schools' view
    response = client.get("/directory/export.csv?district=Blaby")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    header = body.splitlines()[0]
    assert "Phone" not in header and "Company" not in header and "Registration" not in header
    assert "'=HYPERLINK" in body and "'@SUM(A1)" in body
    assert ",=" not in body and "\n=" not in body
    assert "Coalville Creates" not in client.get("/directory/export.csv").get_data(as_text=True)  # Pending


def test_csv_with_a_bad_filter_is_a_clear_422(client, school):
    response = client.get("/directory/export.csv?district=Atlantis")
    assert response.status_code == 422 and "Check the search filters" in response.get_data(as_text=True)
