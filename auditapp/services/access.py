"""Who may write which audit (one query per batch, answered per audit id), and who may read an audit's detail."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Audit, TemplateVersion, Visit, VisitAssignment
from ..models.people import Actor

# Which audit types each capturing role carries out (domain README §3).
CAPTURE_TYPES = {"auditor": {"safeguarding", "health_safety"}, "qoe_teacher": {"quality_education"}}
EDITABLE = {"draft", "returned"}
# Need to know: the audit types whose detail (notes, conversations, evidence, reports, action plans) a role may
# read. QoE teachers read quality-of-education audits in full and only the outcomes of the others (safeguarding,
# health and safety). A role not named here is not narrowed by this rule (its own checks still apply).
DETAIL_TYPES = {"qoe_teacher": frozenset({"quality_education"})}


@dataclass(frozen=True)
class AuditAccess:
    """What an actor may do with one audit in this batch."""

    audit_id: uuid.UUID
    state: str  # "writable" | "submitted" | "finalised" | "forbidden" | "missing"
    provider_id: int | None = None
    visit_id: int | None = None
    template: dict | None = None  # the pinned template version's content


def audit_access(session: Session, actor: Actor, audit_ids: set[uuid.UUID]) -> dict[uuid.UUID, AuditAccess]:
    """Classify each audit id for `actor` with one query: writable, read-only, forbidden or missing."""
    if not audit_ids:
        return {}
    rows = session.execute(
        select(Audit.id, Audit.status, Audit.audit_type, Visit.id, Visit.provider_id, Audit.template_version_id,
               VisitAssignment.user_id)
        .join(Visit, Audit.visit_id == Visit.id)
        .outerjoin(VisitAssignment, (VisitAssignment.visit_id == Visit.id) & (VisitAssignment.user_id == actor.id))
        .where(Audit.id.in_(audit_ids))
    ).all()
    access = {audit_id: AuditAccess(audit_id, "missing") for audit_id in audit_ids}
    # Each template version's content once, however many audits pin it (it is ~40 KB of JSON).
    contents = dict(session.execute(select(TemplateVersion.id, TemplateVersion.content)
                                    .where(TemplateVersion.id.in_({row[5] for row in rows}))).all()) if rows else {}
    for audit_id, status, audit_type, visit_id, provider_id, version_id, assigned in rows:
        state = capture_state(actor, audit_type, status, assigned is not None)
        access[audit_id] = (AuditAccess(audit_id, state) if state == "forbidden"
                            else AuditAccess(audit_id, state, provider_id, visit_id, contents[version_id]))
    return access


def capture_state(actor: Actor, audit_type: str, status: str, assigned: bool) -> str:
    """The capture rule: only a user assigned to the visit whose role carries out the audit's type may
    write it, and only while it is a draft or returned. "writable", "forbidden" or the audit's status."""
    if not assigned or audit_type not in CAPTURE_TYPES.get(actor.role, set()):
        return "forbidden"
    return "writable" if status in EDITABLE else status


def sees_detail(actor: Actor, audit_type: str) -> bool:
    """Whether `actor` may read the detail of an audit of `audit_type`, or only its outcome (DETAIL_TYPES)."""
    allowed = DETAIL_TYPES.get(actor.role)
    return allowed is None or audit_type in allowed


def sees_detail_of(session: Session, actor: Actor, audit_id: uuid.UUID) -> bool:
    """`sees_detail` for an audit by id; reads the audit's type only when the actor's role is narrowed."""
    if actor.role not in DETAIL_TYPES:
        return True
    return sees_detail(actor, session.scalar(select(Audit.audit_type).where(Audit.id == audit_id)) or "")


def items_of(template: dict) -> dict[str, dict]:
    """Every item of a template version's content, by key (memoised on the content object)."""
    cached = _ITEMS.get(id(template))
    if cached is not None and cached[0] is template:
        return cached[1]
    items = {item["key"]: item for section in template["sections"] for item in section["items"]}
    if len(_ITEMS) > 64:
        _ITEMS.clear()
    _ITEMS[id(template)] = (template, items)
    return items


# id(content) -> (content, items); holding the content keeps its id from being reused.
_ITEMS: dict[int, tuple[dict, dict]] = {}


def prompts_of(template: dict, kind: str) -> set[str]:
    """Prompt keys of one conversation kind (learner/staff) in a template version."""
    return {p["key"] for ps in template.get("prompt_sets", []) if ps["key"] == kind for p in ps["prompts"]}
