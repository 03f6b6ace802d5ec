"""A returned audit on the tablet, in headless Chromium: the auditor submits from the capture screen, a lead
reviewer returns it with comments (through the services, on the app's own database), and the next sync
brings it back editable with a "Returned for changes" banner, the overall comment, and each item's comment
beside its item; they survive a reload and go once the audit is submitted again."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from auditapp.db import bind, session_scope
from auditapp.models import Audit
from auditapp.services import review
from auditapp.services.audits import audit_id_for

from .browser_helpers import assert_accessible
from .conftest import make_test_app, world_database
from .live_server import serving
from .review_helpers import LEAD, by_email
from .test_capture_browser import ALL_SYNCED, answer_audit, capture_offline_ready, safe

pytestmark = pytest.mark.browser


@dataclass
class Live:
    url: str
    binding: object


@pytest.fixture
def live():
    database_url = world_database(f"auditapp_returned_{uuid.uuid4().hex[:8]}")
    binding = bind(database_url)
    with serving(make_test_app(database_url)) as url:
        yield Live(url, binding)
    binding.engine.dispose()


def test_a_returned_audit_shows_the_reviewers_comments_on_the_tablet(live: Live, context: BrowserContext, page: Page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Given an auditor who answered every item of a safeguarding audit and submitted it
    visit_id = capture_offline_ready(page, live.url, 0, "safeguarding")
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=15000)
    items = answer_audit(page, not_met=[], partially=[], na="", notes={})["answers"]
    page.get_by_role("button", name="Submit for review").click()
    page.get_by_role("button", name="Yes, submit").click()
    expect(page.locator("#read-only-note")).to_be_visible()
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=30000)
    item = sorted(items)[1]
    # When the lead reviewer returns it with an overall comment and one on an item
    audit_id = audit_id_for(visit_id, "safeguarding")
    with session_scope(live.binding) as session:
        audit = session.get(Audit, audit_id)
        assert audit.status == "submitted"
        review.return_audit(session, by_email(session, LEAD), audit_id, audit.version, "Please check the policy dates",
                            {item: "Which version of the policy did you see?"})
    # And the tablet syncs
    page.get_by_role("button", name="Sync now").click()
    # Then the screen says it was returned and why, and the audit can be changed again
    banner = page.get_by_role("region", name="Returned for changes")
    expect(banner).to_be_visible(timeout=15000)
    expect(banner).to_contain_text("Please check the policy dates")
    expect(banner.get_by_role("link", name=item)).to_be_visible()
    comment = page.get_by_text("Which version of the policy did you see?").last
    expect(page.locator(f"#item-{safe(item)}")).to_contain_text("Reviewer’s comment: Which version of the policy did you see?")
    expect(comment).to_be_visible()
    expect(page.locator("#read-only-note")).to_be_hidden()
    expect(page.locator(f"#rating-{safe(item)}-partially_met")).to_be_enabled()
    assert_accessible(page, "returned audit")
    # And all of it is still there after a reload
    page.reload()
    expect(page.get_by_role("region", name="Returned for changes")).to_contain_text("Please check the policy dates")
    expect(page.locator(f"#item-{safe(item)}")).to_contain_text("Which version of the policy did you see?")
    # When the auditor changes the item and submits again
    page.locator(f"#rating-{safe(item)}-partially_met").check()
    page.locator(f"#action-description-{safe(item)}").fill("Review the policy")
    page.locator(f"#action-owner-{safe(item)}").fill("Designated safeguarding lead")
    page.locator(f"#action-owner-{safe(item)}").blur()
    page.get_by_role("button", name="Submit for review").click()
    page.get_by_role("button", name="Yes, submit").click()
    # Then the notice and the comments go, and the server has it back for review
    expect(page.get_by_role("region", name="Returned for changes")).to_have_count(0)
    expect(page.get_by_text("Which version of the policy did you see?")).to_have_count(0)
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=30000)
    with session_scope(live.binding) as session:
        assert session.get(Audit, audit_id).status == "submitted"
    assert errors == []
