"""Lockout by account and client address (services.users.authenticate): an unknown email, a wrong password and a
locked account give one answer after the same argon2 work; a stranger's failures lock only their own address out,
and failures from many addresses pause the account briefly (growing, capped), never for an address the user has
signed in from."""
from __future__ import annotations

import re
import statistics
import time
from datetime import datetime, timedelta, timezone

import pytest

from auditapp.models import AuditLogEntry, SignInAddress
from auditapp.services import users
from auditapp.services.errors import AuthenticationFailed

from . import world
from .conftest import CSRF_RE

T0 = datetime(2026, 12, 8, 9, 0, tzinfo=timezone.utc)
WRONG = "not the password at all"


def _post(client, email: str, password: str, address: str):
    token = CSRF_RE.search(client.get("/sign-in").get_data(as_text=True)).group(1)
    started = time.perf_counter()
    response = client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token},
                           environ_base={"REMOTE_ADDR": address})
    return response, time.perf_counter() - started


def _normalised(response, email: str) -> tuple[int, str]:
    body = CSRF_RE.sub('name="csrf_token" value=""', response.get_data(as_text=True))
    return response.status_code, re.sub(re.escape(email), "EMAIL", body)


def _lock(client, email: str, address: str) -> None:
    for _ in range(5):
        assert _post(client, email, WRONG, address)[0].status_code == 401


def test_unknown_email_wrong_password_and_locked_account_answer_alike(client, db_session):
    known = world.EMAIL["school"]
    unknown, _ = _post(client, "nobody@example.org", WRONG, "203.0.113.5")
    wrong, _ = _post(client, known, WRONG, "203.0.113.6")
    _lock(client, known, "203.0.113.7")
    locked, _ = _post(client, known, world.PASSWORD, "203.0.113.7")  # the right password, from the locked address
    answers = {_normalised(unknown, "nobody@example.org"), _normalised(wrong, known), _normalised(locked, known)}
    assert len(answers) == 1
    status, body = answers.pop()
    assert status == 401 and "Enter a correct email address and password" in body
    assert client.get("/").status_code == 302
    db_session.expire_all()
    assert db_session.query(AuditLogEntry).filter_by(action="user.locked").count() == 1


def test_a_locked_account_takes_as_long_to_answer_as_a_wrong_password(client):
    """Each refusal does one argon2 verification (a dummy hash for the unknown and the locked): before, a locked
    account answered in ~16 ms and a wrong password in ~300 ms. Medians of three, a loose bound: not a race."""
    known = world.EMAIL["qoe_teacher"]
    _lock(client, known, "198.51.100.1")
    times = {"unknown": [], "wrong": [], "locked": []}
    for attempt in range(3):
        times["unknown"].append(_post(client, f"nobody{attempt}@example.org", WRONG, "198.51.100.2")[1])
        times["wrong"].append(_post(client, known, WRONG, f"198.51.100.{10 + attempt}")[1])
        times["locked"].append(_post(client, known, world.PASSWORD, "198.51.100.1")[1])
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    assert min(medians.values()) > 0.3 * max(medians.values()), medians


def test_a_strangers_failures_lock_only_their_own_address(client):
    _lock(client, world.EMAIL["auditor"], "198.51.100.66")
    assert _post(client, world.EMAIL["auditor"], world.PASSWORD, "198.51.100.66")[0].status_code == 401
    signed_in, _ = _post(client, world.EMAIL["auditor"], world.PASSWORD, "192.0.2.10")
    assert signed_in.status_code == 302 and client.get("/").status_code == 200


def _try(db_session, password: str, address: str, now: datetime) -> bool:
    try:
        users.authenticate(db_session, world.EMAIL["maintainer"], password, address=address, max_failures=5,
                           lockout_minutes=15, now=now)
    except AuthenticationFailed as exc:
        assert exc.code == "auth.invalid_credentials"
        return False
    return True


def test_an_address_stays_locked_for_the_lockout_minutes_then_signs_in(db_session):
    for second in range(5):
        assert not _try(db_session, WRONG, "10.1.1.1", T0 + timedelta(seconds=second))
    assert not _try(db_session, world.PASSWORD, "10.1.1.1", T0 + timedelta(minutes=14))
    assert _try(db_session, world.PASSWORD, "10.1.1.1", T0 + timedelta(minutes=15, seconds=5))


def test_failures_from_many_addresses_pause_the_account_briefly_growing_and_capped(db_session):
    assert _try(db_session, world.PASSWORD, "10.9.9.9", T0)  # the user's own address
    now = T0 + timedelta(minutes=1)
    for n in range(users.ACCOUNT_FREE_FAILURES):  # a stranger, one failure from each of many addresses
        assert not _try(db_session, WRONG, f"10.2.0.{n}", now)
    pauses = []
    user = world.user(db_session, "maintainer")
    for n in range(7):
        pause = user.locked_until - now
        pauses.append(pause.total_seconds())
        # During the pause a new address is refused even with the right password (not counted as a failure).
        assert not _try(db_session, world.PASSWORD, f"10.3.0.{n}", now + pause - timedelta(seconds=1))
        now = now + pause
        assert not _try(db_session, WRONG, f"10.4.0.{n}", now)
    assert pauses == [2, 4, 8, 16, 32, 60, 60]
    # The user's own address is not paused: the stranger cannot keep them out.
    assert _try(db_session, world.PASSWORD, "10.9.9.9", now + timedelta(seconds=1))


def test_after_the_pause_a_new_address_signs_in(db_session):
    for n in range(users.ACCOUNT_FREE_FAILURES):
        assert not _try(db_session, WRONG, f"10.5.0.{n}", T0)
    assert not _try(db_session, world.PASSWORD, "10.6.0.1", T0 + timedelta(seconds=1))
    assert _try(db_session, world.PASSWORD, "10.6.0.1", T0 + timedelta(seconds=3))


def test_an_administrators_password_reset_unlocks_every_address(db_session):
    for second in range(5):
        assert not _try(db_session, WRONG, "10.7.7.7", T0 + timedelta(seconds=second))
    users.set_password(db_session, None, world.user(db_session, "maintainer"), world.PASSWORD)
    db_session.flush()
    assert _try(db_session, world.PASSWORD, "10.7.7.7", T0 + timedelta(seconds=10))


def test_addresses_that_only_failed_long_ago_are_forgotten(db_session):
    for n in range(3):
        assert not _try(db_session, WRONG, f"10.8.0.{n}", T0)
    assert not _try(db_session, WRONG, "10.8.1.1", T0 + timedelta(hours=1))
    db_session.flush()
    kept = {row.address for row in db_session.query(SignInAddress).filter_by(user_id=world.user(db_session, "maintainer").id)}
    assert kept == {"10.8.1.1"}


def test_behind_a_proxy_the_lock_is_by_the_forwarded_client_address(database_url):
    """AUDITAPP_PROXY_HOPS=1 (a load balancer): without it every client would share the balancer's address, and a
    stranger's failures would lock the user out along with them."""
    from auditapp.db import db as app_db
    from auditapp.config import ConfigError, load_config
    from .conftest import make_test_app, rolled_back_session
    proxied = make_test_app(database_url, PROXY_HOPS=1)
    client = proxied.test_client()
    with rolled_back_session(proxied):
        for _ in range(5):
            token = CSRF_RE.search(client.get("/sign-in").get_data(as_text=True)).group(1)
            assert client.post("/sign-in", data={"email": world.EMAIL["school"], "password": WRONG, "csrf_token": token},
                               headers={"X-Forwarded-For": "203.0.113.99"}).status_code == 401
        for forwarded, status in (("203.0.113.99", 401), ("198.51.100.42", 302)):
            token = CSRF_RE.search(client.get("/sign-in").get_data(as_text=True)).group(1)
            answer = client.post("/sign-in", data={"email": world.EMAIL["school"], "password": world.PASSWORD,
                                                   "csrf_token": token}, headers={"X-Forwarded-For": forwarded})
            assert answer.status_code == status, forwarded
    app_db.binding(proxied).engine.dispose()
    env = {"AUDITAPP_SECRET_KEY": "s" * 40, "AUDITAPP_DATABASE_URL": "postgresql://localhost/x"}
    assert load_config(environ={**env, "AUDITAPP_PROXY_HOPS": "0"})["PROXY_HOPS"] == 0
    with pytest.raises(ConfigError, match="AUDITAPP_PROXY_HOPS must be 0 or more"):
        load_config(environ={**env, "AUDITAPP_PROXY_HOPS": "-1"})


def test_the_sign_in_page_always_says_how_the_lockout_works(client):
    """Said on every sign-in page, locked or not, since the refusal itself never says so."""
    page = " ".join(client.get("/sign-in").get_data(as_text=True).split())
    assert "After 5 failed attempts, signing in from this device is paused for 15 minutes" in page
