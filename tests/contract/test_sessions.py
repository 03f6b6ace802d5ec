"""Starting with no HTML (PROTOCOL.md): JSON sign-in and its refusals, the visit list, sign-out ending the
session on the server."""
from __future__ import annotations

from http.cookiejar import Cookie
from urllib.parse import urlparse

import pytest

from .conftest import needs
from .contract_http import Http


@pytest.fixture(scope="module")
def base(contract) -> str:
    paths = Http(contract.base_url).call("GET", "/sync/openapi.json").json["paths"]
    if "/sync/session" not in paths:
        pytest.skip("this server documents no JSON sign-in (POST /sync/session)")
    return contract.base_url


def test_sign_in_refusals(base):
    anonymous = Http(base)
    unknown = anonymous.call("POST", "/sync/session", {"email": "nobody@example.org", "password": "wrong password"})
    assert unknown.status == 401 and unknown.error_code() == "auth.invalid_credentials"
    empty = anonymous.call("POST", "/sync/session", {"email": "", "password": ""})
    assert empty.status == 422 and empty.error_code() == "auth.invalid" and set(empty.json["details"]) == {
        "email", "password"}
    form = anonymous.call("POST", "/sync/session", data=b"email=a&password=b",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status == 415 and form.error_code() == "request.json_required"
    forged = anonymous.call("POST", "/sync/session", {"email": "nobody@example.org", "password": "x"},
                            headers={"Origin": "https://elsewhere.example"})
    assert forged.status == 403 and forged.error_code() == "request.cross_site"


def test_the_visit_list_names_each_visits_pack_and_audits(base, contract):
    http = contract.session(contract.auditor)
    visits = http.call("GET", "/sync/visits")
    assert visits.status == 200 and visits.json["visits"]
    visit = visits.json["visits"][-1]
    pack = http.call("GET", visit["pack_url"])
    assert pack.status == 200 and pack.json["visit"]["id"] == visit["id"]
    assert {a["audit_id"] for a in visit["audits"]} == {a["audit_id"] for a in pack.json["audits"]}


def test_sign_out_ends_the_session_on_the_server(base, contract):
    school = needs(contract.school, "SCHOOL")
    http = Http(base)
    assert http.sign_in(school.email, school.password).status == 200
    cookies = [(c.name, c.value) for c in http.jar]
    assert http.call("GET", "/api/v1/providers").status == 200
    assert http.call("DELETE", "/sync/session").status == 204
    copy = Http(base)  # a copy of the cookie taken before sign-out
    for name, value in cookies:
        copy.jar.set_cookie(_cookie(base, name, value))
    answer = copy.call("GET", "/api/v1/providers")
    assert answer.status == 401 and answer.error_code() == "auth.required"


def _cookie(base: str, name: str, value: str) -> Cookie:
    return Cookie(0, name, value, None, False, urlparse(base).hostname, False, False, "/", True, False, None, False,
                  None, None, {})
