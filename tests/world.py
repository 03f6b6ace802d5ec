"""The one known world every test starts from: the demo world, seeded with known passwords.

Tests refer to people by role through `EMAIL` and sign in with `PASSWORD`.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditapp import clock
from auditapp.models import Provider, User, Visit, VisitAssignment
from auditapp.services import demo

PASSWORD = "correct horse battery staple"
PASSWORDS = {row[0]: PASSWORD for row in demo.DEMO_USERS}
EMAIL = {
    "admin": "admin@county.example.org",
    "maintainer": "maintainer@city.example.org",
    "qoe_teacher": "teacher@county.example.org",
    "auditor": "auditor@assure.example.org",
    "school": "staff@beaumontleys.example.org",
    "la_officer": "officer@county.example.org",
}
ROLES = tuple(EMAIL)
# The world's "today" is the app's: the clock's date when the module is first imported (the world is built
# once per run, before any test). Dates in the world, and in tests, are relative to it, so the suite passes on
# any date (`make test` proves it under libfaketime at +400 and -200 days).
TODAY = clock.today()


def build(session: Session, upn_key: bytes | None = None) -> None:
    """Seed the known world into `session` (the caller commits); with placements when given the apps' UPN key."""
    demo.seed_demo(session, PASSWORDS, today=TODAY, upn_key=upn_key)


def user(session: Session, role: str) -> User:
    return session.scalar(select(User).where(User.email == EMAIL[role]))


def provider(session: Session, status: str) -> Provider:
    """The first provider (by id) holding a published status."""
    return session.scalar(select(Provider).where(Provider.directory_status == status).order_by(Provider.id).limit(1))


def visit_assigned_to(session: Session, role: str) -> Visit:
    """The first visit (by id) assigned to the world's user of `role`."""
    return session.scalar(select(Visit).join(VisitAssignment)
                          .where(VisitAssignment.user_id == user(session, role).id).order_by(Visit.id).limit(1))
