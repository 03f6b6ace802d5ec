"""Sign in, sign out, and change your own password."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, url_for
from flask_login import current_user, login_user, logout_user
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from ..db import db
from ..security import public, roles
from ..models.enums import ROLES
from ..services import users
from ..services.errors import AuthenticationFailed, Invalid
from . import render
from .forms import LoginSchema, safe_next

bp = Blueprint("auth", __name__)


def _entered(message: str) -> validate.Length:
    return validate.Length(min=1, max=1000, error=message)


class ChangePasswordSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # csrf_token rides along

    current_password = fields.Str(required=True, validate=_entered("Enter your current password"),
                                  error_messages={"required": "Enter your current password"})
    new_password = fields.Str(required=True, validate=_entered("Enter a new password"),
                              error_messages={"required": "Enter a new password"})
    confirm_password = fields.Str(required=True, validate=_entered("Enter the new password again"),
                                  error_messages={"required": "Enter the new password again"})


@bp.get("/sign-in")
@public
def login():
    """Show the sign-in form (or go home when already signed in)."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    return render("auth/login.html", form={}, errors={}, next=safe_next(request.args.get("next")))


@bp.post("/sign-in")
@public
def login_submit():
    """Check the email and password; failures count towards a lockout."""
    next_url = safe_next(request.form.get("next"))
    try:
        form = LoginSchema().load(request.form)
    except ValidationError as exc:
        return render("auth/login.html", status=422, form=request.form, errors=exc.messages, next=next_url)
    try:
        user = sign_in(form["email"], form["password"])
    except AuthenticationFailed as exc:  # unknown, wrong or locked: one answer (services.users.authenticate)
        return render("auth/login.html", status=401, form={"email": form["email"]},
                      errors={"email": [exc.message]}, next=next_url)
    return redirect(next_url or url_for("home.index"))


def sign_in(email: str, password: str):
    """Check the password (failures count towards the lockout, kept even when refused) and start the session;
    the form here and the devices' JSON sign-in (sync/devices.py) both come through here.

    :raises auth.invalid_credentials: (one answer for unknown, wrong and locked)
    """
    try:
        user = users.authenticate(db.session, email, password, address=request.remote_addr,
                                  max_failures=current_app.config["LOGIN_MAX_FAILURES"],
                                  lockout_minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"])
    except AuthenticationFailed:
        db.session.commit()  # keep the failure count: it is what makes the lockout work
        raise
    db.session.commit()
    login_user(user)
    return user


@bp.post("/sign-out")
@roles(*ROLES)
def logout():
    """End the session on the server: every cookie of this user stops working, a copied one too."""
    users.end_sessions(db.session, users.get_user(db.session, current_user.id))
    db.session.commit()
    logout_user()
    return redirect(url_for("auth.login"))


@bp.get("/account/password")
@roles(*ROLES)
def password_form():
    """The form to change your own password (every role: new users get a temporary one)."""
    return _password_page(200, {}, changed=request.args.get("changed") == "1")


@bp.post("/account/password")
@roles(*ROLES)
def password_submit():
    """Check the current password and set the new one; other sessions end, this one stays signed in."""
    try:
        form = ChangePasswordSchema().load(request.form)
        user = users.get_user(db.session, current_user.id)
        users.change_own_password(db.session, user, form["current_password"], form["new_password"],
                                  form["confirm_password"])
    except ValidationError as exc:
        return _password_page(422, exc.messages)
    except Invalid as exc:
        return _password_page(422, exc.details)
    db.session.commit()
    login_user(user)  # the cookie now names the new session version: this session goes on, the others end
    return redirect(url_for("auth.password_form", changed=1), code=303)


def _password_page(status: int, errors: dict, changed: bool = False):
    return render("auth/password.html", status=status, errors=errors, changed=changed,
                  min_length=users.MIN_PASSWORD_LENGTH)
