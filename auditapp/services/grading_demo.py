"""Demo data for the QoE grading queues: past quality of education visits whose audits are
submitted, one waiting for grades and one graded and waiting for a second teacher.

Written through the same services the tablets and pages use (start, answers, submit, grades), by
the city teacher, so the county teacher (the demo's and the tests' QoE teacher) sees both in
their queues while their own visits and sync feed stay as they were. Idempotent: a visit is found
by provider and date, the audit id is derived, and a submitted audit is left alone.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clock
from ..models import Audit, Provider, User, Visit, VisitAssignment, VisitAuditType
from .access import items_of
from .audits import StartAudit, audit_id_for, start_audits, submit_audits
from .capture import Change, record_answers
from .grading import OVERALL, AreaGrade, load_sheet, record_grades
from .providers import schedule_visit
from .templates import latest_version

TEACHER = "teacher@city.example.org"
# provider legal name, days before today, grade the teacher gives (None: left for grading)
EXAMPLES = (
    ("Abbey Park Boxing Academy CIC", 12, None),  # Leicester City
    ("Market Bosworth Nurture Hub Ltd", 20, "secure"),  # Leicestershire County
)
NOTES = {"partially_met": "Plans exist, but outcomes are not measurable yet."}


def seed_grading_examples(session: Session, today: date) -> None:
    """Create the example QE visits and audits that are missing; leave existing ones as they are."""
    teacher = session.scalar(select(User).where(User.email == TEACHER))
    version = latest_version(session, "quality_education")
    for legal_name, days_ago, grade in EXAMPLES:
        provider = session.scalar(select(Provider).where(Provider.legal_name == legal_name))
        if teacher is None or provider is None:
            continue
        visit = _visit(session, teacher, provider, today - timedelta(days=days_ago))
        audit_id = audit_id_for(visit.id, "quality_education")
        existing = session.get(Audit, audit_id)
        if existing is not None and existing.status != "draft":
            continue
        with clock.frozen(datetime.combine(visit.visit_date, time(15), clock.LONDON)):  # on the day of the visit
            start_audits(session, teacher, [StartAudit("demo", audit_id, visit.id, "quality_education", version.id)])
            _answer_everything(session, teacher, audit_id, version.content)
            submit_audits(session, teacher, [("demo", audit_id)])
        if grade:
            sheet = load_sheet(session, audit_id)
            record_grades(session, teacher, [AreaGrade(audit_id, a["key"], grade, _reason(a, grade), 0)
                                             for a in sheet.areas])


def _visit(session: Session, teacher: User, provider: Provider, when: date) -> Visit:
    # The example's visit is the teacher's QE visit at the provider not yet finalised (not its past visits of
    # services/demo_history.py), whenever it was seeded: make run again on a later day finds it, books no other.
    visits = session.scalars(select(Visit).join(VisitAuditType).join(VisitAssignment).where(
        Visit.provider_id == provider.id, VisitAuditType.audit_type == "quality_education",
        VisitAssignment.user_id == teacher.id).order_by(Visit.id))
    visit = next((v for v in visits if getattr(session.get(Audit, audit_id_for(v.id, "quality_education")), "status",
                                               None) != "finalised"), None)
    return visit or schedule_visit(session, None, provider, provider.sites[0], when, ["quality_education"], [teacher.id])


def _answer_everything(session: Session, teacher: User, audit_id: uuid.UUID, content: dict) -> None:
    rated = [key for key, item in items_of(content).items() if item.get("answer", "rating") == "rating"]
    changes = []
    for index, key in enumerate(rated):
        rating = "partially_met" if index % 7 == 3 else "met"
        fields = {"rating": rating, **({"note": NOTES[rating]} if rating in NOTES else {})}
        changes.append(Change(key, uuid.uuid5(audit_id, key), audit_id, key, 0, fields))
    record_answers(session, teacher, changes)


def _reason(area: dict, grade: str) -> str:
    what = "the audit overall" if area["key"] == OVERALL else area["title"].lower()
    return f"{grade.capitalize()} for {what}: most items met, minor gaps noted in the ratings."
