"""Sessions end on the server: a cookie copied before sign-out (or before a password change elsewhere) is refused
when replayed, on pages and on the device's JSON routes alike."""
from __future__ import annotations

from . import world

COOKIE = "auditapp_session"


def _signed_in(client, auth, role: str = "auditor") -> str:
    assert auth.login(role).status_code == 302
    assert client.get("/").status_code == 200
    return client.get_cookie(COOKIE).value


def test_a_cookie_copied_before_sign_out_is_refused_on_pages_and_on_sync_config(client, auth):
    copied = _signed_in(client, auth)
    assert client.get("/sync/config").status_code == 200
    assert auth.logout().status_code == 302
    client.set_cookie(COOKIE, copied)
    page = client.get("/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/sign-in")
    config = client.get("/sync/config")
    assert config.status_code == 401
    assert config.get_json() == {"code": "auth.required", "message": "Sign in to continue", "details": {}}
    assert "csrf_token" not in config.get_data(as_text=True)


def test_sign_out_ends_the_users_sessions_on_other_devices_too(app, client, auth):
    tablet = app.test_client()
    _signed_in(tablet, type(auth)(tablet))
    _signed_in(client, auth)
    auth.logout()
    assert tablet.get("/sync/config").status_code == 401


def test_signing_in_again_after_sign_out_works(client, auth):
    _signed_in(client, auth)
    auth.logout()
    _signed_in(client, auth)
    assert client.get("/sync/config").status_code == 200


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, client, auth):
    other = app.test_client()
    _signed_in(other, type(auth)(other), "maintainer")
    _signed_in(client, auth, "maintainer")
    changed = client.post("/account/password", data={
        "current_password": world.PASSWORD, "new_password": "another long password",
        "confirm_password": "another long password", "csrf_token": auth.csrf("/")})
    assert changed.status_code == 303
    assert client.get("/").status_code == 200
    answer = other.get("/")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/sign-in")
