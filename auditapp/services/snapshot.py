"""The audit snapshot: everything a report needs, as plain JSON-ready data (read-only).

Finalising stores it on the audit (audits.snapshot) so a report once issued never changes; a
correction is a new audit revision with its own snapshot. Reports (services/reports.py) and the
review page's version diff read this shape. Extend it, never rename a key.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Action, Answer, Audit, Conversation, Evidence, PolicyCheck, QoeGrade, User
from ..models.enums import AUDIT_TYPE_LABELS
from .scoring import OUTCOME_LABELS, RATING_LABELS, is_rated, score

OVERALL_AREA = "overall"


def chain_ids(session: Session, audit: Audit) -> list[uuid.UUID]:
    """This audit's id and those of the revisions it corrects, newest first."""
    ids, current = [audit.id], audit.corrects_audit_id
    while current is not None and current not in ids:
        ids.append(current)
        current = session.scalar(select(Audit.corrects_audit_id).where(Audit.id == current))
    return ids


def build_snapshot(session: Session, audit: Audit) -> dict:
    """Collect one audit's current state into the agreed snapshot shape (see issue 5 brief).

    Evidence and actions stay with the revision they were captured on, so a correction's snapshot
    lists those of every revision it corrects as well as its own.
    """
    content = audit.template_version.content
    chain = chain_ids(session, audit)
    answers = {a.item_key: a for a in session.scalars(select(Answer).where(Answer.audit_id == audit.id))}
    evidence = list(session.scalars(select(Evidence).where(Evidence.audit_id.in_(chain))
                                    .order_by(Evidence.item_key, Evidence.created_at, Evidence.id)))
    scored = score(content, {key: a.rating for key, a in answers.items()})
    visit, provider = audit.visit, audit.visit.provider
    site = visit.site
    return {
        "audit": _audit_part(session, audit, scored.outcome),
        "template": {"version_id": audit.template_version_id, "template": content.get("template", audit.audit_type),
                     "title": content.get("title", ""), "version": content.get("version")},
        "provider": {"id": provider.id, "name": provider.display_name, "legal_name": provider.legal_name,
                     "trading_name": provider.trading_name, "company_number": provider.company_number,
                     "charity_number": provider.charity_number, "district": provider.district,
                     "contact_name": provider.contact_name, "registration_status": provider.registration_status},
        "site": {"id": site.id, "name": site.name,
                 "address": ", ".join(p for p in (site.address_line1, site.address_line2, site.town, site.postcode) if p),
                 "postcode": site.postcode},
        "visit": {"id": visit.id, "date": visit.visit_date.isoformat(), "announced": visit.announced},
        "header": [_header_item(item, answers.get(item["key"])) for section in content["sections"]
                   for item in section["items"] if not is_rated(item)],
        "sections": [_section(section, answers, evidence, scored.section_rags[section["key"]])
                     for section in content["sections"] if section["key"] in scored.section_rags],
        "section_rags": scored.section_rags,
        "policy_checks": [_policy_check(row) for row in session.scalars(
            select(PolicyCheck).where(PolicyCheck.audit_id == audit.id).order_by(PolicyCheck.item_key))],
        "conversations": [_conversation(row) for row in session.scalars(
            select(Conversation).where(Conversation.audit_id == audit.id)
            .order_by(Conversation.kind, Conversation.reference))],
        "actions": [_action(row) for row in session.scalars(
            select(Action).where(Action.audit_id.in_(chain)).order_by(Action.item_key, Action.created_at, Action.id))],
        "evidence": [_evidence(row) for row in evidence],
        "qoe_grades": _qoe_grades(session, audit, content),
    }


def _audit_part(session: Session, audit: Audit, outcome: str) -> dict:
    names = _names(session, {audit.created_by_id, audit.finalised_by_id})
    return {"id": str(audit.id), "audit_type": audit.audit_type, "audit_type_label": AUDIT_TYPE_LABELS[audit.audit_type],
            "revision": audit.revision, "version": audit.version, "status": audit.status, "outcome": outcome,
            "outcome_label": OUTCOME_LABELS[outcome], "submitted_at": _iso(audit.submitted_at),
            "finalised_at": _iso(audit.finalised_at), "finalised_by": names.get(audit.finalised_by_id),
            "author": names.get(audit.created_by_id), "corrects_audit_id": _str(audit.corrects_audit_id),
            "correction_reason": audit.correction_reason, "review_round": audit.review_round}


def _section(section: dict, answers: dict, evidence: list[Evidence], rag: str) -> dict:
    by_item: dict[str, list[str]] = {}
    for row in evidence:
        if row.status != "withdrawn":
            by_item.setdefault(row.item_key, []).append(str(row.id))
    items = []
    for item in section["items"]:
        if not is_rated(item):
            continue
        answer = answers.get(item["key"])
        rating = answer.rating if answer else None
        items.append({"key": item["key"], "question": item["question"], "critical": bool(item.get("critical")),
                      "rating": rating, "rating_label": RATING_LABELS.get(rating, "Not rated"),
                      "note": answer.note if answer else None, "na_reason": answer.na_reason if answer else None,
                      "evidence": by_item.get(item["key"], [])})
    return {"key": section["key"], "title": section["title"], "rag": rag, "items": items}


def _header_item(item: dict, answer: Answer | None) -> dict:
    value = answer.value if answer else None
    return {"key": item["key"], "question": item["question"], "value": value,
            "display": header_display(item, value), "note": answer.note if answer else None}


def header_display(item: dict, value) -> str:
    """A header value as a person reads it: choice labels, Yes/No, "on roll: 8; present today: 6"."""
    if value is None or value == "" or value == {}:
        return "Not recorded"
    if item.get("answer") == "yes_no" or isinstance(value, bool):
        return "Yes" if value else "No"
    if item.get("answer") == "choice":
        labels = {c["value"]: c["label"] for c in item.get("choices") or []}
        return labels.get(value, str(value))
    if isinstance(value, dict):
        return "; ".join(f"{str(k).replace('_', ' ')}: {v}" for k, v in value.items())
    return str(value)


def _policy_check(row: PolicyCheck) -> dict:
    return {"item_key": row.item_key, "document_seen": row.document_seen, "document_version": row.document_version,
            "review_date": _iso(row.review_date), "named_person": row.named_person, "note": row.note}


def _conversation(row: Conversation) -> dict:
    return {"reference": row.reference, "kind": row.kind, "subject": row.subject, "setting": row.setting,
            "consent_given": row.consent_given, "notes": row.notes, "responses": dict(row.responses or {}),
            "ended_for_safeguarding": row.ended_for_safeguarding}


def _action(row: Action) -> dict:
    return {"id": str(row.id), "item_key": row.item_key, "description": row.description, "owner_role": row.owner_role,
            "due_date": _iso(row.due_date), "priority": row.priority, "status": row.status,
            "confirmed_at": _iso(row.confirmed_at), "verified_at": _iso(row.verified_at),
            "verification_note": row.verification_note}


def _evidence(row: Evidence) -> dict:
    return {"id": str(row.id), "item_key": row.item_key, "filename": row.filename, "media_type": row.media_type,
            "status": row.status, "sha256": row.sha256, "size_bytes": row.size_bytes}


def _qoe_grades(session: Session, audit: Audit, content: dict) -> list[dict]:
    if audit.audit_type != "quality_education":
        return []
    areas = [(a["key"], a["title"]) for a in content.get("judgement_areas", [])] + [(OVERALL_AREA, "Overall")]
    rows = {g.area: g for g in session.scalars(select(QoeGrade).where(QoeGrade.audit_id == audit.id))}
    out = []
    for key, title in areas:
        row = rows.get(key)
        if row is None:
            continue
        # The moderated grade is the one that counts (as grading.Sheet.counting); until moderation the
        # grade is provisional, and finalising needs every grade moderated.
        out.append({"area": key, "title": title, "grade": row.grade, "moderated_grade": row.moderated_grade,
                    "moderation": row.moderation, "moderation_reason": row.moderation_reason,
                    "counts": row.moderated_grade or row.grade, "provisional": row.moderation is None,
                    "rationale": row.rationale})
    return out


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.full_name).where(User.id.in_(wanted))).all())


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _str(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None
