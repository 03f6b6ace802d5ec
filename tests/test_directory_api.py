"""The directory's JSON API: the schools' view, filters like the search page, ETags from the change
stamp with 304 on If-None-Match, stable error codes, and its OpenAPI document fuzzed by
schemathesis (no 5xx, every answer as documented)."""
import time
from datetime import timedelta

import pytest

from auditapp.services import rollup
from auditapp.services.decisions import Decision, decide
from auditapp.services.eligibility import add_months
from auditapp.web.api_v1_openapi import OPENAPI

from . import world
from .directory_helpers import IN_DATE, concern, finalised_audit, in_date, new_provider
from .openapi_checks import operations, run_every_check

TODAY = world.TODAY


@pytest.fixture
def school(auth):
    auth.login("school")


def test_list_filters_like_the_search_page(client, school):
    body = client.get("/api/v1/providers?district=Leicester+City&specialism=semh&provision_type=sport").get_json()
    assert {p["name"] for p in body["providers"]} == {"Highfields Mentors", "Abbey Park Boxing Academy CIC"}
    assert body["total"] == 2 and body["page"] == 1 and body["pages"] == 1
    assert {p["status"] for p in client.get("/api/v1/providers").get_json()["providers"]} <= {
        "eligible", "conditional", "under_review", "suspended"}


def test_pages_of_the_list(client, school):
    first = client.get("/api/v1/providers?per_page=5").get_json()
    third = client.get("/api/v1/providers?per_page=5&page=3").get_json()
    assert first["total"] == 11 and first["pages"] == 3 and len(first["providers"]) == 5
    assert len(third["providers"]) == 1


@pytest.mark.parametrize("query, field", [("district=Atlantis", "district"), ("status=pending", "status"),
                                          ("q=%00", "q"), ("per_page=0", "per_page"), ("per_page=abc", "per_page"),
                                          ("age=200", "age"), ("specialism=x", "specialism")])
def test_a_bad_filter_is_422_with_a_stable_code_naming_the_field(client, school, query, field):
    response = client.get(f"/api/v1/providers?{query}")
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "directory.bad_filter" and field in body["details"]


def test_list_etag_answers_304_until_something_changes(client, db_session, school):
    listed = new_provider(db_session)
    in_date(db_session, listed)
    rollup.recompute(db_session, [listed.id], TODAY, "rollup")
    db_session.flush()
    first = client.get("/api/v1/providers?district=Blaby")
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag and first.headers["Cache-Control"] == "private, no-cache"
    again = client.get("/api/v1/providers?district=Blaby", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    other_query = client.get("/api/v1/providers?district=Melton", headers={"If-None-Match": etag})
    assert other_query.status_code == 200
    decide(db_session, world.user(db_session, "maintainer"),
           Decision(listed.id, "suspend", "Checked", listed.version), TODAY)
    db_session.flush()
    changed = client.get("/api/v1/providers?district=Blaby", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["providers"][0]["status"] == "suspended"


def test_detail_etag_moves_with_the_roll_up(client, db_session, school):
    listed = new_provider(db_session)
    in_date(db_session, listed)
    rollup.recompute(db_session, [listed.id], TODAY, "rollup")
    db_session.flush()
    first = client.get(f"/api/v1/providers/{listed.id}")
    body, etag = first.get_json(), first.headers["ETag"]
    assert body["status"] == "eligible" and body["valid_until"] == add_months(IN_DATE, 12).isoformat() and body["open_actions"] == 0
    assert [a["outcome"] for a in body["latest_audits"]] == ["compliant"] * 3
    assert "not an endorsement" in body["disclaimer"]
    assert client.get(f"/api/v1/providers/{listed.id}", headers={"If-None-Match": etag}).status_code == 304
    concern(db_session, listed)
    rollup.recompute(db_session, [listed.id], TODAY, "concern")
    db_session.flush()
    changed = client.get(f"/api/v1/providers/{listed.id}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["status"] == "under_review"
    text = changed.get_data(as_text=True)
    assert "never see" not in text and "triage" not in text  # the concern's content and the LA's reason text


def test_detail_etag_holds_through_a_nightly_roll_up_and_moves_with_a_finalise(client, db_session, school):
    listed = new_provider(db_session)
    audits = in_date(db_session, listed)
    rollup.recompute(db_session, [listed.id], TODAY, "finalise")
    db_session.flush()
    etag = client.get(f"/api/v1/providers/{listed.id}").headers["ETag"]
    rollup.recompute(db_session, None, TODAY, "rollup")  # the nightly run: nothing about this provider changed
    db_session.flush()
    assert client.get(f"/api/v1/providers/{listed.id}", headers={"If-None-Match": etag}).status_code == 304
    # A newer QoE audit changes what the API shows (its visit date) but not the status or valid-until.
    newer = audits["quality_education"].visit.visit_date + timedelta(days=30)
    finalised_audit(db_session, listed, "quality_education", "compliant", newer, grade="secure")
    rollup.recompute(db_session, [listed.id], TODAY, "finalise")
    db_session.flush()
    changed = client.get(f"/api/v1/providers/{listed.id}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["status"] == "eligible"
    assert newer.isoformat() in [a["visit_date"] for a in changed.get_json()["latest_audits"]]


def test_who_may_call(client, auth, db_session):
    assert client.get("/api/v1/providers").get_json()["code"] == "auth.required"
    auth.login("auditor")
    assert client.get("/api/v1/providers").status_code == 403
    auth.logout()
    auth.login("maintainer")
    pending = world.provider(db_session, "pending")
    # LA roles get the schools' view too: one audience, one shape.
    response = client.get(f"/api/v1/providers/{pending.id}")
    assert response.status_code == 404 and response.get_json()["code"] == "provider.not_found"


def test_the_served_document_is_the_one_in_the_code(client):
    assert client.get("/api/v1/openapi.json").get_json() == OPENAPI


def test_directory_api_passes_every_schemathesis_check(app, client, auth, db_session):
    auth.login("school")
    cookies = {"auditapp_session": client.get_cookie("auditapp_session").value}
    # schemathesis leaves out the document's own path (documented too, as every route under /api/v1 is).
    assert operations(app, "/api/v1/openapi.json") == {"/api/v1/providers", "/api/v1/providers/{provider_id}"}
    assert set(OPENAPI["paths"]) == {"/api/v1/providers", "/api/v1/providers/{provider_id}", "/api/v1/openapi.json"}
    started = time.monotonic()
    calls = run_every_check(app, "/api/v1/openapi.json", {"cookies": cookies}, examples=40)
    assert len(calls) >= 60 and calls.count(200) >= 10 and 422 in calls
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("query", ["district=", "status=", "specialism=", "age=", "age=%2012", "page=1.0",
                                   "q=" + "x" * 101, "q=a%01b"])
def test_the_api_refuses_what_its_document_excludes(client, school, query):
    # The search page takes an empty choice as "any"; the API does as its document says and refuses it.
    response = client.get(f"/api/v1/providers?{query}")
    assert response.status_code == 422 and response.get_json()["code"] == "directory.bad_filter"
    assert set(response.get_json()["details"]) == {query.split("=")[0]}


def test_the_api_accepts_what_its_document_allows(client, school):
    assert client.get("/api/v1/providers?q=" + "a" * 100).status_code == 200
    assert client.get("/api/v1/providers?q=tab%09and%0Anewline&age=12&page=1&per_page=5").status_code == 200
