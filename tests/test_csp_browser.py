"""The strict Content-Security-Policy (no inline style, no inline script) holds on the pages reported to break
it (grading and moderation, the maintainer's provider page, confirming actions at review) and on every role's
home, menu pages and "Change your password". Each is loaded in headless Chromium as the role that uses it; the
browser reports no console error and no `securitypolicyviolation` event. Cheaper checks: the same pages' HTML
over HTTP, and every template and script in the source, hold no inline style or script.
"""
from __future__ import annotations

import re
import uuid
from pathlib import Path
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from auditapp.db import bind, session_scope

from . import grading_helpers as gh
from . import report_helpers as rh
from . import world
from .browser_helpers import sign_in
from .conftest import make_test_app, world_database
from .live_server import serving
from .review_helpers import LEAD

# Records every CSP violation the document sees, from the first byte of each page.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push({directive: e.violatedDirective, blocked: e.blockedURI,
                               source: e.sourceFile, line: e.lineNumber, sample: e.sample});
});
"""


@dataclass
class Pages:
    url: str
    grade: str
    moderate: str
    provider: str
    confirm: str


@pytest.fixture(scope="module")
def csp_live():
    """The app on its own world database, with a submitted safeguarding audit whose actions await confirmation."""
    database_url = world_database(f"auditapp_csp_{uuid.uuid4().hex[:8]}")
    app = make_test_app(database_url)
    binding = bind(database_url)
    with session_scope(binding) as session:
        ungraded, graded = gh.ungraded_world_audit(session), gh.graded_world_audit(session)
        submitted = rh.submitted_with_actions(session, app)
        paths = (f"/grading/{ungraded.id}", f"/grading/{graded.id}/moderation",
                 f"/maintainers/providers/{submitted.visit.provider_id}", f"/audits/{submitted.id}/actions/confirm")
    binding.engine.dispose()
    with serving(app) as url:
        yield Pages(url, *paths)


def _watch(page: Page) -> list[str]:
    """The page's console errors and uncaught script errors, collected as they happen."""
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    return console_errors


def _load(page: Page, url: str) -> list:
    """Open `url` and wait for it to settle; the CSP violations it recorded."""
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return page.evaluate("() => window.__cspViolations")


CASES = [("qoe_teacher", "grade"), ("qoe_teacher", "moderate"), ("maintainer", "provider"), (LEAD, "confirm")]


@pytest.mark.browser
@pytest.mark.parametrize("who,which", CASES)
def test_the_page_breaks_no_content_security_policy(page: Page, csp_live, who, which):
    page.add_init_script(RECORD_VIOLATIONS)
    console_errors = _watch(page)
    sign_in(page, csp_live.url, who)
    violations = _load(page, csp_live.url + getattr(csp_live, which))
    assert page.title() and "problem" not in page.title().lower()
    assert violations == [], violations
    assert console_errors == [], console_errors


# ---- the same pages over HTTP: no inline style attribute in what the server sends -------------------

@pytest.fixture
def pages(app, db_session):
    ungraded, graded = gh.ungraded_world_audit(db_session), gh.graded_world_audit(db_session)
    submitted = rh.submitted_with_actions(db_session, app)
    return {"grade": ("qoe_teacher", f"/grading/{ungraded.id}"),
            "moderate": ("qoe_teacher", f"/grading/{graded.id}/moderation"),
            "provider": ("maintainer", f"/maintainers/providers/{submitted.visit.provider_id}"),
            "confirm": (LEAD, f"/audits/{submitted.id}/actions/confirm")}


@pytest.mark.parametrize("which", ["grade", "moderate", "provider", "confirm"])
def test_the_rendered_page_has_no_inline_style(client, auth, pages, which):
    who, path = pages[which]
    if "@" in who:
        client.post("/sign-in", data={"email": who, "password": world.PASSWORD, "csrf_token": auth.csrf()})
    else:
        auth.login(who)
    response = client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert ' style="' not in html and "<style" not in html


# ---- every role's home, menu and password page in the browser -------------------------------------------

@pytest.mark.browser
@pytest.mark.parametrize("role", world.ROLES)
def test_every_menu_page_of_a_role_breaks_no_content_security_policy(page: Page, live_url, role):
    page.add_init_script(RECORD_VIOLATIONS)
    console_errors = _watch(page)
    sign_in(page, live_url, role)
    menu = page.get_by_role("navigation", name="Main menu").get_by_role("link")
    paths = menu.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert len(paths) >= 3
    for path in paths + ["/account/password"]:
        violations = _load(page, live_url + path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert violations == [], (path, violations)
        assert console_errors == [], (path, console_errors)


# ---- the source: no inline style or script anywhere ----------------------------------------------------

APP = Path(__file__).resolve().parent.parent / "auditapp"
INLINE_IN_TEMPLATES = re.compile(r"""\sstyle\s*=|<style[\s>]|<script(?![^>]*\ssrc=)[^>]*>"""
                                 r"""|\son[a-z]+\s*=\s*["']|javascript:""", re.I)
# A script may set CSSOM properties (element.style.width = …: allowed), never a style attribute or markup with one.
INLINE_IN_SCRIPTS = re.compile(r"""setAttribute\(\s*['"]style['"]|\.style\.cssText|style=\\?["']|<style""")


def test_no_template_holds_an_inline_style_or_script():
    found = [f"{path.relative_to(APP)}:{n}: {line.strip()}" for path in sorted((APP / "templates").rglob("*.html"))
             for n, line in enumerate(path.read_text().splitlines(), 1) if INLINE_IN_TEMPLATES.search(line)]
    assert found == []


def test_no_script_of_ours_writes_an_inline_style():
    scripts = [p for p in sorted((APP / "static" / "js").rglob("*.js"))] + [APP / "templates" / "capture" / "sw.js"]
    found = [f"{path.relative_to(APP)}:{n}: {line.strip()}" for path in scripts
             for n, line in enumerate(path.read_text().splitlines(), 1) if INLINE_IN_SCRIPTS.search(line)]
    assert found == []
