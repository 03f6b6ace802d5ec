"""Support for the whole-journey browser test: the stacks it runs on, and what it checks on every page.

On every page the journey visits: no console error (Content-Security-Policy violations included), 0 axe-core
violations, and no 5xx answered by the server (read from what the browser received and from the server's log).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from playwright.sync_api import BrowserContext, Page, expect

from .browser_helpers import assert_accessible

# Record CSP violations as the page sees them: Chromium reports them on the console too, but a listener
# sees every one, including those of a style attribute set by a script.
CSP_LISTENER = """document.addEventListener('securitypolicyviolation', (e) => {
  (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile + ':' + e.lineNumber);
});"""
# What Chromium logs while the emulated network is cut: the browser reporting the offline state the test made,
# not an error of the app (the app's own handling of it is what the test checks).
OFFLINE_NOISE = re.compile(r"net::ERR_INTERNET_DISCONNECTED|Failed to fetch")


@dataclass
class Stack:
    """Where the journey runs: a base URL, each demo user's password, and the server's log of errors."""

    name: str
    url: str
    password_of: Callable[[str], str]
    server_errors: Callable[[], list[str]]


@dataclass
class Watch:
    """Collects what must not happen on any page: console errors, page errors, CSP violations, 5xx responses."""

    offline: bool = False
    problems: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.add_init_script(CSP_LISTENER)
        context.on("page", self._page)
        context.on("response", lambda r: r.status >= 500 and self.problems.append(f"{r.status} from {r.url}"))
        for page in context.pages:
            self._page(page)

    def _page(self, page: Page) -> None:
        page.on("console", lambda m: m.type == "error" and self._console(page, m.text))
        page.on("pageerror", lambda e: self.problems.append(f"page error on {page.url}: {e}"))

    def _console(self, page: Page, text: str) -> None:
        if self.offline and OFFLINE_NOISE.search(text):
            return
        self.problems.append(f"console error on {page.url}: {text}")

    def check(self, page: Page, where: str) -> None:
        """The page as it is now: accessible, no CSP violation, and nothing went wrong so far."""
        assert_accessible(page, where)
        violations = page.evaluate("() => window.__csp || []")
        assert not violations, f"{where}: CSP violations {violations}"
        assert not self.problems, f"{where}: {self.problems}"


def sign_in(page: Page, stack: Stack, email: str, watch: Watch) -> None:
    page.goto(f"{stack.url}/sign-in")
    watch.check(page, "sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(stack.password_of(email))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    watch.check(page, f"home of {email}")


def navigate(page: Page, name: str, watch: Watch, heading: str | re.Pattern | None = None) -> None:
    """Follow a link of the service navigation by its visible name."""
    link = page.get_by_role("navigation").get_by_role("link", name=name, exact=True).first
    href = link.get_attribute("href")
    link.click()
    page.wait_for_url(re.compile(re.escape(href) + r"(\?.*)?$"))  # the new page, not the one it leaves
    page.wait_for_load_state()
    if heading is not None:
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    watch.check(page, name)


class ErrorLog(logging.Handler):
    """The in-process server's log: every record at ERROR or above (a 500 logs its traceback there)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def five_hundreds(wsgi_app, seen: list[str]):
    """Wrap a WSGI app to note every 5xx status it answers (the server's side of "no 5xx")."""
    def app(environ, start_response):
        def start(status, headers, exc_info=None):
            if status.startswith("5"):
                seen.append(f"{status} {environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}")
            return start_response(status, headers, exc_info)
        return wsgi_app(environ, start)
    return app
