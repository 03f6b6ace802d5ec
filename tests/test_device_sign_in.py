"""Starting with no HTML (sync/devices.py): JSON sign-in and sign-out for devices, with the form's lockout and a
CSRF stand-in, and the JSON list of the user's visits with their audits and pack URLs."""
from __future__ import annotations

import json

import pytest

from auditapp.services.audits import audit_id_for

from . import world



def _sign_in(client, role: str = "auditor", password: str = world.PASSWORD, headers=None, **extra):
    return client.post("/sync/session", json={"email": world.EMAIL[role], "password": password, **extra},
                       headers=headers or {})


def test_a_device_signs_in_with_json_and_then_syncs_with_no_html(client):
    answer = _sign_in(client)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["user"]["email"] == world.EMAIL["auditor"] and body["user"]["role"] == "auditor"
    assert body["csrf_token"] and "Set-Cookie" in answer.headers
    config = client.get("/sync/config")
    assert config.status_code == 200
    push = client.post("/sync/push", json={"device_id": "6f1c7f1e-8f3a-4c1d-9a1b-2b3c4d5e6f70", "mutations": []},
                       headers={"X-CSRFToken": body["csrf_token"]})
    assert push.status_code == 200 and push.get_json()["results"] == []


def test_json_sign_in_refusals_are_one_answer_and_count_towards_the_lockout(client, auth):
    unknown = client.post("/sync/session", json={"email": "nobody@example.org", "password": "x" * 20})
    wrong = _sign_in(client, password="not the password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.get_json() == wrong.get_json() == {
        "code": "auth.invalid_credentials", "message": "Enter a correct email address and password", "details": {}}
    for _ in range(4):
        _sign_in(client, password="not the password")
    locked = _sign_in(client)  # the right password, from the address that failed five times
    assert (locked.status_code, locked.get_json()) == (401, wrong.get_json())
    assert auth.login("auditor").status_code == 401  # the same lock as the form's, for this address
    assert client.get("/sync/config").status_code == 401


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                                     {"Sec-Fetch-Site": "same-site"}])
def test_a_cross_site_json_sign_in_is_refused(client, headers):
    answer = _sign_in(client, headers=headers)
    assert answer.status_code == 403 and answer.get_json()["code"] == "request.cross_site"
    assert client.get("/sync/config").status_code == 401


def test_a_same_site_browser_sign_in_is_taken(client):
    answer = _sign_in(client, headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 200


def test_a_form_encoded_sign_in_to_the_json_route_is_refused(client):
    """What a cross-site HTML form could send: not JSON, so refused before any password is checked."""
    answer = client.post("/sync/session", data={"email": world.EMAIL["auditor"], "password": world.PASSWORD})
    assert (answer.status_code, answer.get_json()["code"]) == (415, "request.json_required")
    text = client.post("/sync/session", data='{"email": "a", "password": "b"}', content_type="text/plain")
    assert text.status_code == 415
    assert client.get("/sync/config").status_code == 401


@pytest.mark.parametrize("body", [{}, {"email": "", "password": ""}, {"email": 5, "password": None}, [], "x"])
def test_a_malformed_json_sign_in_gets_422_with_field_messages(client, body):
    answer = client.post("/sync/session", json=body)
    assert answer.status_code == 422
    assert answer.get_json()["code"] == "auth.invalid"
    assert set(answer.get_json()["details"]) == {"email", "password"}


def test_delete_session_signs_out_on_the_server(client):
    token = _sign_in(client).get_json()["csrf_token"]
    copied = client.get_cookie("auditapp_session").value
    assert client.delete("/sync/session").status_code == 400  # no X-CSRFToken
    assert client.delete("/sync/session", headers={"X-CSRFToken": token}).status_code == 204
    client.set_cookie("auditapp_session", copied)
    assert client.get("/sync/visits").status_code == 401


def test_signed_out_calls_get_the_json_401(client):
    """A signed-out device still holds a valid X-CSRFToken (the session's token outlives the sign-in): past the
    CSRF check, every call answers 401 auth.required as an Error body (without any token: 400 request.csrf_failed)."""
    token = _sign_in(client).get_json()["csrf_token"]
    assert client.delete("/sync/session", headers={"X-CSRFToken": token}).status_code == 204
    headers = {"X-CSRFToken": token}
    for answer in (client.get("/sync/visits"), client.delete("/sync/session", headers=headers),
                   client.post("/sync/push", json={"device_id": "x", "mutations": []}, headers=headers)):
        assert answer.status_code == 401
        assert answer.get_json() == {"code": "auth.required", "message": "Sign in to continue", "details": {}}


def test_the_visit_list_gives_each_assigned_visit_its_audits_and_pack(client, db_session):
    visit = world.visit_assigned_to(db_session, "auditor")
    _sign_in(client)
    answer = client.get("/sync/visits")
    assert answer.status_code == 200
    listed = {v["id"]: v for v in answer.get_json()["visits"]}
    assert visit.id in listed
    entry = listed[visit.id]
    assert entry["pack_url"] == f"/capture/packs/{visit.id}"
    assert client.get(entry["pack_url"]).status_code == 200
    assert {a["audit_type"] for a in entry["audits"]} <= {"safeguarding", "health_safety"}
    for audit in entry["audits"]:
        assert audit["audit_id"] == str(audit_id_for(visit.id, audit["audit_type"]))
        assert isinstance(audit["version"], int) and audit["status"]
    theirs = {v.id for v in world_visits(db_session, "auditor")}
    assert set(listed) == theirs


def test_a_qoe_teacher_lists_only_quality_of_education_audits(client, db_session):
    _sign_in(client, "qoe_teacher")
    visits = client.get("/sync/visits").get_json()["visits"]
    assert visits and all(a["audit_type"] == "quality_education" for v in visits for a in v["audits"])


@pytest.mark.parametrize("role", ["school", "maintainer", "admin", "la_officer"])
def test_roles_that_do_not_capture_cannot_list_visits(client, role):
    _sign_in(client, role)
    answer = client.get("/sync/visits")
    assert (answer.status_code, answer.get_json()["code"]) == (403, "auth.forbidden")


def world_visits(db_session, role):
    from sqlalchemy import select

    from auditapp.models import Visit, VisitAssignment
    return db_session.scalars(select(Visit).join(VisitAssignment)
                              .where(VisitAssignment.user_id == world.user(db_session, role).id)).all()


@pytest.mark.parametrize("email, password", [("a\x00@example.org", "x" * 20), (world.EMAIL["auditor"], "cut \ud83d"),
                                             ("cut\ud83d@example.org", "x" * 20), (world.EMAIL["auditor"], "nul\x00")])
def test_a_nul_or_a_lone_surrogate_is_refused_like_a_wrong_password(client, auth, email, password):
    """Before, the database (NUL) or argon2 (a lone surrogate) failed with a 500."""
    raw = json.dumps({"email": email, "password": password})  # \u0000 and \ud83d escapes, as a client sends them
    answer = client.post("/sync/session", data=raw, content_type="application/json")
    assert (answer.status_code, answer.get_json()["code"]) == (401, "auth.invalid_credentials")
    if "\ud83d" not in email + password:  # what an HTML form can carry
        form = client.post("/sign-in", data={"email": email, "password": password, "csrf_token": auth.csrf()})
        assert form.status_code == 401
