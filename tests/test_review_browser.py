"""A full review in headless Chromium at 1024x768, by keyboard only: the queue's type filter (HTMX),
a sync conflict resolved, a return refused without a comment then made with comments, a stale form
after another reviewer acted, finalisation, and a correction with its diff. axe-core finds no
violations on any review page, in its error states too.

The app runs on a world database of its own: the auditor's safeguarding audit is submitted with a
conflict on SG-6.1 (two tablets), and a second lead reviewer exists to act first.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from auditapp.db import bind, session_scope
from auditapp.models import Audit
from auditapp.services import review
from auditapp.services.audits import submit_audits

from . import world
from .browser_helpers import assert_accessible, tab_to
from .conftest import make_test_app, world_database
from .live_server import serving
from .review_helpers import LEAD, by_email, conflicted_audit, second_lead

pytestmark = pytest.mark.browser


@dataclass
class Live:
    url: str
    binding: object
    audit_id: uuid.UUID


@pytest.fixture
def live():
    database_url = world_database(f"auditapp_review_{uuid.uuid4().hex[:8]}")
    binding = bind(database_url)
    with session_scope(binding) as session:
        audit, _ = conflicted_audit(session)
        second_lead(session)
        audit_id = audit.id
    app = make_test_app(database_url)
    with serving(app) as url:
        yield Live(url, binding, audit_id)
    binding.engine.dispose()


def press_on(page: Page, selector: str, key: str = "Enter") -> None:
    tab_to(page, selector)
    page.keyboard.press(key)


def type_into(page: Page, selector: str, text: str) -> None:
    tab_to(page, selector)
    page.keyboard.type(text)


def sign_in(page: Page, live: Live, email: str) -> None:
    page.goto(f"{live.url}/sign-in")
    type_into(page, "#email", email)
    type_into(page, "#password", world.PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def as_service(live: Live, act) -> None:
    """Someone else acts, through the services, in a committed transaction of its own."""
    with session_scope(live.binding) as session:
        act(session, session.get(Audit, live.audit_id))


def resubmit(session, audit) -> None:
    assert submit_audits(session, by_email(session, world.EMAIL["auditor"]), [(1, audit.id)])[0].status == "applied"


def test_a_full_review_and_finalisation_by_keyboard_only(page: Page, live: Live):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    audit_path = f"/review/audits/{live.audit_id}"
    # Given the lead reviewer signs in and opens the queue
    sign_in(page, live, LEAD)
    press_on(page, "#review-link a")
    expect(page.get_by_role("heading", name="Audits to review")).to_be_visible()
    assert_accessible(page, "queue")
    # When they filter by type with the keyboard, only the list changes (HTMX, no reload)
    page.evaluate("() => { window.__notReloaded = true; }")
    tab_to(page, "#audit_type")
    page.keyboard.press("ArrowDown")  # Safeguarding
    expect(page).to_have_url(re.compile(r"audit_type=safeguarding"))
    expect(page.locator(f'#review-queue a[href="{audit_path}"]')).to_have_count(1)
    expect(page.locator("#review-queue tbody")).not_to_contain_text("Health and safety")
    assert page.evaluate("() => window.__notReloaded === true")
    assert_accessible(page, "queue filtered")

    # And open the audit from the list
    press_on(page, f'#review-queue a[href="{audit_path}"]')
    page.wait_for_url(re.compile(re.escape(audit_path) + "$"))
    expect(page.locator("#finalise-blockers")).to_contain_text("1 sync conflict is not resolved")
    assert_accessible(page, "review page with a conflict")

    # When they keep the tablet's value of the conflicting rating, with a note
    tab_to(page, "#conflicts input[type=radio]")
    page.keyboard.press("ArrowDown")  # current → the tablet's value
    expect(page.locator("#conflicts input[type=radio]:checked")).to_have_value("device")
    type_into(page, "#conflicts textarea", "Door propped open on arrival")
    press_on(page, "#conflicts button[type=submit]")
    expect(page.get_by_text("The conflict is resolved.")).to_be_visible()
    expect(page.locator("#conflicts")).to_have_count(0)
    expect(page.locator("#item-SG-6\\.1")).to_contain_text("Not met")
    assert_accessible(page, "conflict resolved")

    # When they try to return the audit without saying what to change, the page says why
    press_on(page, "#return-form button[type=submit]")
    expect(page.locator(".govuk-error-summary")).to_contain_text("add an overall comment")
    assert_accessible(page, "return refused")
    # And they follow the error link, then comment on one item and on the whole audit
    press_on(page, '.govuk-error-summary a[href="#overall"]')
    page.keyboard.type("Please check the dates on the policies.")
    press_on(page, "#item-SG-1\\.2 summary")
    page.keyboard.press("Tab")
    page.keyboard.type("Which behaviour policy did you see?")
    press_on(page, "#return-form button[type=submit]")
    expect(page.get_by_text("returned to its author")).to_be_visible()
    expect(page.locator("#item-SG-1\\.2")).to_contain_text("Which behaviour policy did you see?")
    assert_accessible(page, "returned")

    # Given the auditor resubmits, and the lead reviewer opens the page again
    as_service(live, resubmit)
    page.goto(live.url + audit_path)
    expect(page.locator("#finalise")).to_be_visible()
    # When another reviewer returns it before this one finalises
    as_service(live, lambda s, a: review.return_audit(s, by_email(s, "robin.reviewer@assure.example.org"), a.id,
                                                      a.version, "One more thing", {}))
    press_on(page, "#finalise")
    # Then nothing changes and the page says what happened
    expect(page.get_by_role("heading", name="Someone else acted on this audit first")).to_be_visible()
    expect(page.locator("#changed")).to_contain_text("Robin Reviewer returned the audit for changes with 1 comment")
    assert_accessible(page, "stale form")

    # When the audit comes back and they finalise it
    as_service(live, resubmit)
    press_on(page, "#stale a")
    page.wait_for_url(re.compile(re.escape(audit_path) + "$"))
    expect(page.locator("#finalise")).to_be_visible()
    press_on(page, "#finalise")
    expect(page.get_by_text("The audit is finalised.")).to_be_visible()
    expect(page.locator("#outcome")).to_contain_text("Non-compliant")  # SG-6.1 is critical
    assert_accessible(page, "finalised")

    # And then start a correction, change one item and see the diff
    type_into(page, "#reason", "SG-3.3: two DBS checks were dated after the start")
    press_on(page, "#correction-start button[type=submit]")
    expect(page.get_by_role("heading", name=re.compile("Correction: revision 2"))).to_be_visible()
    assert_accessible(page, "correction")
    tab_to(page, "#item_key")
    page.keyboard.type("SG-3.3")
    expect(page.locator("#item_key")).to_have_value("SG-3.3")
    tab_to(page, "#rating")
    page.keyboard.press("ArrowRight")  # Met → Partially met
    page.keyboard.press("ArrowRight")  # → Not met
    expect(page.locator("input[name=rating]:checked")).to_have_value("not_met")
    type_into(page, "#note", "Two DBS checks after the start date")
    press_on(page, "#item-form button[type=submit]")
    expect(page.locator("#diff")).to_contain_text("SG-3.3")
    expect(page.locator("#diff del")).to_contain_text(["Met"])
    assert_accessible(page, "correction with a change")
    press_on(page, "#submit")
    expect(page.get_by_text("The correction is submitted")).to_be_visible()
    press_on(page, "a[href$='/diff']")
    page.wait_for_url(re.compile(r"/diff$"))
    expect(page.get_by_role("heading", name="Changes in revision 2")).to_be_visible()
    expect(page.locator("#diff")).to_contain_text("Two DBS checks after the start date")
    assert_accessible(page, "diff")
    assert errors == []


def test_the_review_page_with_policy_checks_conversations_and_a_withdrawn_file_has_no_axe_violations(page: Page):
    from auditapp.services.capture import Change, record_conversations, record_policy_checks
    from .evidence_helpers import registered, withdrawn
    from .review_helpers import submitted_audit
    database_url = world_database(f"auditapp_review_{uuid.uuid4().hex[:8]}")
    binding = bind(database_url)
    with session_scope(binding) as session:
        audit = submitted_audit(session, submit=False)
        auditor = by_email(session, world.EMAIL["auditor"])
        assert record_policy_checks(session, auditor, [Change("p", uuid.uuid4(), audit.id, "SG-1.1", 0, {
            "document_seen": True, "document_version": "v3", "review_date": "2026-05-01", "named_person": "J. Example"})])[0].status == "applied"
        talks = [Change("L", uuid.uuid4(), audit.id, "learner", 0, {"subject": "KS3", "consent_given": True,
                                                                    "response:LC-3": "Feels safe", "notes": "Art room"}),
                 Change("S", uuid.uuid4(), audit.id, "staff", 0, {"subject": "Key worker", "notes": "Knows the route"})]
        assert {o.status for o in record_conversations(session, auditor, talks)} == {"applied"}
        withdrawn(session, registered(session, audit.id, item_key="SG-2.1", filename="Old policy.pdf"), "Superseded")
        assert submit_audits(session, auditor, [(1, audit.id)])[0].status == "applied"
        audit_id = audit.id
    with serving(make_test_app(database_url)) as url:
        sign_in(page, Live(url, binding, audit_id), LEAD)
        page.goto(f"{url}/review/audits/{audit_id}")
        expect(page.get_by_role("heading", name="Learner conversation L1")).to_be_visible()
        expect(page.get_by_role("heading", name="Policy check for SG-1.1")).to_be_visible()
        expect(page.get_by_text("Old policy.pdf withdrawn: Superseded")).to_be_visible()
        assert_accessible(page, "review page with conversations")
        page.get_by_role("link", name="Evidence files for this audit").click()
        expect(page.get_by_role("heading", name=re.compile("Evidence for the safeguarding audit"))).to_be_visible()
        assert_accessible(page, "evidence page for the lead reviewer")
    binding.engine.dispose()
