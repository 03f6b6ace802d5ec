"""`make run` smoke, for real: the Makefile's own command (embedded PostgreSQL, the demo, Flask's server) run
twice on one instance folder; every demo user signs in and opens their home page and every link of the
page's header (the menu and the user's bar): all 200, and the server logged no error. Ctrl-C stops the
web server and PostgreSQL."""
from __future__ import annotations

import http.cookiejar
import re
import signal
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

from .conftest import CSRF_RE
from .make_run_stack import MakeRunStack, process_running, make_run_stack

ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
STATUS_RE = re.compile(r'"[A-Z]+ (\S+) HTTP/[0-9.]+" (\d{3}) ')


class HeaderLinks(HTMLParser):
    """The local links inside the page's <header>: the service's menu and the signed-in user's bar."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "header":
            self.depth += 1
        href = dict(attrs).get("href") or ""
        if tag == "a" and self.depth and href.startswith("/"):
            self.links.append(href)

    def handle_endtag(self, tag):
        if tag == "header":
            self.depth -= 1


def _signed_in(stack: MakeRunStack, email: str) -> tuple[urllib.request.OpenerDirector, str]:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    token = CSRF_RE.search(opener.open(f"{stack.url}/sign-in").read().decode()).group(1)
    form = urllib.parse.urlencode({"email": email, "password": stack.passwords[email], "csrf_token": token})
    with opener.open(f"{stack.url}/sign-in", data=form.encode()) as response:  # 302 to the home page
        assert response.url == f"{stack.url}/", f"{email} was not signed in: {response.url}"
        return opener, response.read().decode()


def _status(opener, url: str) -> int:
    try:
        with opener.open(url) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_make_run_twice_then_every_demo_user_opens_their_home_and_every_menu_link(tmp_path):
    # Given `make run` on a fresh instance folder, stopped with Ctrl-C
    with make_run_stack(tmp_path, keep_instance=True) as first:
        first_postgres = first.postgres_pid()
        assert first_postgres is not None and "PostgreSQL (embedded" in first.log()
    assert first.process.returncode == 128 + signal.SIGINT
    assert not process_running(first_postgres) and first.postgres_pid() is None

    # When it is run again on the same folder (the data, the secret and the demo passwords are kept)
    with make_run_stack(tmp_path) as stack:
        assert stack.passwords == first.passwords and len(stack.passwords) >= 6
        postgres = stack.postgres_pid()
        failures, opened = [], 0
        for email in stack.passwords:
            opener, home = _signed_in(stack, email)
            parser = HeaderLinks()
            parser.feed(home)
            links = sorted(set(parser.links))
            assert "/" in links and len(links) >= 3, (email, links)
            for link in links:
                opened += 1
                status = _status(opener, stack.url + link)
                if status != 200:
                    failures.append(f"{email} {link}: {status}")
        # Then every home page and every link of every user's menu answers 200
        assert failures == []
        assert opened >= 3 * len(stack.passwords)

    # And the server logged no error, and Ctrl-C stopped the web server and then PostgreSQL
    log = ANSI_RE.sub("", stack.log())
    assert "Traceback" not in log, log
    assert [line for line in STATUS_RE.findall(log) if line[1].startswith("5")] == [], log
    assert "Demo sign-ins" in log and "PostgreSQL stopped." in log
    assert stack.process.returncode == 128 + signal.SIGINT
    assert not process_running(postgres) and stack.postgres_pid() is None
