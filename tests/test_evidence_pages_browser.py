"""The reviewers' evidence pages in headless Chromium at 1024x768: axe-core finds nothing, the
keyboard reaches each file, and "Open" downloads exactly the bytes that were verified, under a
safe name. (The tablet's side of evidence is tests/test_evidence_browser.py.)"""
from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from auditapp.db import db as app_db
from auditapp.db import session_scope
from auditapp.models import Audit
from auditapp.storage import get_blob_store

from .browser_helpers import assert_accessible, sign_in
from .conftest import make_test_app, world_database
from .evidence_helpers import (
    JPEG,
    PDF,
    registered,
    rejected,
    started_audit,
    verified,
    withdrawn,
)
from .live_server import serving

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """A live app whose auditor's safeguarding audit has files in every state."""
    app = make_test_app(world_database(f"auditapp_evidence_pages_{uuid.uuid4().hex[:8]}"),
                        EVIDENCE_DIR=str(tmp_path_factory.mktemp("evidence")))
    store = get_blob_store(app)
    with session_scope(app_db.binding(app)) as session:
        audit_id = started_audit(session)
        policy = verified(session, store, audit_id, PDF, "application/pdf", "SG-1.1", "Child protection policy.pdf")
        verified(session, store, audit_id, JPEG, item_key="SG-1.1", filename="Fire exit.jpg")
        registered(session, audit_id, JPEG, item_key="SG-1.2", filename="Log book.jpg")
        rejected(session, store, audit_id)
        withdrawn(session, registered(session, audit_id, PDF, "application/pdf", "SG-2.1", "Old policy.pdf"),
                  "Superseded by the May version")
        visit_id = session.get(Audit, audit_id).visit_id
        ids = {"audit": audit_id, "visit": visit_id, "policy": policy.id}
    with serving(app) as url:
        yield url, ids


def test_the_audit_evidence_page_is_accessible_and_opens_the_verified_bytes(page: Page, reviewed):
    base, ids = reviewed
    # Given a maintainer on the audit's evidence page
    sign_in(page, base, "maintainer")
    page.goto(f"{base}/audits/{ids['audit']}/evidence")
    # Then it says how many files arrived, shows each state, and passes axe
    expect(page.locator("#evidence-total")).to_have_text("2 of 4 files received")
    expect(page.get_by_text("Withdrawn: Superseded by the May version")).to_be_visible()
    expect(page.get_by_text("The file is not a JPEG photo")).to_be_visible()
    assert_accessible(page)
    # When they reach the policy's "Open" link by keyboard and press Enter
    link = page.get_by_role("link", name="Open Child protection policy.pdf")
    link.focus()
    expect(link).to_be_focused()
    with page.expect_download() as download_info:
        page.keyboard.press("Enter")
    download = download_info.value
    # Then the browser saves exactly the verified bytes under a safe name
    assert download.suggested_filename == "Childprotectionpolicy.pdf"
    assert hashlib.sha256(Path(download.path()).read_bytes()).hexdigest() == hashlib.sha256(PDF).hexdigest()


def test_the_visit_page_counts_are_accessible_and_lead_to_the_files(page: Page, reviewed):
    base, ids = reviewed
    sign_in(page, base, "auditor")
    page.goto(f"{base}/visits/{ids['visit']}")
    expect(page.locator("#visit-evidence")).to_contain_text("Safeguarding: 2 of 4 files received, 1 rejected.")
    assert_accessible(page)
    page.get_by_role("link", name="See the files for the safeguarding audit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Evidence for the safeguarding audit")
