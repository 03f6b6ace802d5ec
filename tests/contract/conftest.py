"""Where the conformance suite runs: a server at AUDITAPP_CONTRACT_BASE_URL, or (by default) a live server
of its own over a copy of the test world, with evidence on the test S3 endpoint when `make test` started one.

The tests talk HTTP only (tests/contract/contract_http.py); this file alone touches the app, to start the
live server and to give its auditor visits no audit has started on. Against another server, say who signs in
and which visits to use (see sync/PROTOCOL.md "Conformance suite"):

    AUDITAPP_CONTRACT_BASE_URL            the server
    AUDITAPP_CONTRACT_AUDITOR_EMAIL/_PASSWORD   an auditor with visits assigned
    AUDITAPP_CONTRACT_AUDITOR2_EMAIL/_PASSWORD  another auditor (optional: authorisation tests)
    AUDITAPP_CONTRACT_SCHOOL_EMAIL/_PASSWORD    a school user (optional: authorisation tests)
    AUDITAPP_CONTRACT_VISIT_IDS           (optional) visit ids (comma-separated) to use, assigned to the auditor,
                                          with safeguarding or health and safety audits not started yet (each run
                                          uses some up); by default those GET /sync/visits lists
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from .contract_http import Device, Http

UPLOAD_TTL_SECONDS = 8  # the live server's upload targets expire soon, so the expiry test need not wait 5 min


@dataclass
class Account:
    email: str
    password: str


@dataclass
class Contract:
    base_url: str
    auditor: Account
    auditor2: Account | None
    school: Account | None
    visit_ids: list[int]
    handed_out: set = field(default_factory=set)

    def session(self, account: Account) -> Http:
        http = Http(self.base_url)
        answer = http.sign_in(account.email, account.password)
        assert answer.status in (200, 302, 303), (answer.status, answer.body[:200])  # JSON sign-in, or the form
        http.device_token()
        return http

    def device(self, account: Account | None = None) -> Device:
        return Device(self.session(account or self.auditor))

    def fresh_audit(self, http: Http) -> dict:
        """An audit (pack entry plus `visit_id`) of the auditor's that is not on the server and no test has used.

        Visits come from AUDITAPP_CONTRACT_VISIT_IDS when given, else from GET /sync/visits (PROTOCOL "Starting
        with no HTML"): the user's visits, each audit with `on_server`."""
        for visit_id in self.visit_ids or self._listed_visits(http):
            if all((visit_id, t) in self.handed_out for t in ("safeguarding", "health_safety")):
                continue
            answer = http.call("GET", f"/capture/packs/{visit_id}")
            assert answer.status == 200, (visit_id, answer.status, answer.body[:200])
            for audit in answer.json["audits"]:
                if not audit["on_server"] and (visit_id, audit["audit_type"]) not in self.handed_out:
                    self.handed_out.add((visit_id, audit["audit_type"]))
                    return {**audit, "visit_id": visit_id}
        raise AssertionError("no visit left with an audit not started: assign the auditor more visits")

    @staticmethod
    def _listed_visits(http: Http) -> list[int]:
        answer = http.call("GET", "/sync/visits")
        assert answer.status == 200, (answer.status, answer.body[:200])
        return [v["id"] for v in answer.json["visits"] if any(not a["on_server"] for a in v["audits"])]


def _account(prefix: str, default: Account | None) -> Account | None:
    email = os.environ.get(f"AUDITAPP_CONTRACT_{prefix}_EMAIL")
    if email:
        return Account(email, os.environ.get(f"AUDITAPP_CONTRACT_{prefix}_PASSWORD", ""))
    return default


def _live_server_visits(app, count: int) -> list[int]:
    """Visits today for the world's auditor, at an approved provider, with both of an auditor's audit types."""
    from sqlalchemy import select

    from auditapp import clock
    from auditapp.db import db as app_db, session_scope
    from auditapp.models import Provider
    from auditapp.services.providers import schedule_visit
    from tests import world

    with session_scope(app_db.binding(app)) as session:
        provider = session.scalar(select(Provider).where(Provider.directory_status == "eligible")
                                  .order_by(Provider.id).limit(1))
        auditor = world.user(session, "auditor")
        return [schedule_visit(session, None, provider, provider.sites[0], clock.today() + timedelta(days=1),
                               ["safeguarding", "health_safety"], [auditor.id]).id for _ in range(count)]


@pytest.fixture(scope="session")
def contract():
    base_url = os.environ.get("AUDITAPP_CONTRACT_BASE_URL")
    if base_url:
        auditor = _account("AUDITOR", None)
        assert auditor, "set AUDITAPP_CONTRACT_AUDITOR_EMAIL and AUDITAPP_CONTRACT_AUDITOR_PASSWORD"
        visits = [int(v) for v in os.environ.get("AUDITAPP_CONTRACT_VISIT_IDS", "").split(",") if v.strip()]
        yield Contract(base_url, auditor, _account("AUDITOR2", None), _account("SCHOOL", None), visits)
        return
    import uuid

    from tests import world
    from tests.conftest import evidence_bucket, make_test_app, s3_config, world_database
    from tests.live_server import serving

    overrides = {"EVIDENCE_UPLOAD_TTL_SECONDS": UPLOAD_TTL_SECONDS}
    endpoint = os.environ.get("TEST_S3_ENDPOINT_URL")
    if endpoint:
        overrides.update(s3_config(endpoint, evidence_bucket(endpoint)))
    app = make_test_app(world_database(f"auditapp_contract_{uuid.uuid4().hex[:8]}"), **overrides)
    visits = _live_server_visits(app, 12)
    with serving(app) as url:
        yield Contract(url, Account(world.EMAIL["auditor"], world.PASSWORD),
                       Account("auditor2@assure.example.org", world.PASSWORD),
                       Account(world.EMAIL["school"], world.PASSWORD), visits)


def needs(account: Account | None, what: str) -> Account:
    if account is None:
        pytest.skip(f"set AUDITAPP_CONTRACT_{what}_EMAIL/_PASSWORD to run this against another server")
    return account
