"""Audit reports, built only from the snapshot frozen at finalisation (services/snapshot.py).

Reading nothing but `audits.snapshot` is what makes a report permanent: a later correction is a
new audit revision with its own snapshot, so it produces a new report and never changes this one.

Two audiences:
- `la`: the full report for council roles, with learner and staff conversation notes;
- `provider`: the same outcome, RAGs, items, notes, actions and evidence references, built by
  *choosing* what to copy (never by deleting from the LA view), so nothing added to the snapshot
  later reaches a provider by accident. No conversations' notes or responses; no evidence file
  names (they are the auditor's words); safeguarding concerns are never in a snapshot at all.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from .. import clock
from ..models import Audit, VisitAssignment
from ..models.people import Actor
from .access import sees_detail
from .actions import PRIORITY_LABELS, key_order
from .actions import STATUS_LABELS as ACTION_STATUS_LABELS
from .errors import NotFound

# Raise when what a report shows changes, so two copies of one revision can be told apart.
REPORT_FORMAT = "1"
AUDIENCES = ("la", "provider")
LA_ROLES = ("admin", "maintainer", "qoe_teacher")
RAG_LABELS = {"green": "Green", "amber": "Amber", "red": "Red", "grey": "Not scored"}
RATING_LABELS = {"met": "Met", "partially_met": "Partially met", "not_met": "Not met", "not_applicable": "N/A"}
OUTCOME_LABELS = {"compliant": "Compliant", "compliant_with_actions": "Compliant with actions",
                  "non_compliant": "Non-compliant"}
MEDIA_KINDS = {"image/jpeg": "Photo", "image/png": "Image", "application/pdf": "Document"}
STYLESHEET = Path(__file__).resolve().parent.parent / "static" / "css" / "report-pdf.css"


def may_see_report(session: Session, actor: Actor, audit: Audit) -> bool:
    """Council roles, lead reviewers and the audit's own auditor; schools never. QoE teachers only for
    quality-of-education audits: of the others they see the outcome in the reports list (access.sees_detail)."""
    if actor.role in LA_ROLES:
        return sees_detail(actor, audit.audit_type)
    if actor.role != "auditor":
        return False
    if actor.is_lead_reviewer or actor.id == audit.created_by_id:
        return True
    return bool(session.scalar(select(exists().where(VisitAssignment.visit_id == audit.visit_id,
                                                     VisitAssignment.user_id == actor.id))))


def finalised_audit(session: Session, actor: Actor, audit_id: uuid.UUID) -> Audit:
    """A finalised audit whose report `actor` may see.

    :raises report.not_found: no such audit, it is not finalised (a draft has no report), or the actor may not
        see its report (the same answer: a stranger does not learn which audits exist).
    """
    audit = session.get(Audit, audit_id)
    if (audit is None or audit.status != "finalised" or not audit.snapshot
            or not may_see_report(session, actor, audit)):
        raise NotFound("report.not_found", "There is no finalised audit here; reports exist once an audit is finalised")
    return audit


def report_view(snapshot: dict, audience: str) -> dict:
    """Everything a report shows, for `audience` ("la" or "provider"), from the snapshot alone."""
    if audience not in AUDIENCES:
        raise ValueError(f"unknown report audience {audience!r}")
    full = audience == "la"
    audit, template = snapshot.get("audit", {}), snapshot.get("template", {})
    actions = [_action(a) for a in sorted(snapshot.get("actions") or [], key=lambda a: key_order(a["item_key"]))]
    evidence = [_evidence(e, full) for e in snapshot.get("evidence") or []]
    sections = [_section(s, actions, evidence) for s in snapshot.get("sections") or []]
    view = {
        "audience": audience,
        "audit_type_label": audit.get("audit_type_label") or "Audit",
        "provider": {"name": (snapshot.get("provider") or {}).get("name", "")},
        "site": _site(snapshot.get("site") or {}),
        "visit_date": _long_date((snapshot.get("visit") or {}).get("date")),
        "outcome": audit.get("outcome"),
        "outcome_label": audit.get("outcome_label") or OUTCOME_LABELS.get(audit.get("outcome"), "Not scored"),
        "stamp": {
            "template": f"{template.get('title', 'Audit template')}, version {template.get('version', '?')}",
            "template_version_id": template.get("version_id"),
            "audit_id": audit.get("id"),
            "audit_version": audit.get("version"),
            "revision": audit.get("revision", 1),
            "finalised": _long_date(audit.get("finalised_at")),
            "finalised_by": audit.get("finalised_by") if full else None,
            "author": audit.get("author") if full else None,
            "report_format": REPORT_FORMAT,
        },
        "correction": ({"corrects_audit_id": audit.get("corrects_audit_id"), "reason": audit.get("correction_reason")}
                       if audit.get("corrects_audit_id") else None),
        "rag_summary": [{"key": s["key"], "title": s["title"], "rag": s["rag"], "rag_label": s["rag_label"]}
                        for s in sections if s["scored"]],
        "sections": sections,
        "header": [{"key": h.get("key"), "question": h.get("question"),
                    "value": h.get("display") or display_value(h.get("value"))} for h in snapshot.get("header") or []],
        "policy_checks": [_policy_check(p) for p in snapshot.get("policy_checks") or []],
        "actions": actions,
        "evidence": evidence,
        "qoe_grades": [_grade(g, full) for g in snapshot.get("qoe_grades") or []],
        "conversations": [_conversation(c) for c in snapshot.get("conversations") or []] if full else None,
        "conversation_count": _conversation_count(snapshot.get("conversations") or []),
    }
    return view


def render_pdf(html: str) -> bytes:
    """The PDF of a report document (templates/reports/document.html), fetching nothing from anywhere."""
    from weasyprint import HTML  # imported on first use: WeasyPrint loads Pango, ~0.3 s
    from weasyprint.urls import URLFetcher

    # A report embeds nothing: refusing every protocol means no note or file name can make the renderer reach out.
    refuse_all = URLFetcher(allowed_protocols=frozenset(), fail_on_errors=False)
    return HTML(string=html, base_url=str(STYLESHEET.parent), url_fetcher=refuse_all).write_pdf(
        stylesheets=[_stylesheet()])


def _stylesheet():
    """The parsed PDF stylesheet, once per process (it is a file in the package, never changed at run time)."""
    global _PARSED_STYLESHEET
    if _PARSED_STYLESHEET is None:
        from weasyprint import CSS
        _PARSED_STYLESHEET = CSS(filename=str(STYLESHEET))
    return _PARSED_STYLESHEET


_PARSED_STYLESHEET = None


def report_filename(view: dict, audience: str) -> str:
    """`safeguarding-riverside-motors-r1-provider.pdf`: plain ASCII, no spaces."""
    words = f"{view['audit_type_label']} {view['provider']['name']}".lower()
    slug = "-".join("".join(c if c.isalnum() else " " for c in words).split())[:80]
    return f"{slug}-r{view['stamp']['revision']}-{'provider' if audience == 'provider' else 'full'}.pdf"


def display_value(value) -> str:
    """A header answer as text: yes/no, lists, counts and small records."""
    if isinstance(value, dict) and set(value) == {"value"}:
        value = value["value"]
    if value is None or value == "" or value == []:
        return "Not recorded"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (list, tuple)):
        return ", ".join(display_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{str(k).replace('_', ' ')}: {display_value(v)}" for k, v in value.items())
    return str(value)


def _section(section: dict, actions: list[dict], evidence: list[dict]) -> dict:
    items = []
    for item in section.get("items") or []:
        key = item.get("key")
        rating = item.get("rating")
        items.append({
            "key": key, "question": item.get("question", ""), "critical": bool(item.get("critical")),
            "rating": rating, "rating_label": item.get("rating_label") or RATING_LABELS.get(rating, "Not rated"),
            "note": item.get("note") or "", "na_reason": item.get("na_reason") or "",
            "actions": [a for a in actions if a["item_key"] == key],
            "evidence": [e for e in evidence if e["item_key"] == key],
        })
    rag = section.get("rag")
    return {"key": section.get("key"), "title": section.get("title", ""), "rag": rag or "grey",
            "rag_label": RAG_LABELS.get(rag or "grey", "Not scored"), "scored": rag is not None, "items": items}


def _action(action: dict) -> dict:
    status, priority = action.get("status"), action.get("priority")
    return {"id": action.get("id"), "item_key": action.get("item_key"), "description": action.get("description", ""),
            "owner_role": action.get("owner_role", ""), "due_date": _long_date(action.get("due_date")),
            "priority": priority, "priority_label": PRIORITY_LABELS.get(priority, priority or ""),
            "status": status, "status_label": ACTION_STATUS_LABELS.get(status, status or "")}


def _evidence(evidence: dict, full: bool) -> dict:
    """An evidence reference: a short id and kind for everyone; the file name only in the council's report."""
    ident = str(evidence.get("id", ""))
    return {"item_key": evidence.get("item_key"), "reference": ident.replace("-", "")[:8].upper(),
            "kind": MEDIA_KINDS.get(evidence.get("media_type"), "File"),
            "filename": evidence.get("filename") if full else None,
            "sha256": (evidence.get("sha256") or "")[:12] if full else None,
            "status": evidence.get("status")}


def _policy_check(check: dict) -> dict:
    seen = check.get("document_seen")
    return {"item_key": check.get("item_key"),
            "document_seen": "Yes" if seen else "No" if seen is False else "Not recorded",
            "document_version": check.get("document_version") or "", "review_date": _long_date(check.get("review_date")),
            "named_person": check.get("named_person") or "", "note": check.get("note") or ""}


def _grade(grade: dict, full: bool) -> dict:
    counts = grade.get("counts") or grade.get("moderated_grade") or grade.get("grade")
    return {"area": grade.get("area"), "title": grade.get("title") or grade.get("area"),
            "grade_label": str(counts or "Not graded").capitalize(),
            "moderation": (str(grade.get("moderation") or "not moderated").capitalize() if full else None),
            "first_grade": str(grade.get("grade") or "").capitalize() if full else None}


def _conversation(c: dict) -> dict:
    responses = c.get("responses") or {}
    return {"reference": c.get("reference"), "kind": (c.get("kind") or "").capitalize(),
            "subject": c.get("subject") or "", "setting": c.get("setting") or "",
            "consent_given": "Yes" if c.get("consent_given") else "No", "notes": c.get("notes") or "",
            "responses": sorted((str(k), display_value(v)) for k, v in responses.items())}


def _conversation_count(conversations: list[dict]) -> str:
    learners = sum(1 for c in conversations if c.get("kind") == "learner")
    staff = sum(1 for c in conversations if c.get("kind") == "staff")
    return f"{learners} learner conversation{'' if learners == 1 else 's'} and {staff} staff conversation{'' if staff == 1 else 's'}"


def _site(site: dict) -> str:
    """"Main site, 16 Station Road, Coalville, LE67 3FR": a snapshot's `address` already ends with the town
    and postcode; older shapes have the parts."""
    address = site.get("address")
    parts = [site.get("name"), address] if address else [
        site.get("name"), site.get("address_line1"), site.get("town"), site.get("postcode")]
    return ", ".join(str(p) for p in parts if p)


def _long_date(value) -> str:
    """ISO date or datetime (or a date object) → "28 November 2026" (a timestamp's London date); empty when absent."""
    if not value:
        return ""
    if isinstance(value, (date, datetime)):
        parsed = value
    else:
        text = str(value)
        try:
            parsed = datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text[:10])
        except ValueError:
            return text
    if isinstance(parsed, datetime) and parsed.tzinfo is not None:
        parsed = clock.local_date(parsed)
    return f"{parsed.day} {parsed:%B %Y}"

