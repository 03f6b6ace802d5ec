"""Read-only selects for QoE grading and the queues that follow a visit: QoE teachers' "visits to
grade" and "moderations to do", and the maintainers' "audits finalised this week".

Kept apart from queries.py, which serves the directory and visits; the edges check roles, these
functions scope rows by the user where the queue is personal.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import clock
from .models import Answer, Audit, Organisation, Provider, ProviderCouncil, QoeGrade, TemplateVersion, User, Visit
from .services.grading import GRADING_TYPE


@dataclass(frozen=True)
class QueueFilters:
    council_id: int | None = None
    mine_only: bool = False  # visits to grade: only audits the user carried out
    audit_type: str = ""  # finalised this week


@dataclass(frozen=True)
class QueueRow:
    audit_id: uuid.UUID
    provider_id: int
    provider_name: str
    visit_date: date
    author: str
    waiting_since: datetime  # submitted (to grade), grading completed (to moderate), finalised
    graded: int = 0
    areas: int = 0

    def age_days(self, now: datetime) -> int:
        return max(0, (clock.local_date(now) - clock.local_date(self.waiting_since)).days)


@dataclass(frozen=True)
class FinalisedRow:
    audit_id: uuid.UUID
    audit_type: str
    revision: int
    outcome: str | None
    provider_id: int
    provider_name: str
    visit_date: date
    finalised_at: datetime
    finalised_by: str | None


def councils(session: Session) -> list[Organisation]:
    """The councils, for the queues' filters."""
    return list(session.scalars(select(Organisation).where(Organisation.kind == "council").order_by(Organisation.name)))


def visits_to_grade(session: Session, user: User, filters: QueueFilters) -> list[QueueRow]:
    """Submitted QE audits whose grading is not complete, oldest submission first."""
    return [row for row, _ in _submitted_qe(session, user, filters) if row.graded < row.areas]


def moderations_to_do(session: Session, user: User, filters: QueueFilters) -> list[QueueRow]:
    """Fully graded QE audits with a grade by someone else that nobody has moderated, oldest first.

    An audit the user carried out never appears: its grades need a second teacher.
    """
    rows = []
    for row, grades in _submitted_qe(session, user, QueueFilters(filters.council_id)):
        waiting = [g for g in grades if g.moderation is None and g.graded_by_id != user.id]
        if row.graded == row.areas and waiting and row.author_id != user.id:
            rows.append(replace(row, waiting_since=max(g.graded_at for g in grades)))
    return sorted(rows, key=lambda r: (r.waiting_since, str(r.audit_id)))


def finalised_since(session: Session, since: datetime, filters: QueueFilters) -> list[FinalisedRow]:
    """Audits of every type finalised at or after `since`, newest first."""
    finaliser = select(User.id, User.full_name).subquery()
    query = (select(Audit, Visit.visit_date, Provider, finaliser.c.full_name)
             .join(Visit, Audit.visit_id == Visit.id).join(Provider, Visit.provider_id == Provider.id)
             .outerjoin(finaliser, finaliser.c.id == Audit.finalised_by_id)
             .where(Audit.status == "finalised", Audit.finalised_at >= since)
             .order_by(Audit.finalised_at.desc(), Audit.id))
    if filters.audit_type:
        query = query.where(Audit.audit_type == filters.audit_type)
    query = _in_council(query, filters.council_id)
    return [FinalisedRow(audit.id, audit.audit_type, audit.revision, audit.outcome, provider.id,
                         provider.display_name, visit_date, audit.finalised_at, by)
            for audit, visit_date, provider, by in session.execute(query)]


def week_start(now: datetime) -> datetime:
    """Midnight at the start of Monday of `now`'s week, in the councils' time zone (British Summer Time moves
    midnight)."""
    local = clock.local_date(now)
    monday = local - timedelta(days=local.weekday())
    return clock.day_start(monday)


def area_context(session: Session, audit: Audit, areas: list[dict]) -> dict[str, list[dict]]:
    """Per judgement area, the items of its sections with their stored rating and note (for the grader)."""
    content = session.get(TemplateVersion, audit.template_version_id).content
    answers = {a.item_key: a for a in session.scalars(select(Answer).where(Answer.audit_id == audit.id))}
    sections = {s["key"]: s for s in content["sections"]}
    context = {}
    for area in areas:
        items = []
        for key in area.get("sections", []):
            for item in sections.get(key, {}).get("items", []):
                answer = answers.get(item["key"])
                items.append({"key": item["key"], "question": item["question"],
                              "rating": answer.rating if answer else None,
                              "note": (answer.note or answer.na_reason) if answer else None})
        context[area["key"]] = items
    return context


def people(session: Session, ids: set[int]) -> dict[int, str]:
    """Full names by user id."""
    return dict(session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all()) if ids else {}


@dataclass(frozen=True)
class _Submitted(QueueRow):
    author_id: int = 0


def _submitted_qe(session: Session, user: User, filters: QueueFilters) -> list[tuple[_Submitted, list[QoeGrade]]]:
    query = (select(Audit, Visit.visit_date, Provider, User.full_name)
             .join(Visit, Audit.visit_id == Visit.id).join(Provider, Visit.provider_id == Provider.id)
             .join(User, User.id == Audit.created_by_id)
             .where(Audit.audit_type == GRADING_TYPE, Audit.status == "submitted")
             .order_by(Audit.submitted_at, Audit.id))
    if filters.mine_only:
        query = query.where(Audit.created_by_id == user.id)
    found = session.execute(_in_council(query, filters.council_id)).all()
    if not found:
        return []
    audit_ids = [audit.id for audit, *_ in found]
    grades: dict[uuid.UUID, list[QoeGrade]] = {audit_id: [] for audit_id in audit_ids}
    for grade in session.scalars(select(QoeGrade).where(QoeGrade.audit_id.in_(audit_ids))):
        grades[grade.audit_id].append(grade)
    version_ids = {audit.template_version_id for audit, *_ in found}
    area_counts = {vid: len(content.get("judgement_areas", [])) + 1 for vid, content in session.execute(
        select(TemplateVersion.id, TemplateVersion.content).where(TemplateVersion.id.in_(version_ids)))}
    rows = []
    for audit, visit_date, provider, author in found:
        keys = {g.area for g in grades[audit.id]}
        rows.append((_Submitted(audit.id, provider.id, provider.display_name, visit_date, author,
                                audit.submitted_at or audit.created_at, len(keys),
                                area_counts[audit.template_version_id], audit.created_by_id), grades[audit.id]))
    return rows


def _in_council(query, council_id: int | None):
    if council_id is None:
        return query
    return query.where(Provider.id.in_(select(ProviderCouncil.provider_id)
                                       .where(ProviderCouncil.organisation_id == council_id)))



def home_counts(session: Session, user: User, now: datetime) -> dict[str, int]:
    """The numbers a role's home page shows next to the links to these queues."""
    if user.role == "qoe_teacher":
        return {"to_grade": len(visits_to_grade(session, user, QueueFilters())),
                "to_moderate": len(moderations_to_do(session, user, QueueFilters()))}
    return {"finalised": len(finalised_since(session, week_start(now), QueueFilters()))}
