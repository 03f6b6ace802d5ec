"""Session cookies as security.SessionCookies keeps them: what a cookie holds is kept per process once its
signature has passed, but a changed cookie, an expired one or one signed with another key still fails."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from auditapp.db import db as app_db

from .conftest import Auth, make_test_app, world_database

COOKIE = "auditapp_session"


@pytest.fixture(scope="module")
def committed_url():
    return world_database(f"auditapp_cookies_{uuid.uuid4().hex[:8]}")


@pytest.fixture
def app(committed_url):
    app = make_test_app(committed_url)
    yield app
    app_db.binding(app).engine.dispose()


def signed_in(app):
    client = app.test_client()
    assert Auth(client).login("school").status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/").status_code == 200  # the second time from what the first check kept
    return client


def kept(app) -> dict:
    return app.extensions["session_cookies"]


def test_a_kept_cookie_changed_by_one_character_is_refused(app):
    client = signed_in(app)
    value = client.get_cookie(COOKIE).value
    assert value in kept(app)
    payload, _, signature = value.rpartition(".")
    forged = f"{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    client.set_cookie(COOKIE, forged)
    answer = client.get("/")
    assert answer.status_code == 302 and "/sign-in" in answer.headers["Location"]
    assert forged not in kept(app)


def test_a_kept_cookie_expires_with_the_session_lifetime(app):
    client = signed_in(app)
    assert client.get_cookie(COOKIE).value in kept(app)
    app.permanent_session_lifetime = timedelta(seconds=1)
    time.sleep(2.2)  # itsdangerous counts whole seconds: more than one means two
    answer = client.get("/")
    assert answer.status_code == 302 and "/sign-in" in answer.headers["Location"]


def test_a_new_secret_key_refuses_cookies_kept_under_the_old_one(app):
    client = signed_in(app)
    app.secret_key = "another-secret-key-for-this-test-only-0123456789"
    answer = client.get("/")
    assert answer.status_code == 302 and "/sign-in" in answer.headers["Location"]


def test_a_session_holding_a_list_is_never_kept(app):
    client = app.test_client()
    answer = client.get("/directory/")  # signed out: Flask-Login flashes "Sign in to continue" into a list
    assert answer.status_code == 302
    value = client.get_cookie(COOKIE).value
    assert client.get("/sign-in").status_code == 200
    assert value not in kept(app)


def test_a_kept_csrf_token_is_the_same_on_every_page_and_accepted(app):
    from .conftest import CSRF_RE

    # The per-process cache is emptied when full (MAX_SIGNED_TOKENS sessions); the session-scoped app has
    # served every earlier test, so start this one with room to spare, as a worker's first sessions have.
    app.extensions["signed_csrf_tokens"].clear()
    client = signed_in(app)
    tokens = {CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)
              for path in ("/", "/directory/", "/notifications/")}
    assert len(tokens) == 1 and tokens <= set(app.extensions["signed_csrf_tokens"].values())
    assert client.post("/sign-out", data={"csrf_token": "not-the-token"}).status_code == 400
    assert client.post("/sign-out", data={"csrf_token": tokens.pop()}).status_code == 302
