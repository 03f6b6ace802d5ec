"""A school notifies an AP placement by keyboard alone; axe-core finds nothing on the form, the
placement's page or the LA dashboard (headless Chromium)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from .browser_helpers import assert_accessible, sign_in, tab_to

pytestmark = pytest.mark.browser


def type_into(page: Page, field: str, text: str) -> None:
    tab_to(page, f"#{field}")
    page.keyboard.type(text)


@pytest.fixture
def uk_page(browser: Browser, browser_context_args):
    context = browser.new_context(**browser_context_args, locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


def test_a_school_notifies_a_placement_by_keyboard(uk_page: Page, live_url):
    page = uk_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_url, "school")
    page.goto(f"{live_url}/placements/new")
    assert_accessible(page, "empty notification form")
    # Submitting at once shows what is missing, in place
    tab_to(page, 'button[value="submit"]')
    page.keyboard.press("Enter")
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert_accessible(page, "form with errors")
    for field, text in (("pupil_initials", "KB"), ("year_group", "10"), ("date_of_birth", "2011-02-14"),
                        ("upn", "B987654321098"), ("contact_name", "Jo Head"), ("contact_email", "jo@school.example.org"),
                        ("hours_per_week", "12"), ("start_date", "2027-01-11"), ("end_date", "2027-03-26"),
                        ("learning_outcomes", "Back on track in English and maths"),
                        ("exit_strategy", "Phased return from February half term"),
                        ("child_voice", "Wants a fresh start"), ("family_voice", "Mum agrees with the plan")):
        type_into(page, field, text)
    tab_to(page, "#provider_id")
    page.keyboard.press("ArrowDown")  # the first listed provider
    page.keyboard.press("Enter")
    tab_to(page, 'input[name="attendance_code"][value="B"]')
    page.keyboard.press("Space")
    conditional = page.locator("#acknowledge_conditions")
    if conditional.count():
        tab_to(page, "#acknowledge_conditions")
        page.keyboard.press("Space")
    tab_to(page, 'button[value="submit"]')
    page.keyboard.press("Enter")
    expect(page.get_by_text("The local authority has been notified")).to_be_visible()
    expect(page.locator("main")).to_contain_text("KB")
    assert "B987654321098" not in page.content()
    assert_accessible(page, "placement page")
    assert errors == []


def test_the_dashboard_is_accessible_and_filters_in_place(page: Page, live_url):
    sign_in(page, live_url, "la_officer")
    page.goto(f"{live_url}/dashboard")
    expect(page.get_by_role("heading", name="Children in AP by month")).to_be_visible()
    assert_accessible(page, "dashboard")
    page.evaluate("() => { window.__notReloaded = true; }")
    page.select_option("#district", "Melton")
    expect(page).to_have_url(re.compile("district=Melton"))
    assert page.evaluate("() => window.__notReloaded === true")  # HTMX swapped the figures, no reload
    assert_accessible(page, "dashboard filtered")
