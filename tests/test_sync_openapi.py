"""The sync API against its own OpenAPI document: schemathesis generates requests; none may get a 5xx,
and every documented response must match the document."""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from sync.openapi import OPENAPI



@pytest.fixture
def device_headers(client, auth):
    auth.login("auditor")
    token = client.get("/sync/config").get_json()["csrf_token"]
    cookie = client.get_cookie("auditapp_session").value
    return {"headers": {"X-CSRFToken": token}, "cookies": {"auditapp_session": cookie}}


def test_the_served_document_is_the_one_in_the_code(client):
    assert client.get("/sync/openapi.json").get_json() == OPENAPI


def test_sync_api_never_answers_with_a_server_error(app, db_session, device_headers):
    schema = schemathesis.openapi.from_wsgi("/sync/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} == {"/sync/push", "/sync/pull", "/sync/config",
                                              "/evidence/{evidence_id}/upload-target",
                                              "/evidence/{evidence_id}/content", "/evidence/{evidence_id}/confirm"}
    calls = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case):
            response = case.call(**device_headers)
            calls.append(response.status_code)
            case.validate_response(response, checks=[not_a_server_error], headers=device_headers["headers"])
            assert response.status_code < 500
        call()
    assert len(calls) >= 100 and any(status == 200 for status in calls)
