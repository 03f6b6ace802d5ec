"""QE audits for the grading tests: the world's examples (services/grading_demo.py) and fresh ones."""
from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditapp.models import Audit, Provider, User, Visit
from auditapp.services import grading_demo
from auditapp.services.audits import audit_id_for
from auditapp.services.grading import AreaGrade, Moderation, load_sheet, moderate_grades, record_grades

from . import world

CITY_TEACHER = grading_demo.TEACHER  # Taylor; world.EMAIL["qoe_teacher"] is Tomas (county)
AREAS = [f"QA-{n}" for n in range(1, 8)]


def teacher(session: Session, email: str = CITY_TEACHER) -> User:
    return session.scalar(select(User).where(User.email == email))


def world_example(session: Session, legal_name: str) -> Audit:
    days = next(d for name, d, _ in grading_demo.EXAMPLES if name == legal_name)
    visit = session.scalar(select(Visit).join(Provider).where(
        Provider.legal_name == legal_name, Visit.visit_date == world.TODAY - timedelta(days=days)))
    return session.get(Audit, audit_id_for(visit.id, "quality_education"))


def ungraded_world_audit(session: Session) -> Audit:
    """Submitted by the city teacher, no grades yet."""
    return world_example(session, grading_demo.EXAMPLES[0][0])


def graded_world_audit(session: Session) -> Audit:
    """Submitted by the city teacher and graded Secure throughout by her; nothing moderated."""
    return world_example(session, grading_demo.EXAMPLES[1][0])


def grades(audit_id: uuid.UUID, by_area: dict[str, str], base: int = 0) -> list[AreaGrade]:
    return [AreaGrade(audit_id, area, grade, f"Reasons for {area}", base) for area, grade in by_area.items()]


def grade_all(session: Session, actor: User, audit: Audit, grade: str = "secure", overall: str | None = None) -> None:
    sheet = load_sheet(session, audit.id)
    versions = {a: r.version for a, r in sheet.rows.items()}
    changes = {area: grade for area in AREAS} | {"overall": overall or grade}
    record_grades(session, actor, [AreaGrade(audit.id, a, g, f"Reasons for {a}", versions.get(a, 0))
                                   for a, g in changes.items()])


def agree_all(session: Session, actor: User, audit: Audit) -> None:
    sheet = load_sheet(session, audit.id)
    moderate_grades(session, actor, [Moderation(audit.id, a, "agreed", None, "", r.version)
                                     for a, r in sheet.rows.items()])
