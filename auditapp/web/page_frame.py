"""Whole pages kept rendered, with the signed-in user's own parts filled in for each request.

A kept page's content is the same for every user of an audience (the schools' search), but its
layout carries the user's name, organisation and CSRF token, and rendering the layout costs more
than everything else a kept search does. So the page is rendered once with markers where those
three go, and each request joins the pieces around its own values, escaped as the template would
have escaped them. Everything else in the layout (the navigation of the role, the unread count,
the page's endpoint) must be in the key the caller keeps the frame under.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from flask import make_response, render_template
from flask_login import current_user
from markupsafe import escape

from ..security import csrf_token

# Random per process, letters and digits only: no page content can contain them by chance or on purpose,
# and autoescaping leaves them as they are.
_MARK = f"frame{secrets.token_hex(8)}"
_SPLIT = re.compile(f"{_MARK}(name|organisation|csrf)x")


@dataclass(frozen=True, slots=True)
class _Organisation:
    name: str


@dataclass(frozen=True, slots=True)
class _MarkedUser:
    """What the layout reads of the signed-in user, with markers for the per-user values."""

    role: str
    full_name: str = f"{_MARK}namex"
    organisation: _Organisation = _Organisation(f"{_MARK}organisationx")
    is_authenticated: bool = True


@dataclass(frozen=True, slots=True)
class Frame:
    """A rendered page cut at its per-user values: pieces[0], value of slots[0], pieces[1], ..."""

    pieces: tuple[str, ...]
    slots: tuple[str, ...]


def build(template: str, **context) -> Frame:
    """Render `template` for the current user's role with markers for their name, organisation and CSRF token."""
    html = render_template(template, current_user=_MarkedUser(current_user.role),
                           csrf_token=lambda: f"{_MARK}csrfx", **context)
    cut = _SPLIT.split(html)  # text, slot, text, slot, ..., text
    return Frame(tuple(cut[0::2]), tuple(cut[1::2]))


def response(frame: Frame, status: int = 200):
    """The page for this request's user; `Vary: HX-Request` as for every page that has a fragment."""
    user = current_user._get_current_object()
    values = {"name": escape(user.full_name), "organisation": escape(user.organisation.name),
              "csrf": escape(csrf_token())}
    out = [frame.pieces[0]]
    for slot, piece in zip(frame.slots, frame.pieces[1:]):
        out += (values[slot], piece)
    answer = make_response("".join(out), status)
    answer.headers["Vary"] = "HX-Request"
    return answer
