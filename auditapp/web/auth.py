"""Sign in and sign out."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, url_for
from flask_login import current_user, login_user, logout_user
from marshmallow import ValidationError

from ..db import db
from ..security import public, roles
from ..models.enums import ROLES
from ..services import users
from ..services.errors import AuthenticationFailed
from . import render
from .forms import LoginSchema, safe_next

bp = Blueprint("auth", __name__)


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
        user = users.authenticate(db.session, form["email"], form["password"],
                                  max_failures=current_app.config["LOGIN_MAX_FAILURES"],
                                  lockout_minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"])
    except AuthenticationFailed as exc:
        db.session.commit()  # keep the failure count: it is what makes the lockout work
        status = 429 if exc.code == "auth.locked" else 401
        return render("auth/login.html", status=status, form={"email": form["email"]},
                      errors={"email": [exc.message]}, next=next_url)
    db.session.commit()
    login_user(user)
    return redirect(next_url or url_for("home.index"))


@bp.post("/sign-out")
@roles(*ROLES)
def logout():
    """End the session."""
    logout_user()
    return redirect(url_for("auth.login"))
