"""The sync API against its own OpenAPI document: schemathesis generates valid and invalid requests and every
one of its default checks must hold (no 5xx, every status and content type and body as documented, invalid
data refused, valid data accepted, 405s with Allow...), not only the absence of server errors."""
import time

import pytest

from sync.openapi import OPENAPI

from .openapi_checks import operations, run_every_check

OPERATIONS = {"/sync/openapi.json", "/sync/push", "/sync/pull", "/sync/config", "/evidence/{evidence_id}/upload-target",
              "/evidence/{evidence_id}/content", "/evidence/{evidence_id}/confirm", "/sync/session", "/sync/visits"}


@pytest.fixture
def device_headers(client, auth):
    auth.login("auditor")
    token = client.get("/sync/config").get_json()["csrf_token"]
    cookie = client.get_cookie("auditapp_session").value
    return {"headers": {"X-CSRFToken": token}, "cookies": {"auditapp_session": cookie}}


def test_the_served_document_is_the_one_in_the_code(client):
    assert client.get("/sync/openapi.json").get_json() == OPENAPI


def test_sync_api_passes_every_schemathesis_check(app, db_session, device_headers):
    # schemathesis leaves out the document's own path (documented too, as every route under /sync is).
    assert operations(app, "/sync/openapi.json") == OPERATIONS - {"/sync/openapi.json"}
    assert set(OPENAPI["paths"]) == OPERATIONS
    started = time.monotonic()
    # A sign-in attempt costs a password hash (~0.3 s): fewer of those.
    statuses = run_every_check(app, "/sync/openapi.json", device_headers, examples=25, fewer={"/sync/session": 8})
    assert len(statuses) >= 150 and statuses.count(200) >= 20 and 422 in statuses, sorted(set(statuses))
    assert time.monotonic() - started < 90


def _documented(document: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def _routes(app, prefixes: tuple[str, ...], leave_out: tuple[str, ...] = ()) -> set[tuple[str, str]]:
    """(METHOD, OpenAPI path) of every route under `prefixes`, HEAD and OPTIONS aside."""
    found = set()
    for rule in app.url_map.iter_rules():
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<uuid:{name}>", f"{{{name}}}").replace(f"<int:{name}>", f"{{{name}}}")
        if path.startswith(prefixes) and not path.startswith(leave_out):
            found |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def test_every_route_under_the_documents_is_documented(app):
    from auditapp.web.api_v1_openapi import OPENAPI as API_V1
    assert _routes(app, ("/api/v1/",)) == _documented(API_V1)
    # /evidence/{id} (GET) is the reviewers' view, a page, not part of the device API.
    assert _routes(app, ("/sync/", "/evidence/{evidence_id}/")) == _documented(OPENAPI)
