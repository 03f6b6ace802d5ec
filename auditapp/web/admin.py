"""Administration: users and published audit templates."""
from __future__ import annotations

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select

from .. import queries
from ..db import db
from ..models import Organisation
from ..models.enums import ROLES
from ..security import roles
from ..services import templates as template_service
from ..services import users
from ..services.errors import DomainError
from . import render
from .forms import NewUserSchema

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/users", endpoint="users")
@roles("admin")
def users_index():
    """List every user with role and organisation."""
    return render("admin/users.html", users=users.list_users(db.session))


@bp.get("/users/new")
@roles("admin")
def user_new():
    """Show the new-user form."""
    return render("admin/user_new.html", "admin/_user_form.html", form={}, errors={}, **_form_options())


@bp.post("/users/new")
@roles("admin")
def user_create():
    """Create a user; invalid input gets the form back with 422 and the field messages."""
    try:
        data = NewUserSchema().load(request.form)
        user = users.create_user(db.session, current_user, users.NewUser(**data))
    except ValidationError as exc:
        return _form_again(exc.messages)
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        return _form_again(exc.details)
    db.session.commit()
    return redirect(url_for("admin.users", created=user.id), code=303)


@bp.get("/templates")
@roles("admin")
def templates():
    """List published template versions with their content hashes."""
    return render("admin/templates.html", versions=queries.template_version_summaries(db.session))


@bp.get("/templates/<int:version_id>")
@roles("admin")
def template_detail(version_id: int):
    """Show one template version's sections and items."""
    return render("admin/template_detail.html", version=template_service.get_version(db.session, version_id))


def _form_options() -> dict:
    organisations = db.session.scalars(select(Organisation).order_by(Organisation.kind, Organisation.name))
    return {"organisations": list(organisations), "roles": ROLES}


def _form_again(errors: dict):
    db.session.rollback()
    return render("admin/user_new.html", "admin/_user_form.html", status=422, form=request.form,
                  errors=errors, **_form_options())
