"""What every browser test does the same way: axe-core checks, signing in, moving focus by keyboard."""
from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Locator, Page, expect

from . import world

AXE = Axe()
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}}


def assert_accessible(page: Page, where: str = "") -> None:
    """axe-core finds no violation of WCAG 2.2 AA (and best practice) on the page as it is now."""
    results = AXE.run(page, options=WCAG)
    assert results.violations_count == 0, f"{where}: {page.url}\n{results.generate_report()}"


def sign_in(page: Page, base: str, who: str = "auditor") -> None:
    """Sign in through the form as `who`: a role of the test world (world.EMAIL) or an email address."""
    page.goto(f"{base}/sign-in")
    page.get_by_label("Email address").fill(who if "@" in who else world.EMAIL[who])
    page.get_by_label("Password", exact=True).fill(world.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def tab_to(page: Page, target: str | Locator, limit: int = 600) -> None:
    """Press Tab until the focus is on `target` (a CSS selector or a locator), as a keyboard user would."""
    for _ in range(limit):
        if isinstance(target, str):
            focused = page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", target)
        else:
            focused = target.evaluate("element => element === document.activeElement")
        if focused:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")
