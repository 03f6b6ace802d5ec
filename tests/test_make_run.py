"""`make run` smoke, for real: the Makefile's own command (embedded PostgreSQL, the demo, Flask's server) run
twice on one instance folder; every demo user signs in and opens their home page and every link of the
page's header (the menu and the user's bar): all 200, and the server logged no error. Ctrl-C stops the
web server and PostgreSQL."""
from __future__ import annotations

import http.cookiejar
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

import pytest

from .conftest import CSRF_RE
from .make_run_stack import (REPO, MakeRunStack, free_port, instance_folder, make_run_env, make_run_stack,
                             makefile_run_command, process_running)

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


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One instance folder for this module's runs (the second test re-runs on the first's data)."""
    path = tmp_path_factory.mktemp("make-run")
    yield path
    shutil.rmtree(instance_folder(path).parent, ignore_errors=True)


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


def test_make_run_twice_then_every_demo_user_opens_their_home_and_every_menu_link(run_dir):
    # Given `make run` on a fresh instance folder, stopped with Ctrl-C
    with make_run_stack(run_dir, keep_instance=True) as first:
        first_postgres = first.postgres_pid()
        assert first_postgres is not None and "PostgreSQL (embedded" in first.log()
    assert first.process.returncode == 128 + signal.SIGINT
    assert not process_running(first_postgres) and first.postgres_pid() is None

    # When it is run again on the same folder (the data, the secret and the demo passwords are kept)
    with make_run_stack(run_dir, keep_instance=True) as stack:
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


def test_one_make_run_per_instance_and_a_killed_ones_postgresql_is_taken_over(run_dir):
    with make_run_stack(run_dir, keep_instance=True) as stack:
        postgres = stack.postgres_pid()
        # When a second `make run` starts on the same instance folder
        second = subprocess.run(makefile_run_command("127.0.0.1", free_port()), cwd=REPO,
                                env=make_run_env(stack.instance), capture_output=True, text=True, timeout=120)
        # Then it is refused, saying why, and the first goes on serving
        assert second.returncode == 1
        assert "Another `make run`" in second.stderr and "Ctrl-C" in second.stderr, second.stderr
        assert _status(urllib.request.build_opener(), f"{stack.url}/sign-in") == 200
        # When the first is killed outright (no Ctrl-C): its web server goes with it, PostgreSQL stays
        stack.process.kill()
        stack.process.wait()
        assert _port_closes(stack.url)
        assert process_running(postgres)
        # Then the next `make run` takes that PostgreSQL over, serves, and stops it on Ctrl-C
        with make_run_stack(run_dir) as third:
            assert third.postgres_pid() == postgres
            assert f"PostgreSQL (pid {postgres}) was still running" in third.log()
        assert not process_running(postgres) and third.postgres_pid() is None


def _port_closes(url: str, timeout: float = 10.0) -> bool:
    host, port = url.removeprefix("http://").split(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
        except OSError:
            return True
        time.sleep(0.2)
    return False
