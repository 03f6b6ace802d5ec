"""Report benchmark (`make bench`, run.py's reports phase): the PDF of a 120-item audit and the
HTML report page.

The audit is a finalised audit row whose snapshot has the shape services/snapshot.py writes
(team brief), built from the published safeguarding template: its sections repeated until there
are 120 rated items, realistic notes, an action for every fifth item, evidence for every third,
policy checks and six conversations. Reports read nothing but the snapshot, so this is exactly
the work a real 120-item report costs.

Figures (targets from issue 5):
- PDF render of the full report, in process (template + WeasyPrint): median and worst of 7, < 2 s;
- GET /audits/<id>/report through gunicorn, one client, 200 requests: p95 < 100 ms.
"""
from __future__ import annotations

import statistics
import time
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from io import BytesIO

from pypdf import PdfReader  # the test extra, which `make bench` installs too

ITEMS = 120
PDF_RUNS = 7
PAGE_REQUESTS = 200
PDF_TARGET_S = 2.0
PAGE_P95_TARGET_MS = 100.0
RATINGS = (("met", "Met"), ("met", "Met"), ("partially_met", "Partially met"), ("met", "Met"),
           ("not_met", "Not met"), ("met", "Met"), ("not_applicable", "N/A"))
NOTE = ("Seen the {what} dated March; reviewed with the manager, who explained how staff use it day to day. "
        "Two gaps noted against the checklist; the provider will update the document and re-issue it to staff.")


def synthetic_snapshot(template: dict, items: int = ITEMS, *, audit_id: str | None = None,
                       finalised: date = date(2026, 11, 20)) -> dict:
    """A finalised audit's snapshot with `items` rated items, from a template version's content."""
    source = [s for s in template["sections"] if any(i.get("answer", "rating") == "rating" for i in s["items"])]
    sections, actions, evidence, n = [], [], [], 0
    while n < items:
        for section in source:
            if n >= items:
                break
            # Repeated sections are numbered on (SG-10, SG-11, ...), as a longer checklist would be.
            key = f"{section['key'].split('-')[0]}-{len(sections) + 1}"
            rows = []
            for item in section["items"]:
                if n >= items:
                    break
                rating, label = RATINGS[n % len(RATINGS)]
                item_key = item["key"].replace(section["key"], key, 1)
                rows.append({"key": item_key, "question": item["question"], "critical": bool(item.get("critical")),
                             "rating": rating, "rating_label": label,
                             "note": NOTE.format(what=item["question"][:40].lower()) if n % 2 == 0 else "",
                             "na_reason": "No learners use the provider's devices" if rating == "not_applicable" else None,
                             "evidence": []})
                if rating in ("partially_met", "not_met") or n % 5 == 0:
                    actions.append({"id": str(uuid.uuid4()), "item_key": item_key,
                                    "description": f"Update the {item['question'][:50].lower()} and send a copy to the council",
                                    "owner_role": "Designated safeguarding lead",
                                    "due_date": (finalised + timedelta(days=14 + n % 28)).isoformat(),
                                    "priority": "high" if rating == "not_met" else "normal", "status": "open"})
                if n % 3 == 0:
                    ev = {"id": str(uuid.uuid4()), "item_key": item_key, "filename": f"{item_key}-document.pdf",
                          "media_type": "application/pdf", "status": "verified", "sha256": "ab" * 32}
                    evidence.append(ev)
                    rows[-1]["evidence"].append(ev["id"])
                n += 1
            rag = "red" if any(r["rating"] == "not_met" and r["critical"] for r in rows) else \
                "amber" if any(r["rating"] in ("partially_met", "not_met") for r in rows) else "green"
            sections.append({"key": key, "title": section["title"], "rag": rag, "items": rows})
    finalised_at = datetime(finalised.year, finalised.month, finalised.day, 15, 30, tzinfo=UTC)
    return {
        "audit": {"id": audit_id or str(uuid.uuid4()), "audit_type": "safeguarding", "audit_type_label": "Safeguarding",
                  "revision": 1, "version": 9, "status": "finalised", "outcome": "non_compliant",
                  "outcome_label": "Non-compliant", "submitted_at": (finalised_at - timedelta(days=2)).isoformat(),
                  "finalised_at": finalised_at.isoformat(), "finalised_by": "Lee Lead", "author": "Ash Auditor",
                  "corrects_audit_id": None, "correction_reason": None},
        "template": {"version_id": 1, "template": template.get("template", "safeguarding"),
                     "title": template.get("title", "Safeguarding audit"), "version": template.get("version", 1)},
        "provider": {"id": 1, "name": "Riverside Motors"},
        "site": {"name": "Main site", "address": "10 Station Road, Leicester LE3 5BT"},
        "visit": {"id": 1, "date": (finalised - timedelta(days=7)).isoformat()},
        "header": [{"key": "HDR-4.5", "question": "Registration result", "value": {"value": "Not required"}}],
        "sections": sections,
        "policy_checks": [{"item_key": "SG-1.1", "document_seen": True, "document_version": "v3",
                           "review_date": "2026-03-01", "named_person": "J. Patel (DSL)", "note": "Current"}],
        "conversations": [{"reference": f"{'L' if i < 4 else 'S'}{i + 1}", "kind": "learner" if i < 4 else "staff",
                           "subject": "KS4" if i < 4 else "Tutor", "setting": "Workshop", "consent_given": True,
                           "notes": "Talked about the day and who they go to with a worry.",
                           "responses": {"LC-3": "Feels safe; names the manager"}} for i in range(6)],
        "actions": actions,
        "evidence": evidence,
        "qoe_grades": [],
    }


def seed(database_url: str) -> tuple[uuid.UUID, dict]:
    """Store a finalised 120-item safeguarding audit (on the demo world's first visit); its id and snapshot.

    Idempotent: the audit's id is fixed, and a re-run rewrites its snapshot.
    """
    from sqlalchemy import select

    from auditapp.db import bind, session_scope
    from auditapp.models import Audit, User, Visit
    from auditapp.services.templates import latest_version

    audit_id = uuid.uuid5(uuid.NAMESPACE_URL, "auditapp-bench/report-120-items")
    binding = bind(database_url)
    try:
        with session_scope(binding) as session:
            version = latest_version(session, "safeguarding")
            visit = session.scalar(select(Visit).order_by(Visit.id).limit(1))
            author = session.scalar(select(User).where(User.role == "auditor").order_by(User.id).limit(1))
            snapshot = synthetic_snapshot(version.content, audit_id=str(audit_id))
            snapshot["provider"] = {"id": visit.provider.id, "name": visit.provider.display_name}
            audit = session.get(Audit, audit_id) or Audit(
                id=audit_id, visit_id=visit.id, audit_type="safeguarding", template_version_id=version.id,
                version=9, revision=1, created_by_id=author.id)
            audit.status, audit.outcome, audit.snapshot = "finalised", snapshot["audit"]["outcome"], snapshot
            audit.finalised_at = datetime.fromisoformat(snapshot["audit"]["finalised_at"])
            session.add(audit)
    finally:
        binding.engine.dispose()
    return audit_id, snapshot


def time_pdf(app, snapshot: dict, runs: int = PDF_RUNS) -> dict:
    """Render the full report's PDF `runs` times in process, after one warm-up; seconds per render."""
    from auditapp.services import reports

    def once() -> tuple[float, bytes]:
        started = time.perf_counter()
        html = document_html(app, snapshot)
        pdf = reports.render_pdf(html)
        return time.perf_counter() - started, pdf

    once()  # WeasyPrint's first call loads Pango and fonts
    timings, cpu, pdf = [], [], b""
    for _ in range(runs):
        started = time.process_time()
        seconds, pdf = once()
        timings.append(seconds)
        cpu.append(time.process_time() - started)
    return {"runs": runs, "median_s": statistics.median(timings), "max_s": max(timings),
            "median_cpu_s": statistics.median(cpu), "pdf_bytes": len(pdf), "pages": len(PdfReader(BytesIO(pdf)).pages)}


def document_html(app, snapshot: dict, audience: str = "la") -> str:
    """The PDF's HTML, as the PDF view renders it (the document template needs no request globals)."""
    from auditapp.services import reports

    return app.jinja_env.get_template("reports/document.html").render(report=reports.report_view(snapshot, audience))


def time_page(url: str, cookie_header: str, user_agent: str, requests: int = PAGE_REQUESTS) -> dict:
    """GET `url` `requests` times, one at a time, after 10 warm-ups; latency percentiles in ms."""
    def once() -> float:
        request = urllib.request.Request(url, headers={"Cookie": cookie_header, "User-Agent": user_agent})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
            if response.status != 200 or b'id="report"' not in body:
                raise RuntimeError(f"GET {url} answered {response.status} without the report")
        return (time.perf_counter() - started) * 1000

    for _ in range(10):
        once()
    timings = sorted(once() for _ in range(requests))
    return {"requests": requests, "p50_ms": statistics.median(timings),
            "p95_ms": timings[round(0.95 * (len(timings) - 1))], "max_ms": timings[-1]}
