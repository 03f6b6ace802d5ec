"""Action plans, share links and reports in headless Chromium at 1024x768: the lead reviewer confirms
actions by keyboard (an error first, then success), a maintainer filters reports with HTMX, reads both
reports and the plan, meets a verification error and makes a share link; the provider's contact opens
the public plan, and an expired link answers 410. axe-core finds no violations on any of these pages,
in their error states too.

The app runs on a world database of its own holding a submitted audit with proposed actions (the
auditor's first safeguarding visit) and a finalised one (their second), made by tests/report_helpers.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from auditapp.db import bind, session_scope
from auditapp.models import Visit, VisitAssignment, VisitAuditType
from auditapp.models.base import utcnow
from auditapp.services import share_links

from . import report_helpers as rh
from . import world
from .browser_helpers import assert_accessible, sign_in, tab_to
from .conftest import make_test_app, world_database
from .live_server import serving
from .review_helpers import LEAD

pytestmark = pytest.mark.browser


@dataclass
class Live:
    url: str
    submitted_id: uuid.UUID
    finalised_id: uuid.UUID
    token: str
    expired_token: str


@pytest.fixture(scope="module")
def live():
    database_url = world_database(f"auditapp_reports_{uuid.uuid4().hex[:8]}")
    app = make_test_app(database_url)
    binding = bind(database_url)
    with session_scope(binding) as session:
        visits = session.scalars(select(Visit).join(VisitAssignment).join(VisitAuditType).where(
            VisitAssignment.user_id == world.user(session, "auditor").id, VisitAuditType.audit_type == rh.SG)
            .order_by(Visit.id)).all()
        submitted = rh.submitted_with_actions(session, app, visits[0])
        finalised = rh.finalised_with_actions(session, app, visits[1])
        maintainer = world.user(session, "maintainer")
        token = share_links.create_share_link(session, maintainer, finalised, 30)[1]
        expired = share_links.create_share_link(session, maintainer, finalised, 30, now=utcnow() - timedelta(days=40))[1]
        ids = submitted.id, finalised.id
    with serving(app) as url:
        yield Live(url, ids[0], ids[1], token, expired)
    binding.engine.dispose()


def test_lead_reviewer_confirms_actions_by_keyboard(page: Page, live: Live):
    # Given the lead reviewer on the confirm page of a submitted audit
    sign_in(page, live.url, LEAD)
    page.goto(f"{live.url}/audits/{live.submitted_id}/actions/confirm")
    expect(page.get_by_role("heading", name="Confirm the actions")).to_be_visible()
    assert_accessible(page, "confirm form")
    # When they clear the first owner and send the form with the keyboard
    tab_to(page, "input[id^='owner_role-']")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    tab_to(page, "#confirm-actions button[type=submit]")
    page.keyboard.press("Enter")
    # Then the form comes back in place with the error, and is still accessible
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter who at the provider owns the action")
    assert_accessible(page, "confirm form with an error")
    # When they type an owner and send it again
    page.locator("input[id^='owner_role-']").first.focus()
    page.keyboard.type("Centre manager")
    tab_to(page, "#confirm-actions button[type=submit]")
    page.keyboard.press("Enter")
    # Then the actions are confirmed
    expect(page.locator("#confirm-actions")).to_contain_text("The actions are confirmed")
    assert_accessible(page, "confirm form after success")


def test_maintainer_reads_reports_follows_up_and_shares(page: Page, live: Live):
    sign_in(page, live.url, world.EMAIL["maintainer"])
    # The reports list filters in place (HTMX)
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports of finalised audits")).to_be_visible()
    assert_accessible(page, "reports index")
    page.get_by_label("Provider name").fill("No provider has this name")
    page.get_by_label("Provider name").press("Enter")
    expect(page.locator("#report-results")).to_contain_text("No finalised audits match")
    page.get_by_label("Provider name").fill("")
    page.get_by_label("Audit type").select_option("safeguarding")
    expect(page.locator("#report-results")).to_contain_text("Safeguarding, revision 1")
    # Both reports
    page.goto(f"{live.url}/audits/{live.finalised_id}/report")
    expect(page.locator("#report")).to_contain_text(rh.LEARNER_NOTE)
    assert_accessible(page, "full report")
    page.get_by_role("link", name="Report for the provider (without conversation notes)").click()
    expect(page.locator("#report")).to_contain_text("What learners and staff said is not included")
    expect(page.locator("#report")).not_to_contain_text(rh.LEARNER_NOTE)
    assert_accessible(page, "provider report")
    # The plan: a verification without a note is refused in place
    page.get_by_role("link", name="Action plan and follow-up").click()
    card = page.locator(".govuk-summary-card").filter(has_text="Put right SG-6.1")
    card.get_by_role("button", name="Verify and close").click()
    expect(card.locator(".govuk-error-message").first).to_be_visible()
    assert_accessible(page, "action plan with a verification error")
    # A share link is made and shown once
    page.get_by_role("button", name="Create a link for the provider").click()
    expect(page.locator("#new-share-link")).to_be_visible()
    assert_accessible(page, "action plan with a new share link")


def test_provider_contact_opens_the_public_plan(page: Page, live: Live):
    page.goto(f"{live.url}/plan/{live.token}")
    expect(page.get_by_role("heading", name="Action plan for")).to_be_visible()
    expect(page.locator("table")).to_contain_text("Put right SG-6.1")
    assert_accessible(page, "public action plan")
    response = page.goto(f"{live.url}/plan/{live.expired_token}")
    assert response.status == 410
    expect(page.locator("main")).to_contain_text("expired")
    assert_accessible(page, "expired link")
