"""Need to know: QoE teachers see quality-of-education audits in full and only the outcomes of safeguarding
and health-and-safety audits, never their notes, conversations or evidence (services/access.sees_detail).
Over HTTP, for a QoE teacher with no part in a finalised safeguarding audit: the council's and the provider's
report (HTML and PDF), its action plan, its evidence list and an evidence download are refused; the reports
list still gives its outcome. A finalised QE audit's report and evidence stay open to them."""
import pytest

from auditapp.models import Audit, Evidence
from auditapp.services import review

from . import grading_helpers as gh
from . import report_helpers as rh
from . import world

DETAIL_PATHS = ("report", "report.pdf", "provider-report", "provider-report.pdf", "actions", "evidence")


@pytest.fixture
def safeguarding(app, db_session):
    return rh.finalised_with_actions(db_session, app)


@pytest.fixture
def quality(app, db_session):
    """The city teacher's QE audit, graded, moderated and finalised by the county teacher (the world's QoE teacher)."""
    audit = gh.graded_world_audit(db_session)
    county = world.user(db_session, "qoe_teacher")
    gh.agree_all(db_session, county, audit)
    db_session.flush()
    return review.finalise_audit(db_session, county, audit.id, db_session.get(Audit, audit.id).version)


def _evidence_of(db_session, audit):
    return db_session.query(Evidence).filter_by(audit_id=audit.id, status="verified").first()


@pytest.mark.parametrize("path", DETAIL_PATHS)
def test_a_qoe_teacher_is_refused_a_safeguarding_audits_detail(client, auth, safeguarding, path):
    auth.login("qoe_teacher")
    response = client.get(f"/audits/{safeguarding.id}/{path}")
    body = response.get_data()
    assert response.status_code == 404  # as if it did not exist
    for marker in (rh.LEARNER_NOTE, rh.STAFF_NOTE, rh.ITEM_NOTE, rh.CRITICAL_NOTE, "policy-photo.jpg"):
        assert marker.encode() not in body


def test_a_qoe_teacher_cannot_download_a_safeguarding_audits_evidence(client, auth, db_session, safeguarding):
    row = _evidence_of(db_session, safeguarding)
    auth.login("qoe_teacher")
    response = client.get(f"/evidence/{row.id}")
    response.close()
    assert response.status_code == 404
    assert response.headers.get("Content-Disposition") is None
    auth.logout()
    auth.login("maintainer")  # the file is there for those who need it
    response = client.get(f"/evidence/{row.id}")
    response.close()
    assert response.status_code == 200


def test_the_reports_list_gives_a_qoe_teacher_the_outcome_only(client, auth, safeguarding):
    auth.login("qoe_teacher")
    html = client.get("/reports/?audit_type=safeguarding", headers={"HX-Request": "true"}).get_data(as_text=True)
    row = html[html.index(safeguarding.snapshot["provider"]["name"]):]
    row = row[:row.index("</tr>")]
    assert safeguarding.snapshot["audit"]["outcome_label"] in row
    assert f"/audits/{safeguarding.id}/" not in row and "Outcome only" in row


@pytest.mark.parametrize("role", ["maintainer", "admin", "auditor"])
def test_others_who_may_still_read_the_safeguarding_detail(client, auth, safeguarding, role):
    auth.login(role)
    for path in DETAIL_PATHS:
        response = client.get(f"/audits/{safeguarding.id}/{path}")
        assert response.status_code == 200, path
        response.close()


def test_a_qoe_teacher_reads_a_quality_of_education_audit_in_full(client, auth, quality):
    auth.login("qoe_teacher")
    for path in DETAIL_PATHS:
        response = client.get(f"/audits/{quality.id}/{path}")
        assert response.status_code == 200, path
        response.close()
    html = client.get("/reports/?audit_type=quality_education", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f"/audits/{quality.id}/report" in html


def test_a_qoe_teacher_on_a_joint_visit_gets_no_link_to_the_safeguarding_evidence(app, client, auth, db_session):
    from auditapp.models import VisitAssignment
    from auditapp.storage import get_blob_store

    from .evidence_helpers import verified_evidence_for_matrix
    row = verified_evidence_for_matrix(db_session, get_blob_store(app))  # on the auditor's safeguarding audit
    visit_id = db_session.get(Audit, row.audit_id).visit_id
    db_session.add(VisitAssignment(visit_id=visit_id, user_id=world.user(db_session, "qoe_teacher").id))
    db_session.flush()
    auth.login("qoe_teacher")
    page = client.get(f"/visits/{visit_id}")
    assert page.status_code == 200
    assert f"/audits/{row.audit_id}/evidence" not in page.get_data(as_text=True)
    assert client.get(f"/audits/{row.audit_id}/evidence").status_code == 404
