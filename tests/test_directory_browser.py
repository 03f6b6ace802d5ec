"""The schools' directory in headless Chromium at 1024x768: a school user finds a provider by its
filters (the results update in place, the URL follows), reads its status and watches it; a
maintainer suspends it; the school's notification appears with the unread count, and reading it
clears the count. axe-core finds no violations on any page on the way, error state included."""
from __future__ import annotations

import re
import uuid
from datetime import date

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from auditapp.db import bind, session_scope
from auditapp.models import Provider, User
from auditapp.services.decisions import Decision, decide

from . import world
from .browser_helpers import assert_accessible, sign_in
from .conftest import make_test_app, world_database
from .live_server import serving

pytestmark = pytest.mark.browser

REASON = "Police investigation into the site manager"


@pytest.fixture
def live():
    """The app on a real port over its own committed world (this test changes a provider's status)."""
    database_url = world_database(f"auditapp_directory_{uuid.uuid4().hex[:8]}")
    app = make_test_app(database_url)
    with serving(app) as url:
        yield url, database_url


def maintainer_suspends(database_url: str, provider_id: int) -> None:
    """A maintainer's decision through the decisions service, committed like the maintainers' page does."""
    binding = bind(database_url)
    try:
        with session_scope(binding) as session:
            maintainer = session.scalar(select(User).where(User.email == world.EMAIL["maintainer"]))
            provider = session.get(Provider, provider_id)
            decide(session, maintainer, Decision(provider_id, "suspend", REASON, provider.version, safeguarding=True),
                   date.today())
    finally:
        binding.engine.dispose()


def test_a_school_finds_watches_and_hears_of_a_suspension(browser: Browser, browser_context_args, live):
    url, database_url = live
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    # Given a school user on the directory
    sign_in(page, url, "school")
    page.get_by_role("link", name="Directory", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Alternative provision directory")
    assert_accessible(page, "directory")
    page.evaluate("window.__samePage = true")
    # When they filter by district, specialism and type of provision
    page.get_by_label("District").select_option("Leicester City")
    expect(page.locator(".app-results-count")).to_have_text("4 providers")
    page.get_by_label("SEMH").check()
    expect(page.locator(".app-results-count")).to_have_text("3 providers")
    page.get_by_label("Type of provision").select_option("vocational")
    # Then the results update in place, the address follows, and only Riverside Motors is left
    expect(page.locator(".app-results-count")).to_have_text("1 provider")
    assert page.evaluate("window.__samePage") is True
    expect(page).to_have_url(f"{url}/directory/?provision_type=vocational&district=Leicester+City&specialism=semh")
    assert_accessible(page, "filtered results")
    card = page.locator(".govuk-summary-card")
    expect(card).to_have_count(1)
    expect(card.locator(".govuk-tag")).to_have_text("Eligible")
    # And a filter that is not valid gets a clear message, not an error page
    page.get_by_label("Learner's age").fill("99")
    page.get_by_label("Learner's age").press("Enter")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter an age from 4 to 19")
    assert_accessible(page, "filter error")
    page.get_by_label("Learner's age").fill("15")
    page.get_by_label("Learner's age").press("Enter")
    expect(page.locator(".app-results-count")).to_have_text("1 provider")
    # When they open the provider and read its status
    card.get_by_role("link", name="Riverside Motors").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Riverside Motors")
    expect(page.locator("main")).to_contain_text("You may commission this provider")
    expect(page.locator("main")).to_contain_text("A listing is not an endorsement")
    assert_accessible(page, "provider page")
    provider_id = int(re.search(r"/providers/(\d+)", page.url).group(1))
    # And watch it
    page.get_by_role("button", name="Watch this provider").click()
    expect(page.get_by_role("status")).to_have_text("You are now watching this provider.")
    expect(page.get_by_role("button", name="Stop watching this provider")).to_be_visible()
    assert_accessible(page, "watching")
    # When a maintainer suspends it
    maintainer_suspends(database_url, provider_id)
    # Then the school's navigation shows one unread notification
    page.get_by_role("link", name="Home").click()
    notifications = page.get_by_role("link", name=re.compile(r"^Notifications"))
    expect(notifications).to_have_text(re.compile(r"Notifications\s*1 unread"))
    notifications.click()
    # And the notification says what changed, in plain words, without the maintainer's reason
    expect(page.locator("main")).to_contain_text("Riverside Motors is now Suspended")
    expect(page.locator("main")).to_contain_text("a safeguarding matter the council is looking into")
    expect(page.locator("main")).not_to_contain_text(REASON)
    assert_accessible(page, "notifications")
    # When they mark it read, the count goes without a page load
    page.get_by_role("button", name=re.compile("^Mark as read")).click()
    expect(page.get_by_role("button", name=re.compile("^Mark as read"))).to_have_count(0)
    expect(notifications).to_have_text("Notifications")
    assert_accessible(page, "notifications read")
    # And the provider's page now warns against new placements
    page.get_by_role("link", name="See the provider's page").click()
    expect(page.locator(".govuk-warning-text", has_text="Suspended: no new placements")).to_be_visible()
    assert_accessible(page, "suspended provider page")
    context.close()
