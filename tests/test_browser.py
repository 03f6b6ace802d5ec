"""In headless Chromium at 1024x768: every role signs in, lands on its home page, and every page
it can reach from the navigation passes axe-core with no violations."""
import pytest
from playwright.sync_api import Page, expect

from . import world
from .browser_helpers import assert_accessible, sign_in

pytestmark = pytest.mark.browser

HOME_HEADINGS = {
    "auditor": "Your upcoming visits",
    "qoe_teacher": "Your upcoming quality of education visits",
    "maintainer": "Providers waiting for a decision",
    "school": "Alternative provision directory",
    "admin": "Administration",
    "la_officer": "AP placements across the county and the city",
}


def test_sign_in_page_is_accessible_and_shows_errors_accessibly(page: Page, live_url):
    # Given the sign-in page
    page.goto(f"{live_url}/sign-in")
    assert_accessible(page)
    # When the form is sent empty
    page.get_by_role("button", name="Sign in").click()
    # Then the error summary names both fields and the page is still accessible
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter your email address")
    assert page.title().startswith("Error:")
    assert_accessible(page)


@pytest.mark.parametrize("role", world.ROLES)
def test_each_role_signs_in_to_its_home_and_every_page_it_can_reach_is_accessible(page: Page, live_url, role):
    # Given a user of this role signs in
    sign_in(page, live_url, role)
    # Then they land on their role's home page
    expect(page.get_by_role("heading", level=1)).to_have_text(HOME_HEADINGS[role])
    assert_accessible(page)
    # And every page in their navigation, and the first link in its main content, passes axe
    nav_links = page.locator(".govuk-service-navigation__list a").evaluate_all("els => els.map(e => e.href)")
    for href in nav_links:
        response = page.goto(href)
        assert response.status == 200, href
        assert_accessible(page)
        first = page.locator("main a.govuk-link:not([download])").first  # a download is no page to open
        if first.count():
            target = first.get_attribute("href")
            assert page.goto(live_url + target if target.startswith("/") else target).status == 200, target
            assert_accessible(page)


def test_school_filters_the_directory_without_a_page_reload(page: Page, live_url):
    # Given a school user on the directory
    sign_in(page, live_url, "school")
    page.goto(f"{live_url}/directory/")
    page.evaluate("window.__marker = 'same page'")
    # When they choose a district
    page.get_by_label("District").select_option("Harborough")
    # Then the results update in place (htmx), the URL follows, and the page was not reloaded
    expect(page.locator("#directory-results h2")).to_have_text("1 provider")
    expect(page).to_have_url(f"{live_url}/directory/?district=Harborough")
    assert page.evaluate("window.__marker") == "same page"
    assert_accessible(page)


def test_admin_form_errors_swap_in_place_on_422(page: Page, live_url):
    # Given the admin's add-user form
    sign_in(page, live_url, "admin")
    page.goto(f"{live_url}/admin/users/new")
    # When it is sent with a short password
    page.get_by_label("Full name").fill("Kim Keyboard")
    page.get_by_label("Email address").fill("kim@assure.example.org")
    page.get_by_label("Auditor", exact=True).check()
    page.get_by_label("Organisation").select_option(label="Assure Safeguarding Audits Ltd")
    page.get_by_label("Temporary password").fill("short")
    page.get_by_role("button", name="Create user").click()
    # Then htmx swaps in the 422 form with the message, keeping what was typed
    expect(page.locator(".govuk-error-summary")).to_contain_text("Password must be at least 12 characters")
    expect(page.get_by_label("Full name")).to_have_value("Kim Keyboard")
    assert_accessible(page)


def test_keyboard_user_can_skip_to_content_andsign_in(page: Page, live_url):
    # Given the sign-in page, used only by keyboard
    page.goto(f"{live_url}/sign-in")
    page.keyboard.press("Tab")
    # Then the first stop is the skip link
    expect(page.locator(".govuk-skip-link")).to_be_focused()
    # When the user fills the form with the keyboard alone
    page.get_by_label("Email address").focus()
    page.keyboard.type(world.EMAIL["maintainer"])
    page.keyboard.press("Tab")
    page.keyboard.type(world.PASSWORD)
    page.keyboard.press("Enter")
    # Then they are signed in
    expect(page.get_by_role("heading", level=1)).to_have_text(HOME_HEADINGS["maintainer"])


def test_no_request_leaves_the_machine(page: Page, live_url):
    # Given every request the pages make is watched
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_url) else None)
    # When a school user signs in and searches
    sign_in(page, live_url, "school")
    page.goto(f"{live_url}/directory/")
    # Then nothing was fetched from anywhere but the app (no CDN)
    assert outside == []
    # And the vendored GOV.UK styles and htmx loaded
    assert page.evaluate("typeof htmx") == "object"
    assert page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily").startswith("arial")
