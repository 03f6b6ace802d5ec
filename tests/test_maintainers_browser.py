"""The maintainers' pages in headless Chromium at 1024x768: a maintainer reads why a provider is in the
queue and suspends it using the keyboard alone; every maintainers' page passes axe-core, with its
error states."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from auditapp.db import bind, session_scope
from auditapp.models import Provider, SafeguardingConcern
from auditapp.services import concerns, provider_records, rollup
from auditapp.web.maintainer_pages import today

from . import world
from .browser_helpers import assert_accessible, sign_in, tab_to
from .conftest import make_test_app, world_database
from .directory_helpers import concern, in_date, new_provider
from .live_server import serving

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def maintainers_live():
    """The app on its own world database, with a provider Under review for a safeguarding concern
    (first in the queue) and another with a re-audit trigger (in the planner)."""
    url = world_database(f"auditapp_maintainers_{uuid.uuid4().hex[:8]}")
    binding = bind(url)
    with session_scope(binding) as session:
        for open_concern in session.scalars(select(SafeguardingConcern).where(SafeguardingConcern.status == "open")):
            # the demo world's own concern is triaged: this provider's is then the one safeguarding case
            concerns.triage(session, world.user(session, "maintainer"), open_concern.id, "Referred to the LADO")
        queued, planned = new_provider(session), new_provider(session)
        for provider in (queued, planned):
            in_date(session, provider, visit_date=today() - timedelta(days=40))
        concern(session, queued)
        rollup.recompute(session, [queued.id, planned.id], today(), "concern")
        provider_records.add_trigger(session, world.user(session, "maintainer"), planned.id, "new_dsl",
                                     "New DSL from January", today())
        ids = {"queued": queued.id, "planned": planned.id, "name": queued.display_name}
    binding.engine.dispose()
    app = make_test_app(url)
    with serving(app) as base:
        yield {"url": base, "database": url, **ids}


def test_a_maintainer_reads_why_and_suspends_from_the_queue_by_keyboard(page: Page, maintainers_live):
    base, name = maintainers_live["url"], maintainers_live["name"]
    # Given a maintainer on the queue, where the provider with a concern comes first
    sign_in(page, base, "maintainer")
    page.goto(f"{base}/maintainers/queue")
    card = page.locator(".govuk-summary-card").first
    expect(card.locator(".govuk-summary-card__title")).to_have_text(name)
    expect(card).to_contain_text("Safeguarding")
    assert_accessible(page, "queue")
    # When they open "why" with the keyboard, the reasons and facts appear in place
    why = card.get_by_role("link", name=f"Why is {name} Under review?")
    tab_to(page, why)
    page.keyboard.press("Enter")
    panel = card.locator(".app-why")
    expect(panel).to_contain_text("Rule R3")
    expect(panel).to_contain_text("Safeguarding concerns awaiting triage: 1")
    assert page.url.endswith("/maintainers/queue")
    assert_accessible(page, "queue with why")
    # And they go to the decision by keyboard, from the top of the queue
    page.goto(f"{base}/maintainers/queue")
    tab_to(page, page.get_by_role("link", name=f"Decide on {name}"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    assert_accessible(page, "provider page")
    # When they choose Suspend with the arrow keys and send it without a reason
    tab_to(page, page.locator("input[name=decision]").first)
    page.keyboard.press("ArrowDown")
    suspend = page.get_by_label("Suspend", exact=True)
    expect(suspend).to_be_checked()
    tab_to(page, page.get_by_role("button", name="Record the decision"))
    page.keyboard.press("Enter")
    # Then the form comes back in place with the reason asked for, and nothing changed
    expect(page.locator("#decision-panel .govuk-error-summary")).to_contain_text("Give a reason for this decision")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Under review")
    assert_accessible(page, "decision refused")
    # When they tick the grounds, type a reason and send it, all by keyboard
    tab_to(page, page.get_by_label("Suspend on safeguarding grounds"))
    page.keyboard.press("Space")
    tab_to(page, page.get_by_label("Reason"))
    page.keyboard.type("LADO referral about a member of staff")
    tab_to(page, page.get_by_role("button", name="Record the decision"))
    page.keyboard.press("Enter")
    # Then the provider is Suspended, the page says so, and the history has the decision
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("Provider suspended")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Suspended")
    assert_accessible(page, "after the decision")
    page.goto(f"{base}/maintainers/providers/{maintainers_live['queued']}/history")
    expect(page.locator(".app-timeline__item").first).to_contain_text("Under review to Suspended")
    expect(page.locator(".app-timeline__item").first).to_contain_text("LADO referral about a member of staff")
    assert_accessible(page, "history")
    binding = bind(maintainers_live["database"])
    with session_scope(binding) as session:
        status = session.scalar(select(Provider.directory_status).where(Provider.id == maintainers_live["queued"]))
    binding.engine.dispose()
    assert status == "suspended"


def test_every_maintainers_page_passes_axe_with_its_error_states(page: Page, maintainers_live):
    base, planned = maintainers_live["url"], maintainers_live["planned"]
    sign_in(page, base, "maintainer")
    for path in ("/maintainers/queue", f"/maintainers/providers/{planned}", f"/maintainers/providers/{planned}/why",
                 f"/maintainers/providers/{planned}/history", "/maintainers/summary", "/maintainers/planner",
                 f"/maintainers/planner/{planned}/visits/new", "/maintainers/providers/new",
                 f"/maintainers/providers/{planned}/edit", f"/maintainers/providers/{planned}/sites/new",
                 f"/maintainers/providers/{planned}/close", "/settings/roll-up"):
        response = page.goto(base + path)
        assert response.status == 200, path
        assert_accessible(page, path)
    # Error states swap in place (422) and stay accessible.
    for path, button in (("/maintainers/providers/new", "Add the provider"),
                         (f"/maintainers/planner/{planned}/visits/new", "Schedule the visit"),
                         (f"/maintainers/providers/{planned}/sites/new", "Add the site"),
                         (f"/maintainers/providers/{planned}/close", "Mark closed")):
        page.goto(base + path)
        page.evaluate("window.__marker = 'same page'")
        page.get_by_role("button", name=button).click()
        expect(page.locator(".govuk-error-summary")).to_be_visible()
        assert page.evaluate("window.__marker") == "same page", path
        assert_accessible(page, f"{path} with errors")
    # A stale form (another maintainer saved first) comes back in place (409) with what changed, accessible
    page.goto(f"{base}/maintainers/providers/{planned}/close")
    page.evaluate("window.__marker = 'same page'")
    page.get_by_label("Why is it closing?").fill("Stopped trading")
    binding = bind(maintainers_live["database"])
    with session_scope(binding) as session:
        session.get(Provider, planned).version += 1
    binding.engine.dispose()
    page.get_by_role("button", name="Mark closed").click()
    expect(page.locator("#stale")).to_be_visible()
    assert page.evaluate("window.__marker") == "same page"
    expect(page.get_by_label("Why is it closing?")).to_have_value("Stopped trading")  # what they typed is kept
    assert_accessible(page, "close form, stale")
    page.goto(f"{base}/maintainers/planner")
    expect(page.locator(f"#plan-{planned}")).to_contain_text("Change of designated safeguarding lead")
    page.goto(f"{base}/maintainers/summary")
    page.get_by_label("Week", exact=True).select_option(index=1)
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"week=\d{4}-\d{2}-\d{2}"))
    assert_accessible(page, "summary, last week")


def test_admins_see_the_roll_up_settings_from_their_navigation(page: Page, maintainers_live):
    sign_in(page, maintainers_live["url"], "admin")
    page.get_by_role("link", name="Roll-up settings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Roll-up settings")
    expect(page.locator("#setting-warning_days")).to_have_text("60 days before an audit expires")
    assert_accessible(page, "settings")
