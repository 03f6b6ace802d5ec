"""A record you may not see answers exactly like one that does not exist: the same 404 and the same body, so a
stranger cannot tell which audits, evidence files, reports, actions or share links exist."""
from __future__ import annotations

import re
import uuid

import pytest

from auditapp.models import ShareLink
from auditapp.storage import get_blob_store

from . import report_helpers, world
from .conftest import CSRF_RE
from .evidence_helpers import verified_evidence_for_matrix

MISSING = uuid.UUID("00000000-0000-4000-8000-000000000001")


def _answer(client, method: str, url: str, token: str, hidden_id, missing_id) -> tuple[int, str]:
    response = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None,
                           headers={"X-CSRFToken": token})
    body = CSRF_RE.sub("", response.get_data(as_text=True)).replace(str(hidden_id), "ID").replace(str(missing_id), "ID")
    response.close()
    return response.status_code, body


AUDIT_PAGES = [("GET", "/review/audits/{}"), ("GET", "/review/audits/{}/diff"), ("GET", "/audits/{}/evidence"),
               ("GET", "/audits/{}/report"), ("GET", "/audits/{}/provider-report.pdf"), ("GET", "/audits/{}/actions"),
               ("GET", "/audits/{}/actions/confirm"), ("POST", "/audits/{}/share-links"),
               ("POST", "/review/audits/{}/finalise")]


@pytest.mark.parametrize("method, path", AUDIT_PAGES)
def test_a_safeguarding_audit_a_qoe_teacher_may_not_see_answers_like_a_missing_one(app, client, auth, db_session,
                                                                                  method, path):
    hidden = report_helpers.matrix_audit(db_session, app).id
    auth.login("qoe_teacher")
    token = auth.csrf("/")
    missing = _answer(client, method, path.format(MISSING), token, hidden, MISSING)
    seen = _answer(client, method, path.format(hidden), token, hidden, MISSING)
    assert seen[0] == 404 and seen == missing


def test_a_submitted_audit_answers_a_maintainer_like_a_missing_one(client, auth, db_session):
    from .grading_helpers import ungraded_world_audit
    hidden = ungraded_world_audit(db_session).id  # submitted, not finalised: not a maintainer's to see yet
    auth.login("maintainer")
    seen = _answer(client, "GET", f"/review/audits/{hidden}", "", hidden, MISSING)
    assert seen[0] == 404 and seen == _answer(client, "GET", f"/review/audits/{MISSING}", "", hidden, MISSING)


@pytest.mark.parametrize("method, path", [("GET", "/evidence/{}"), ("POST", "/evidence/{}/upload-target"),
                                          ("POST", "/evidence/{}/confirm")])
def test_an_evidence_file_of_someone_elses_audit_answers_like_a_missing_one(app, client, auth, db_session,
                                                                            method, path):
    hidden = verified_evidence_for_matrix(db_session, get_blob_store(app)).id
    auth.login("qoe_teacher")
    token = auth.csrf("/")
    seen = _answer(client, method, path.format(hidden), token, hidden, MISSING)
    assert seen[0] == 404 and seen == _answer(client, method, path.format(MISSING), token, hidden, MISSING)
    if method == "POST":  # the device's JSON answer
        assert re.search(r'"code": ?"evidence.not_found"', seen[1])


def test_a_share_link_and_an_action_of_an_audit_you_may_not_see_answer_like_missing_ones(app, client, auth,
                                                                                        db_session):
    audit = report_helpers.matrix_audit(db_session, app)
    link_id = report_helpers.matrix_link_id(db_session, app)
    action_id = report_helpers.actions_of(db_session, audit)["SG-1.2"].id
    auth.login("qoe_teacher")
    token = auth.csrf("/")
    for url, missing_url in ((f"/share-links/{link_id}/revoke", "/share-links/987654321/revoke"),
                             (f"/actions/{action_id}/provider-done", f"/actions/{MISSING}/provider-done")):
        seen = _answer(client, "POST", url, token, action_id, MISSING)
        assert seen[0] == 404 and seen == _answer(client, "POST", missing_url, token, action_id, MISSING)
    db_session.expire_all()
    assert db_session.get(ShareLink, link_id).revoked_at is None  # the refused request changed nothing


def test_a_visit_pack_of_someone_elses_visit_answers_like_a_missing_one(client, auth, db_session):
    visit_id = world.visit_assigned_to(db_session, "auditor").id
    auth.login("qoe_teacher")
    seen = _answer(client, "GET", f"/capture/packs/{visit_id}", "", MISSING, MISSING)
    assert seen[0] == 404 and seen == _answer(client, "GET", "/capture/packs/987654321", "", MISSING, MISSING)
