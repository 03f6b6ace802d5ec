"""Safeguarding concerns on the maintainers' provider page: a maintainer marks an open concern triaged
with a note of what was done. 303 (or HX-Redirect) back to the provider page when recorded; 422 with
the field error when the note is missing or too long, 409 when the concern is no longer open; nothing
is written in either case. The list itself is part of the provider page (maintainers/_concerns.html)."""
from __future__ import annotations

import uuid

from flask import Blueprint, request, url_for
from flask_login import current_user

from ..db import db
from ..security import roles
from ..services import concerns
from ..services.errors import Conflict, Invalid
from . import done, render
from .maintainer_forms import flat_errors
from .maintainer_pages import provider_context, provider_or_404

bp = Blueprint("concerns", __name__)


@bp.post("/maintainers/providers/<int:provider_id>/concerns/<uuid:concern_id>/triage")
@roles("maintainer")
def triage(provider_id: int, concern_id: uuid.UUID):
    """Mark the provider's open concern triaged, with what was done."""
    note = request.form.get("note", "")
    try:
        concerns.triage(db.session, current_user, concern_id, note, provider_id=provider_id)
    except Invalid as exc:
        errors = {note_id(concern_id): message for message in flat_errors(exc.details).values()}
        return _concerns_again(provider_id, concern_id, note, 422, errors=errors)
    except Conflict as exc:
        return _concerns_again(provider_id, concern_id, note, 409, refused=exc.message)
    db.session.commit()
    return done(url_for("maintainers.provider", provider_id=provider_id, done="triaged", _anchor="concerns"))


def note_id(concern_id: uuid.UUID) -> str:
    """The triage note's field id for one concern (several forms can be on the page; _concerns.html matches)."""
    return f"note-{concern_id}"


def _concerns_again(provider_id: int, concern_id: uuid.UUID, note: str, status: int, **problem):
    """The provider page (or, for htmx, its concerns section) again, with the note kept and the problem."""
    db.session.rollback()
    found = provider_or_404(db.session, provider_id)
    context = provider_context(db.session, found, current_user)
    return render("maintainers/provider.html", "maintainers/_concerns.html", status=status, **context,
                  concern_form={"concern_id": concern_id, "note": note},
                  concern_errors=problem.get("errors", {}), concern_refused=problem.get("refused"))

