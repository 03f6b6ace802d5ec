"""Sign-in: argon2 passwords, lockout, CSRF, safe redirects, cookie flags and security headers; changing
your own password."""
import re

import pytest

from auditapp.models import AuditLogEntry, User
from auditapp.services import users

from . import world
from .conftest import Auth, make_test_app


@pytest.mark.parametrize("role, heading", [
    ("auditor", "Your upcoming visits"),
    ("qoe_teacher", "Your upcoming quality of education visits"),
    ("maintainer", "Providers waiting for a decision"),
    ("school", "Alternative provision directory"),
    ("admin", "Administration"),
])
def test_each_role_signs_in_and_lands_on_its_home_page(client, auth, role, heading):
    response = auth.login(role)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert heading in client.get("/").get_data(as_text=True)


def test_passwords_are_stored_as_argon2id(db_session):
    assert world.user(db_session, "auditor").password_hash.startswith("$argon2id$")


def test_wrong_password_is_refused_with_one_message_for_both_fields(client, auth):
    response = auth.login("auditor", password="wrong password")
    assert response.status_code == 401
    assert "Enter a correct email address and password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still signed out


def test_unknown_email_gets_the_same_answer(client, auth):
    response = client.post("/sign-in", data={"email": "nobody@example.org", "password": "x" * 20,
                                             "csrf_token": auth.csrf()})
    assert response.status_code == 401
    assert "Enter a correct email address and password" in response.get_data(as_text=True)


def test_repeated_failures_lock_the_account_even_for_the_right_password(client, auth, db_session):
    for _ in range(5):
        assert auth.login("school", password="guess " * 3).status_code == 401
    response = auth.login("school")
    assert response.status_code == 401  # answered like a wrong password (tests/test_lockout.py)
    assert "Enter a correct email address and password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    db_session.expire_all()
    assert db_session.query(AuditLogEntry).filter_by(action="user.locked").count() == 1


def test_empty_sign_in_form_gets_422_with_field_messages(client, auth):
    response = client.post("/sign-in", data={"csrf_token": auth.csrf()})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "Enter your email address" in body and "Enter your password" in body


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_sign_in_without_a_valid_csrf_token_is_refused(client, token):
    data = {"email": world.EMAIL["admin"], "password": world.PASSWORD}
    if token:
        data["csrf_token"] = token
    response = client.post("/sign-in", data=data)
    assert response.status_code == 400
    assert "request.csrf_failed" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_sign_out_needs_a_post_with_csrf(client, auth):
    auth.login("admin")
    assert client.get("/sign-out").status_code == 405
    assert client.post("/sign-out").status_code == 400
    assert client.get("/").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("target, lands", [("/admin/users", "/admin/users"), ("https://evil.example/", "/"),
                                           ("//evil.example/", "/")])
def test_after_sign_in_only_same_site_paths_are_followed(client, auth, target, lands):
    response = client.post("/sign-in", data={"email": world.EMAIL["admin"], "password": world.PASSWORD,
                                             "next": target, "csrf_token": auth.csrf()})
    assert response.headers["Location"] == lands


def test_a_password_change_ends_other_sessions(client, auth, db_session):
    auth.login("maintainer")
    assert client.get("/").status_code == 200
    users.set_password(db_session, None, world.user(db_session, "maintainer"), "a brand new password")
    db_session.flush()
    assert client.get("/").status_code == 302


def test_session_cookie_is_http_only_same_site_and_secure_when_configured(database_url):
    app = make_test_app(database_url, SESSION_COOKIE_SECURE=True)
    client = app.test_client()
    page = client.get("/sign-in")
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    from auditapp.db import db
    db.binding(app).engine.dispose()


def test_every_page_sends_security_headers(client):
    response = client.get("/sign-in")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_pages_carry_no_inline_script(client, auth):
    auth.login("admin")
    for path in ("/sign-in", "/", "/admin/users/new", "/directory/"):
        body = client.get(path).get_data(as_text=True)
        assert "<script>" not in body and "<script " not in body.replace('<script src=', '').replace('<script type="module" src=', '')


def test_create_user_service_refuses_a_role_outside_its_organisation_kind(db_session):
    school = world.user(db_session, "school").organisation
    with pytest.raises(Exception) as caught:
        users.create_user(db_session, None, users.NewUser(email="x@example.org", full_name="X", role="auditor",
                                                           organisation_id=school.id, password="p" * 12))
    assert caught.value.code == "user.invalid" and "organisation_id" in caught.value.details
    assert db_session.query(User).filter_by(email="x@example.org").count() == 0



# ---- changing your own password (the admin's new-user form tells new users to) ------------------------

NEW_PASSWORD = "a longer new password"


def _change(client, auth, current=world.PASSWORD, new=NEW_PASSWORD, confirm=NEW_PASSWORD, **extra):
    return client.post("/account/password", data={"current_password": current, "new_password": new,
                                                  "confirm_password": confirm, "csrf_token": auth.csrf("/"), **extra})


@pytest.mark.parametrize("role", world.ROLES)
def test_every_role_reaches_change_your_password_from_the_user_bar(client, auth, role):
    auth.login(role)
    home = client.get("/").get_data(as_text=True)
    bar = home[home.index("app-user-bar"):home.index("</header>")]
    assert 'href="/account/password">Change your password</a>' in bar
    page = client.get("/account/password")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    for field, label in (("current_password", "Current password"), ("new_password", "New password"),
                         ("confirm_password", "Confirm new password")):
        assert re.search(rf'<label class="govuk-label" for="{field}">\s*{label}\s*</label>', body), label
    assert 'autocomplete="current-password"' in body and 'autocomplete="new-password"' in body


def test_changing_your_password_keeps_this_session_and_ends_the_others(app, client, auth, db_session):
    auth.login("auditor")
    elsewhere = app.test_client()  # the same person signed in on a tablet
    Auth(elsewhere).login("auditor")
    assert elsewhere.get("/").status_code == 200
    response = _change(client, auth)
    assert response.status_code == 303 and response.headers["Location"] == "/account/password?changed=1"
    assert "Your password has been changed" in client.get("/account/password?changed=1").get_data(as_text=True)
    assert client.get("/").status_code == 200  # still signed in here
    assert elsewhere.get("/").status_code == 302  # signed out there
    db_session.expire_all()
    user = world.user(db_session, "auditor")
    entry = db_session.query(AuditLogEntry).filter_by(action="user.set_password", entity_id=str(user.id)).one()
    assert entry.actor_id == user.id
    auth.logout()
    assert auth.login("auditor").status_code == 401  # the old password no longer works
    assert auth.login("auditor", password=NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("fields, field, message", [
    ({"current": "not my password"}, "current_password", "Your current password is not correct"),
    ({"new": "short", "confirm": "short"}, "new_password", f"at least {users.MIN_PASSWORD_LENGTH} characters"),
    ({"new": world.PASSWORD, "confirm": world.PASSWORD}, "new_password", "must be different"),
    ({"confirm": "another long password"}, "confirm_password", "The passwords do not match"),
    ({"current": "", "new": "", "confirm": ""}, "current_password", "Enter your current password"),
])
def test_a_bad_password_change_is_422_with_the_field_error_and_changes_nothing(client, auth, db_session,
                                                                                fields, field, message):
    auth.login("school")
    before = world.user(db_session, "school").password_hash
    response = _change(client, auth, **fields)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert message in body and f'href="#{field}"' in body and f'id="{field}-error"' in body
    assert "Error: Change your password" in body
    db_session.expire_all()
    assert world.user(db_session, "school").password_hash == before
    assert db_session.query(AuditLogEntry).filter_by(action="user.set_password").count() == 0
    assert client.get("/").status_code == 200


def test_a_password_change_without_a_valid_csrf_token_is_refused(client, auth, db_session):
    auth.login("admin")
    before = world.user(db_session, "admin").password_hash
    for data in ({}, {"csrf_token": "forged"}):
        response = client.post("/account/password", data={
            "current_password": world.PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD, **data})
        assert response.status_code == 400
    db_session.expire_all()
    assert world.user(db_session, "admin").password_hash == before
