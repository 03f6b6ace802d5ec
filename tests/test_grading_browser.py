"""QoE grading and moderation in headless Chromium at 1024x768, by keyboard only: a teacher grades a
visit, a second teacher moderates another, queue and finalised-this-week filters update in place.
axe-core finds no violations on any of these pages, in their error states too.

The live world holds the city teacher's two submitted QE audits (services/grading_demo.py):
Abbey Park, ungraded, and Nurture Hub, graded Secure throughout. The county teacher acts here.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from . import world
from .browser_helpers import assert_accessible, sign_in, tab_to

pytestmark = pytest.mark.browser

AREAS = [f"QA-{n}" for n in range(1, 8)] + ["overall"]


def watch_errors(page: Page) -> list[str]:
    """The page's uncaught script errors, collected as they happen."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def open_from_queue(page: Page, live_url: str, link_text: str) -> None:
    page.goto(f"{live_url}/grading/")
    href = page.get_by_role("link", name=re.compile(link_text)).get_attribute("href")
    tab_to(page, f'a[href="{href}"]')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(re.escape(href) + "$"))


def mark_page(page: Page) -> None:
    """A marker that survives an HTMX swap but not a full page load."""
    page.evaluate("() => { window.__notReloaded = true; }")


def still_same_page(page: Page) -> bool:
    return page.evaluate("() => window.__notReloaded === true")


def focus_is_in(page: Page, selector: str) -> bool:
    return page.evaluate("s => !!document.activeElement && !!document.activeElement.closest(s)", selector)


def test_a_teacher_grades_a_visit_by_keyboard_only(page: Page, live_url):
    errors = watch_errors(page)
    sign_in(page, live_url, "qoe_teacher")
    # Given the queue lists the city teacher's ungraded visit
    page.goto(f"{live_url}/grading/")
    expect(page.locator("#to-grade")).to_contain_text("Visits to grade")
    assert_accessible(page, "queues")
    # When the county teacher opens it from the queue by keyboard
    open_from_queue(page, live_url, "Grade.*Abbey Park")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Grades: Abbey Park")
    expect(page.locator("#grade-QA-1-item-hint")).to_contain_text("Learning is well planned")
    assert_accessible(page, "grading form")
    mark_page(page)
    # And saves Curriculum as Strong with no reasons
    tab_to(page, 'input[name="grade-QA-1"]')
    page.keyboard.press("Space")
    tab_to(page, "#grade-form button.govuk-button")
    page.keyboard.press("Enter")
    # Then the form comes back in place with the error summary focused, and is still accessible
    expect(page.locator(".govuk-error-summary")).to_contain_text("Give the reasons for the Curriculum grade")
    expect(page.locator("#grade-QA-1")).to_be_checked()
    assert focus_is_in(page, ".govuk-error-summary") and still_same_page(page)
    assert_accessible(page, "grading form with errors")
    # When every area and the overall grade are graded Secure with reasons, all by keyboard
    for area in AREAS:
        tab_to(page, f'input[name="grade-{area}"]')
        page.keyboard.press("ArrowDown" if area == "QA-1" else "Space")  # Strong → Secure; else first → …
        if area != "QA-1":
            page.keyboard.press("ArrowDown")
        tab_to(page, f"#rationale-{area}")
        page.keyboard.type(f"Secure: {area} plans and progress seen")
    tab_to(page, "#grade-form button.govuk-button")
    page.keyboard.press("Enter")
    # Then all eight are saved without a page load, provisional until a second teacher moderates
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("8 changes saved")
    expect(page.locator("#grading-blockers")).to_contain_text("not yet moderated by a second QoE teacher")
    for area in AREAS:
        expect(page.locator(f'input[name="grade-{area}"][value="secure"]')).to_be_checked()
    assert still_same_page(page)
    assert errors == []


def test_a_stale_moderation_shows_what_changed_in_place(page: Page, browser, live_url):
    errors = watch_errors(page)
    sign_in(page, live_url, "qoe_teacher")
    # Given the county teacher has Nurture Hub's moderation form open
    open_from_queue(page, live_url, "Moderate.*Nurture Hub")
    mark_page(page)
    # And the city teacher then regrades Teaching and learning Developing in her own browser
    other = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        city = other.new_page()
        city.goto(f"{live_url}/sign-in")
        city.get_by_label("Email address").fill("teacher@city.example.org")
        city.get_by_label("Password", exact=True).fill(world.PASSWORD)
        city.get_by_role("button", name="Sign in").click()
        city.goto(page.url.removesuffix("/moderation"))
        city.locator('input[name="grade-QA-3"][value="developing"]').check()
        city.locator("#rationale-QA-3").fill("Teaching misses some learners' needs")
        city.get_by_role("button", name="Save grades").click()
        expect(city.locator(".govuk-notification-banner--success")).to_contain_text("1 change saved")
    finally:
        other.close()
    # When the county teacher agrees with the Secure grade they saw
    tab_to(page, 'input[name="moderation-QA-3"]')
    page.keyboard.press("Space")
    tab_to(page, "#moderation-form button.govuk-button")
    page.keyboard.press("Enter")
    # Then the form says what changed and that nothing was saved, in place, and is still accessible
    banner = page.locator("#moderation-form .govuk-notification-banner")
    expect(banner).to_contain_text("Nothing was saved")
    expect(banner).to_contain_text("Teaching and learning is now graded Developing")
    expect(page.locator("#area-QA-3")).to_contain_text("Agree: Developing")  # the form now shows her grade
    assert still_same_page(page)
    assert_accessible(page, "moderation form after a stale save")
    assert errors == []


def test_a_second_teacher_moderates_by_keyboard_only(page: Page, live_url):
    errors = watch_errors(page)
    sign_in(page, live_url, "qoe_teacher")
    # Given the city teacher's graded visit waits in "Moderations to do"
    open_from_queue(page, live_url, "Moderate.*Nurture Hub")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Moderation: Nurture Hub")
    expect(page.locator("#area-QA-1")).to_contain_text("Provisional")
    assert_accessible(page, "moderation form")
    mark_page(page)
    # When the county teacher agrees with every grade but changes Attendance to Developing, without a reason
    for area in AREAS:
        tab_to(page, f'input[name="moderation-{area}"]')
        page.keyboard.press("Space")  # "Agree: Secure" comes first
        if area == "QA-5":
            page.keyboard.press("ArrowDown")  # Change to Strong
            page.keyboard.press("ArrowDown")  # Change to Developing
    tab_to(page, "#moderation-form button.govuk-button")
    page.keyboard.press("Enter")
    # Then the form asks for the reason, in place, keeping every choice
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Give the reason for changing the Attendance, behaviour and support grade")
    expect(page.locator('input[name="moderation-QA-5"][value="developing"]')).to_be_checked()
    assert focus_is_in(page, ".govuk-error-summary") and still_same_page(page)
    assert_accessible(page, "moderation form with errors")
    # When the reason is typed and the form sent again
    tab_to(page, "#reason-QA-5")
    page.keyboard.type("Attendance falls in the second half term; no follow-up recorded")
    tab_to(page, "#moderation-form button.govuk-button")
    page.keyboard.press("Enter")
    # Then every grade is moderated, the changed one counts, and grading is complete
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("8 changes saved")
    expect(page.locator("#grading-blockers")).to_contain_text("grading is complete")
    expect(page.locator("#area-QA-5")).to_contain_text("Developing (moderated; graded Secure)")
    expect(page.locator("#area-QA-1")).to_contain_text("Agreed by Tomas Teacher")
    assert still_same_page(page)
    assert_accessible(page, "moderation form saved")
    assert errors == []


def test_queue_and_finalised_filters_update_in_place_by_keyboard(page: Page, live_url):
    errors = watch_errors(page)
    sign_in(page, live_url, "qoe_teacher")
    # Given the teacher's queues
    page.goto(f"{live_url}/grading/")
    mark_page(page)
    # When they choose Leicester City with the keyboard
    tab_to(page, "#council")
    page.keyboard.press("ArrowDown")
    # Then the queues are narrowed in place and the address says so
    expect(page).to_have_url(re.compile(r"council=\d+"))
    expect(page.locator("#grading-queues")).not_to_contain_text("Nurture Hub")
    assert still_same_page(page)
    page.get_by_role("button", name="Sign out").click()
    # Given a maintainer's list of audits finalised this week
    sign_in(page, live_url, "maintainer")
    page.goto(f"{live_url}/")
    tab_to(page, 'main a[href="/finalised-this-week"]')
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audits finalised this week")
    mark_page(page)
    # When they choose a type of audit with the keyboard
    tab_to(page, "#audit_type")
    page.keyboard.press("ArrowDown")
    # Then the list is replaced in place
    expect(page).to_have_url(re.compile(r"audit_type=safeguarding"))
    expect(page.locator("#finalised-audits h2")).to_contain_text("finalised")
    assert still_same_page(page)
    assert_accessible(page, "finalised this week filtered")
    assert errors == []

