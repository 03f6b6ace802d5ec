"""Quality-of-education grading and moderation (audit-templates.md §1.4), and what finalising needs.

A QoE teacher grades each judgement area of the audit's pinned template version and then the
overall grade; a second teacher moderates each grade (agrees, or changes it with a reason) and the
moderated grade is the one that counts. Grades change only while the audit is submitted, so a
finalised audit's grades are immutable. Every write checks the version the form was drawn from,
is all-or-nothing per call, and lands in the audit log. The web pages and any other edge call
`record_grades` and `moderate_grades` with a list of changes; the edge owns the transaction.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import clock
from ..models import Audit, QoeGrade, TemplateVersion
from ..models.people import Actor
from . import audit_log
from .errors import Conflict, Forbidden, Invalid, NotFound

OVERALL = "overall"
GRADING_TYPE = "quality_education"
GRADER_ROLES = ("qoe_teacher",)
RATIONALE_MAX = 4000
# Overall-grade guards (§1.4, configurable): (if any area is at or below this grade, the overall
# may be at best this grade). A template version may carry its own `overall_guards` list.
DEFAULT_OVERALL_GUARDS = (("developing", "secure"), ("weak", "developing"))


@dataclass(frozen=True)
class AreaGrade:
    """A grader's grade for one area (a judgement area key or "overall") of one audit."""

    audit_id: uuid.UUID
    area: str
    grade: str
    rationale: str
    base_version: int  # the grade row's version the form showed; 0 when there was none


@dataclass(frozen=True)
class Moderation:
    """A second teacher's decision on one grade: "agreed", or "changed" to `grade` with a `reason`."""

    audit_id: uuid.UUID
    area: str
    decision: str
    grade: str | None
    reason: str
    base_version: int


@dataclass(frozen=True)
class Sheet:
    """One audit's grading as the template defines it: areas in order, grade scale, rows by area."""

    audit: Audit
    areas: list[dict]  # [{"key", "title", "sections"}] then {"key": "overall", "title": "Overall"}
    grades: list[dict]  # [{"value", "label", "descriptor"}], best first
    rows: dict[str, QoeGrade]
    guards: tuple  # ((trigger grade, best overall grade), ...)

    def counting(self, area: str) -> str | None:
        """The grade that counts for `area`: the moderated one once moderated, else the provisional one."""
        row = self.rows.get(area)
        return None if row is None else (row.moderated_grade or row.grade)

    @property
    def judgement_areas(self) -> list[dict]:
        return [a for a in self.areas if a["key"] != OVERALL]


def load_sheet(session: Session, audit_id: uuid.UUID, *, for_update: bool = False) -> Sheet:
    """One QE audit's grading sheet. :raises grading.audit_not_found: unknown or not a QE audit."""
    # Locked reads must refresh what the session already holds (a caller may have read these rows
    # before another teacher's save committed); SQLAlchemy does so for FOR UPDATE, said explicitly.
    audit = session.get(Audit, audit_id, with_for_update=for_update, populate_existing=for_update)
    if audit is None or audit.audit_type != GRADING_TYPE:
        raise NotFound("grading.audit_not_found", "There is no such quality of education audit")
    content = session.get(TemplateVersion, audit.template_version_id).content
    query = select(QoeGrade).where(QoeGrade.audit_id == audit_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    rows = session.scalars(query)
    areas = [*content.get("judgement_areas", []), {"key": OVERALL, "title": "Overall", "sections": []}]
    guards = tuple(tuple(g) for g in content.get("overall_guards") or DEFAULT_OVERALL_GUARDS)
    return Sheet(audit, areas, list(content.get("grades", [])), {row.area: row for row in rows}, guards)


def finalise_blockers(session: Session, audit: Audit) -> list[str]:
    """Why a QE audit's grading stops it being finalised (empty when it may be; always empty for SG and HS)."""
    if audit.audit_type != GRADING_TYPE:
        return []
    sheet = load_sheet(session, audit.id)
    blockers = []
    for area in sheet.areas:
        row = sheet.rows.get(area["key"])
        if row is None:
            blockers.append(f"{_area_name(area)}: not graded yet")
        elif row.moderation is None:
            blockers.append(f"{_area_name(area)}: not yet moderated by a second QoE teacher")
    if not blockers:
        blockers.extend(guard_problems(sheet, {a["key"]: sheet.counting(a["key"]) for a in sheet.areas}))
    return blockers


def guard_problems(sheet: Sheet, grades: dict[str, str | None]) -> list[str]:
    """Broken overall-grade guards for `grades` ({area: grade}); empty when the overall may stand."""
    overall = grades.get(OVERALL)
    if overall is None:
        return []
    rank = {g["value"]: index for index, g in enumerate(sheet.grades)}
    labels = {g["value"]: g["label"] for g in sheet.grades}
    problems = []
    for trigger, best_overall in sheet.guards:
        lowered = [a["title"] for a in sheet.judgement_areas if (grades.get(a["key"]) or "") in rank
                   and rank[grades[a["key"]]] >= rank[trigger]]
        if lowered and rank[overall] < rank[best_overall]:
            problems.append(f"The overall grade cannot be {labels[overall]} while "
                            f"{_listed(lowered)} {'is' if len(lowered) == 1 else 'are'} graded "
                            f"{labels[trigger]}{'' if rank[trigger] == len(rank) - 1 else ' or below'}: "
                            f"it can be {labels[best_overall]} at best")
    return problems


def record_grades(session: Session, actor: Actor, changes: Sequence[AreaGrade]) -> list[QoeGrade]:
    """Set or change grades; unchanged ones are left alone. All or nothing.

    :raises grading.forbidden: the actor is not a QoE teacher
    :raises grading.audit_not_found: an audit is unknown or not a QE audit
    :raises grading.audit_not_submitted: an audit is draft, returned or finalised
    :raises grading.invalid: a grade, area or rationale is missing or unknown (details by form field)
    :raises grading.stale: someone else changed a grade since the form was drawn (details say what)
    """
    _check_grader(actor)
    written = []
    for audit_id, group in _by_audit(changes).items():
        sheet = _open_sheet(session, audit_id)
        _check_grade_input(sheet, group)
        _check_fresh(sheet, group, lambda c, row: (row.grade, row.rationale or "") != (c.grade, c.rationale.strip()))
        planned = {a["key"]: sheet.counting(a["key"]) for a in sheet.areas}
        planned.update({c.area: c.grade for c in group})
        if any(c.area == OVERALL for c in group):
            _check_overall(sheet, planned, "grade-overall", needs="graded")
        written.extend(_write_grades(session, actor, sheet, group))
    return written


def moderate_grades(session: Session, actor: Actor, decisions: Sequence[Moderation]) -> list[QoeGrade]:
    """Agree with grades or change them with a reason, as a second teacher. All or nothing.

    :raises grading.forbidden: the actor is not a QoE teacher
    :raises grading.own_grade: the actor graded that area, or carried out the audit
    :raises grading.audit_not_found / grading.audit_not_submitted / grading.stale: as for record_grades
    :raises grading.invalid: no decision, a change without a different grade or without a reason
    """
    _check_grader(actor)
    written = []
    for audit_id, group in _by_audit(decisions).items():
        sheet = _open_sheet(session, audit_id)
        _check_moderation_input(sheet, actor, group)
        _check_fresh(sheet, group, lambda d, row: _moderated(d, row) != (row.moderation, row.moderated_grade,
                                                                          row.moderation_reason or ""))
        planned = {a["key"]: sheet.counting(a["key"]) for a in sheet.areas}
        planned.update({d.area: d.grade if d.decision == "changed" else sheet.rows[d.area].grade for d in group})
        if any(d.area == OVERALL for d in group):
            moderated = {a for a, row in sheet.rows.items() if row.moderation} | {d.area for d in group}
            _check_overall(sheet, planned, "moderation-overall", needs="moderated", done=moderated)
        written.extend(_write_moderations(session, actor, sheet, group))
    return written


# ---- checks ------------------------------------------------------------------------------------

def _check_grader(actor: Actor) -> None:
    if actor is None or actor.role not in GRADER_ROLES:
        raise Forbidden("grading.forbidden", "Only quality of education teachers grade and moderate")


def _by_audit(changes) -> dict[uuid.UUID, list]:
    groups: dict[uuid.UUID, list] = {}
    for change in changes:
        groups.setdefault(change.audit_id, []).append(change)
    return groups


def _open_sheet(session: Session, audit_id: uuid.UUID) -> Sheet:
    sheet = load_sheet(session, audit_id, for_update=True)
    if sheet.audit.status != "submitted":
        why = {"finalised": "it is finalised, so its grades can no longer change",
               "draft": "it has not been submitted yet", "returned": "it has been returned to the teacher"}
        raise Conflict("grading.audit_not_submitted",
                       f"This audit cannot be graded or moderated: {why.get(sheet.audit.status, sheet.audit.status)}",
                       {"status": sheet.audit.status})
    return sheet


def _check_grade_input(sheet: Sheet, group: list[AreaGrade]) -> None:
    areas, values = {a["key"] for a in sheet.areas}, {g["value"] for g in sheet.grades}
    errors: dict[str, list[str]] = {}
    for change in group:
        name = _title(sheet, change.area)
        if change.area not in areas:
            errors.setdefault("area", []).append(f"{change.area} is not a judgement area of this template")
        elif change.grade not in values:
            errors[f"grade-{change.area}"] = [f"Choose a grade for {name}"]
        if change.area in areas and not change.rationale.strip():
            errors[f"rationale-{change.area}"] = [f"Give the reasons for the {name} grade"]
        elif len(change.rationale) > RATIONALE_MAX:
            errors[f"rationale-{change.area}"] = [f"Keep the reasons for {name} to {RATIONALE_MAX} characters or fewer"]
    if errors:
        raise Invalid("grading.invalid", "Check the grades", errors)


def _check_moderation_input(sheet: Sheet, actor: Actor, group: list[Moderation]) -> None:
    values = {g["value"] for g in sheet.grades}
    errors: dict[str, list[str]] = {}
    for d in group:
        row, name = sheet.rows.get(d.area), _title(sheet, d.area)
        if row is None:
            errors[f"moderation-{d.area}"] = [f"{name} has not been graded yet, so there is nothing to moderate"]
        elif actor.id in (row.graded_by_id, sheet.audit.created_by_id):
            raise Forbidden("grading.own_grade", f"You cannot moderate {name}: a second teacher must moderate "
                            "a grade you gave or an audit you carried out", {"area": d.area})
        elif d.decision not in ("agreed", "changed"):
            errors[f"moderation-{d.area}"] = [f"Choose whether you agree with the {name} grade"]
        elif d.decision == "changed" and d.grade not in values:
            errors[f"moderation-{d.area}"] = [f"Choose the grade {name} should have"]
        elif d.decision == "changed" and d.grade == row.grade:
            errors[f"moderation-{d.area}"] = [f"Choose a different grade for {name}, or agree with it"]
        if d.decision == "changed" and not d.reason.strip():
            errors[f"reason-{d.area}"] = [f"Give the reason for changing the {name} grade"]
        elif len(d.reason) > RATIONALE_MAX:
            errors[f"reason-{d.area}"] = [f"Keep the reason to {RATIONALE_MAX} characters or fewer"]
    if errors:
        raise Invalid("grading.invalid", "Check the moderation", errors)


def _check_fresh(sheet: Sheet, group, differs) -> None:
    """Refuse a change made on a stale form, unless it would leave things exactly as they are."""
    changed = []
    for change in group:
        row = sheet.rows.get(change.area)
        current = row.version if row is not None else 0
        if current != change.base_version and (row is None or differs(change, row)):
            changed.append(_describe(sheet, change.area, row))
    if changed:
        raise Conflict("grading.stale", "Another teacher changed these grades after you opened the page: "
                       + "; ".join(changed) + ". Nothing was saved. Check their change and try again.",
                       {"changed": changed})


def _check_overall(sheet: Sheet, planned: dict, field: str, *, needs: str, done: set | None = None) -> None:
    pending = [a["title"] for a in sheet.judgement_areas
               if (planned.get(a["key"]) is None if done is None else a["key"] not in done)]
    if pending:
        raise Invalid("grading.invalid", "Check the overall grade",
                      {field: [f"{_listed(pending)} must be {needs} before the overall grade"]})
    problems = guard_problems(sheet, planned)
    if problems:
        raise Invalid("grading.invalid", "Check the overall grade", {field: problems})


# ---- writes ------------------------------------------------------------------------------------

def _write_grades(session: Session, actor: Actor, sheet: Sheet, group: list[AreaGrade]) -> list[QoeGrade]:
    now, written = clock.now(), []
    for change in group:
        row, rationale = sheet.rows.get(change.area), change.rationale.strip()
        if row is not None and (row.grade, row.rationale or "") == (change.grade, rationale):
            continue
        before = _state(row)
        if row is None:
            row = QoeGrade(audit_id=sheet.audit.id, area=change.area, version=0)
            session.add(row)
            sheet.rows[change.area] = row
        # A new grade undoes any moderation of the old one: a second teacher moderates it afresh.
        row.grade, row.rationale, row.graded_by_id, row.graded_at = change.grade, rationale, actor.id, now
        row.moderation = row.moderated_grade = row.moderation_reason = row.moderated_by_id = row.moderated_at = None
        row.version += 1
        written.append(row)
        audit_log.record(session, actor, "qoe.grade", "audit", sheet.audit.id,
                         before=before, after={"area": change.area, **_state(row)})
    _flush(session)
    return written


def _write_moderations(session: Session, actor: Actor, sheet: Sheet, group: list[Moderation]) -> list[QoeGrade]:
    now, written = clock.now(), []
    for d in group:
        row = sheet.rows[d.area]
        decision, grade, reason = _moderated(d, row)
        if (row.moderation, row.moderated_grade, row.moderation_reason or "") == (decision, grade, reason):
            continue
        before = _state(row)
        row.moderation, row.moderated_grade, row.moderation_reason = decision, grade, reason or None
        row.moderated_by_id, row.moderated_at, row.version = actor.id, now, row.version + 1
        written.append(row)
        audit_log.record(session, actor, "qoe.moderate", "audit", sheet.audit.id,
                         before=before, after={"area": d.area, **_state(row)})
    _flush(session)
    return written


def _moderated(d: Moderation, row: QoeGrade) -> tuple[str, str, str]:
    grade = d.grade if d.decision == "changed" else row.grade
    return d.decision, grade, d.reason.strip()


def _flush(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError as exc:  # two teachers graded the same new area at the same moment
        raise Conflict("grading.stale", "Another teacher saved these grades at the same moment. Nothing was "
                       "saved. Reload the page and check their grades.") from exc


# ---- words -------------------------------------------------------------------------------------

def _state(row: QoeGrade | None) -> dict | None:
    if row is None:
        return None
    return {"area": row.area, "grade": row.grade, "rationale": row.rationale, "graded_by_id": row.graded_by_id,
            "moderation": row.moderation, "moderated_grade": row.moderated_grade,
            "moderation_reason": row.moderation_reason, "moderated_by_id": row.moderated_by_id,
            "version": row.version}


def _describe(sheet: Sheet, area: str, row: QoeGrade | None) -> str:
    labels = {g["value"]: g["label"] for g in sheet.grades}
    if row is None:
        return f"{_title(sheet, area)} is no longer graded"
    text = f"{_title(sheet, area)} is now graded {labels.get(row.grade, row.grade)}"
    if row.moderation == "agreed":
        text += " (moderation agreed)"
    elif row.moderation == "changed":
        text += f" (moderated to {labels.get(row.moderated_grade, row.moderated_grade)})"
    return text


def _title(sheet: Sheet, area: str) -> str:
    return next((a["title"] for a in sheet.areas if a["key"] == area), area)


def _area_name(area: dict) -> str:
    return "Overall grade" if area["key"] == OVERALL else f"QoE judgement area “{area['title']}”"


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
