"""Change your password in headless Chromium: reached from the signed-in user's bar by its visible name, a wrong
current password shown in the error summary and at the field, then a change that keeps this session signed in;
axe-core finds no violations on the form, its error state or the confirmation. Run on its own world database,
since the password changes."""
from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from . import world
from .browser_helpers import assert_accessible, sign_in
from .conftest import make_test_app, world_database
from .live_server import serving

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def own_live_url():
    app = make_test_app(world_database(f"auditapp_password_{uuid.uuid4().hex[:8]}"))
    with serving(app) as url:
        yield url


def test_a_user_changes_their_password_from_the_user_bar(page: Page, own_live_url):
    sign_in(page, own_live_url, "school")
    page.get_by_role("link", name="Change your password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Change your password")
    assert_accessible(page, "change your password")
    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password", exact=True).fill("a much longer password")
    page.get_by_label("Confirm new password").fill("a much longer password")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Your current password is not correct")
    expect(page.locator("#current_password-error")).to_contain_text("Your current password is not correct")
    assert_accessible(page, "change your password, wrong current password")
    page.get_by_label("Current password").fill(world.PASSWORD)
    page.get_by_label("New password", exact=True).fill("a much longer password")
    page.get_by_label("Confirm new password").fill("a much longer password")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password has been changed")).to_be_visible()
    assert_accessible(page, "password changed")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()  # still signed in here
