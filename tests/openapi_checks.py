"""schemathesis over one of the app's OpenAPI documents with every default check (tests/test_sync_openapi.py,
tests/test_directory_api.py): no 5xx, statuses, content types, bodies and headers as documented, invalid data
refused and valid data accepted, 405s with Allow."""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES

# An invalid request may also be refused as too large: a push over max_batch mutations is 413 sync.batch_too_large
# (the document's maxItems), which is a refusal as much as a 422.
CONFIG = {"checks": {"negative_data_rejection": {
    "expected-statuses": [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "413"]}}}


def load(app, path: str):
    return schemathesis.openapi.from_wsgi(path, app, config=SchemathesisConfig.from_dict(CONFIG))


def operations(app, path: str) -> set[str]:
    return {result.ok().path for result in load(app, path).get_all_operations()}


def run_every_check(app, path: str, call_kwargs: dict, examples: int, fewer: dict | None = None) -> list[int]:
    """Generate valid and invalid cases for every operation of the document at `path`, call the app with
    `call_kwargs` (cookies, headers), run schemathesis's default checks on each answer (a failure fails the
    test) and return the statuses seen. `fewer` gives slow operations (path: examples) fewer examples."""
    schema = load(app, path)
    statuses: list[int] = []
    # DELETEs last: DELETE /sync/session signs the caller out, and the other operations want a session.
    every = sorted((result.ok() for result in schema.get_all_operations()), key=lambda op: op.method == "delete")
    for operation in every:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=(fewer or {}).get(operation.path, examples), deadline=None,
                      suppress_health_check=list(HealthCheck), database=None)
            def call(case):
                response = case.call(**call_kwargs)
                statuses.append(response.status_code)
                case.validate_response(response, headers=call_kwargs.get("headers"))
            try:
                call()
            except Unsatisfiable:
                # Nothing invalid can be made for an operation without parameters or body (GET /sync/config).
                assert mode is GenerationMode.NEGATIVE and not list(operation.body) and not list(operation.query)
    return statuses
