"""The directory: schools search listed providers; maintainers see everything and their queue."""
from __future__ import annotations

from flask import Blueprint, request
from flask_login import current_user
from marshmallow import ValidationError

from .. import queries
from ..db import db
from ..models.enums import DISTRICTS, KEY_STAGES, PROVISION_TYPES
from ..security import roles
from . import render
from .forms import DirectoryFiltersSchema

bp = Blueprint("directory", __name__, url_prefix="/directory")
DIRECTORY_ROLES = ("school", "maintainer", "qoe_teacher", "admin")
LA_ROLES = ("maintainer", "qoe_teacher", "admin")
FILTER_OPTIONS = {"districts": DISTRICTS, "provision_types": PROVISION_TYPES, "key_stages": KEY_STAGES}


@bp.get("/")
@roles(*DIRECTORY_ROLES)
def index():
    """Search the directory; an HTMX request gets only the results."""
    try:
        filters = queries.DirectoryFilters(**DirectoryFiltersSchema().load(request.args))
    except ValidationError as exc:
        return render("directory/index.html", "directory/_results.html", status=422, providers=[],
                      filters=request.args, errors=exc.messages, **FILTER_OPTIONS)
    providers = queries.directory(db.session, current_user, filters)
    return render("directory/index.html", "directory/_results.html", providers=providers, filters=filters.__dict__,
                  errors={}, **FILTER_OPTIONS)


@bp.get("/providers/<int:provider_id>")
@roles(*DIRECTORY_ROLES)
def provider(provider_id: int):
    """One provider: schools see the public entry; LA roles also see contacts, sites and visits."""
    found = queries.provider_for(db.session, current_user, provider_id)
    visits = queries.provider_visits(db.session, found.id) if current_user.role in LA_ROLES else []
    return render("directory/provider.html", provider=found, visits=visits,
                  la_view=current_user.role in LA_ROLES)


@bp.get("/queue")
@roles("maintainer", "admin")
def queue():
    """Providers waiting for a maintainer's decision, most urgent first."""
    return render("directory/queue.html", queue=queries.directory_queue(db.session))
