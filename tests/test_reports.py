"""Reports on PostgreSQL: rendered only from the frozen snapshot, stamped, the provider's copy without
conversation notes or concern content (checked on the PDF's extracted text, not only the HTML), and
unchanged after a correction, which makes a new report of its own."""
import re
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import update

from auditapp.models import Answer, Audit
from auditapp.services import corrections, reports, review

from . import report_helpers as rh
from . import world
from .review_helpers import second_lead

NEVER_FOR_PROVIDER = ("LEARNERNOTE", "STAFFNOTE", "LEARNERRESPONSE", "CONCERNTEXT", "policy-photo.jpg")
ARTICLE = re.compile(r'<article class="app-report".*?</article>', re.DOTALL)


@pytest.fixture
def finalised(app, db_session):
    return rh.finalised_with_actions(db_session, app)


def _pdf_text(response) -> tuple[str, list[str]]:
    """All the PDF's text with whitespace removed (line breaks fall anywhere), and each page's text."""
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages = [page.extract_text() for page in PdfReader(BytesIO(response.get_data())).pages]
    return re.sub(r"\s+", "", "".join(pages)), pages


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_provider_pdf_never_contains_conversation_notes_or_concern_content(client, auth, finalised):
    auth.login("maintainer")
    text, _ = _pdf_text(client.get(f"/audits/{finalised.id}/provider-report.pdf"))
    # The extraction works: the item notes and actions the provider must see are there.
    assert _compact(rh.ITEM_NOTE) in text and _compact(rh.CRITICAL_NOTE) in text and "PutrightSG-6.1" in text
    for marker in NEVER_FOR_PROVIDER:
        assert marker not in text
    html = client.get(f"/audits/{finalised.id}/provider-report").get_data(as_text=True)
    assert rh.ITEM_NOTE in html
    for marker in NEVER_FOR_PROVIDER:
        assert marker not in html


def test_provider_pdf_through_a_share_link_is_the_same_copy(client, db_session, finalised):
    from auditapp.services import share_links
    token = share_links.create_share_link(db_session, world.user(db_session, "maintainer"), finalised, 30)[1]
    db_session.flush()
    text, _ = _pdf_text(client.get(f"/plan/{token}/report.pdf"))
    assert _compact(rh.ITEM_NOTE) in text
    for marker in NEVER_FOR_PROVIDER:
        assert marker not in text


def test_the_councils_pdf_has_conversation_notes_but_never_concern_content(client, auth, finalised):
    auth.login("maintainer")
    text, _ = _pdf_text(client.get(f"/audits/{finalised.id}/report.pdf"))
    for marker in ("LEARNERNOTE", "STAFFNOTE", "LEARNERRESPONSE", "policy-photo.jpg", "ITEMNOTE"):
        assert marker in text
    assert "CONCERNTEXT" not in text  # concerns are kept out of the audit record altogether


def test_reports_are_stamped_on_every_page(client, auth, db_session, finalised):
    auth.login("admin")
    snapshot = db_session.get(Audit, finalised.id).snapshot
    finalised_on = reports.report_view(snapshot, "la")["stamp"]["finalised"]
    html = client.get(f"/audits/{finalised.id}/report").get_data(as_text=True)
    stamp = re.search(r'<p class="app-report__stamp-line[^>]*>(.*?)</p>', html, re.DOTALL).group(1)
    assert "revision 1" in stamp and f"finalised {finalised_on}" in stamp
    assert "Safeguarding audit, version 1" in stamp and "report format 1" in stamp
    assert f"Revision 1, version {finalised.version}" in html and str(finalised.id) in html
    _, pages = _pdf_text(client.get(f"/audits/{finalised.id}/report.pdf"))
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert f"finalised {finalised_on}" in page and "revision 1" in page
        assert f"Page {number} of {len(pages)}" in page


def test_a_report_renders_from_the_snapshot_not_the_live_rows(client, auth, db_session, finalised):
    auth.login("maintainer")
    before = ARTICLE.search(client.get(f"/audits/{finalised.id}/report").get_data(as_text=True)).group(0)
    # Rows changed behind the service's back (no service allows it): the report must not move.
    db_session.execute(update(Answer).where(Answer.audit_id == finalised.id, Answer.item_key == "SG-1.2")
                       .values(note="SNEAKY change after finalisation"))
    db_session.flush()
    after = ARTICLE.search(client.get(f"/audits/{finalised.id}/report").get_data(as_text=True)).group(0)
    assert after == before and "SNEAKY" not in after


def test_a_correction_makes_a_new_report_and_leaves_the_old_one_unchanged(client, auth, db_session, finalised):
    auth.login("maintainer")
    first_html = ARTICLE.search(client.get(f"/audits/{finalised.id}/report").get_data(as_text=True)).group(0)
    first_pdf, _ = _pdf_text(client.get(f"/audits/{finalised.id}/report.pdf"))
    lead = rh.lead(db_session)
    correction = corrections.start_correction(db_session, lead, finalised.id, "SG-1.2 was rated on the wrong policy",
                                              finalised.version)
    corrections.correct_item(db_session, lead, correction.id, "SG-1.2", "met", "CORRECTED policy seen after all", "")
    corrections.submit_correction(db_session, lead, correction.id, db_session.get(Audit, correction.id).version)
    # The correction is finalised by a reviewer who did not carry out either revision.
    other = second_lead(db_session)
    review.finalise_audit(db_session, other, correction.id, db_session.get(Audit, correction.id).version)
    db_session.flush()
    again_html = ARTICLE.search(client.get(f"/audits/{finalised.id}/report").get_data(as_text=True)).group(0)
    again_pdf, _ = _pdf_text(client.get(f"/audits/{finalised.id}/report.pdf"))
    assert again_html == first_html and again_pdf == first_pdf
    new_html = client.get(f"/audits/{correction.id}/report").get_data(as_text=True)
    assert "revision 2" in new_html and "SG-1.2 was rated on the wrong policy" in new_html
    assert "CORRECTED policy seen after all" in new_html and "CORRECTED" not in first_html
    index = client.get("/reports/").get_data(as_text=True)
    assert "Corrected later" in index


@pytest.mark.parametrize("role, status", [("school", 403), ("auditor", 200)])
def test_who_may_see_a_report(client, auth, finalised, role, status):
    auth.login(role)
    for path in ("report", "provider-report", "report.pdf", "provider-report.pdf"):
        response = client.get(f"/audits/{finalised.id}/{path}")
        assert response.status_code == status
        response.close()


def test_an_unfinalised_audit_has_no_report(client, auth, app, db_session):
    submitted = rh.submitted_with_actions(db_session, app)
    auth.login("maintainer")
    assert client.get(f"/audits/{submitted.id}/report").status_code == 404
    assert client.get(f"/audits/{submitted.id}/provider-report.pdf").status_code == 404


def test_report_index_filters_with_htmx_and_refuses_bad_filters(client, auth, finalised):
    auth.login("maintainer")
    page = client.get("/reports/?audit_type=safeguarding", headers={"HX-Request": "true"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.lstrip().startswith('<div id="report-results">')
    assert f"/audits/{finalised.id}/report" in html
    none = client.get("/reports/?audit_type=health_safety", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f"/audits/{finalised.id}/report" not in none
    bad = client.get("/reports/?audit_type=cooking&finalised_from=yesterday", headers={"HX-Request": "true"})
    assert bad.status_code == 422
    assert "Choose a valid audit type" in bad.get_data(as_text=True) and "Enter a real date" in bad.get_data(as_text=True)


def test_report_view_copies_only_what_the_provider_may_see():
    snapshot = {"audit": {"id": "a", "audit_type_label": "Safeguarding", "revision": 1, "version": 3,
                          "outcome": "compliant", "finalised_at": "2026-11-20T10:00:00+00:00", "author": "Ash"},
                "template": {"title": "Safeguarding audit", "version": 1, "version_id": 4},
                "provider": {"name": "P", "contact_name": "PRIVATE contact"},
                "sections": [{"key": "SG-1", "title": "Policies", "rag": "green", "items": [
                    {"key": "SG-1.1", "question": "Q?", "rating": "met", "note": "seen", "evidence": ["e1"]}]}],
                "conversations": [{"reference": "L1", "kind": "learner", "notes": "PRIVATE note",
                                   "responses": {"LC-1": "PRIVATE answer"}}],
                "actions": [{"id": "x", "item_key": "SG-1.1", "description": "Do it", "owner_role": "DSL",
                             "due_date": "2026-12-01", "priority": "high", "status": "open",
                             "verification_note": "PRIVATE verification"}],
                "evidence": [{"id": "e1", "item_key": "SG-1.1", "filename": "PRIVATE.jpg", "media_type": "image/jpeg",
                              "sha256": "ab" * 32}],
                "future_field": "PRIVATE by default"}
    provider = reports.report_view(snapshot, "provider")
    assert "PRIVATE" not in repr(provider)
    assert provider["conversations"] is None and provider["conversation_count"].startswith("1 learner")
    assert provider["sections"][0]["items"][0]["evidence"][0]["kind"] == "Photo"
    full = reports.report_view(snapshot, "la")
    assert full["conversations"][0]["notes"] == "PRIVATE note"
    assert full["stamp"]["finalised"] == "20 November 2026"


def test_the_site_line_names_the_postcode_once(client, auth, db_session, finalised):
    site = finalised.visit.site
    auth.login("maintainer")
    for path in (f"/audits/{finalised.id}/report", f"/audits/{finalised.id}/provider-report"):
        html = client.get(path).get_data(as_text=True)
        line = re.search(r'Site</dt><dd class="govuk-summary-list__value">([^<]*)</dd>', html).group(1)
        assert line == f"{site.name}, {site.address_line1}, {site.town}, {site.postcode}", line
        assert line.count(site.postcode) == 1
