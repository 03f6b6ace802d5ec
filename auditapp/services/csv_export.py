"""CSV export of finalised audits for the councils' own analysis: one row per checklist item.

Read from each audit's frozen snapshot (like the reports), so the export and the issued reports
always agree, corrections included: every revision is a row set of its own, and `current` says
whether a later finalised correction replaced it.

What is in it: item ratings, item notes and N/A reasons (council staff only: the view allows
maintainers and admins). What never is: conversation notes and responses, evidence, concerns.
Cells that a spreadsheet would run as a formula are defused (OWASP "CSV injection").
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from .. import clock
from ..models import Audit, Visit

COLUMNS = ("audit_id", "provider_id", "provider", "audit_type", "revision", "audit_version", "current",
           "visit_date", "finalised_date", "outcome", "section_key", "section_title", "section_rag",
           "item_key", "question", "critical", "rating", "note", "na_reason")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 50  # audits per fetch: a snapshot is tens of kilobytes


@dataclass(frozen=True)
class ExportFilters:
    finalised_from: date | None = None
    finalised_to: date | None = None
    audit_type: str = ""


def safe_cell(value) -> str:
    """A cell's text, with a leading apostrophe where a spreadsheet would read a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def item_rows(session: Session, filters: ExportFilters) -> Iterator[tuple]:
    """One tuple per item of every finalised audit matching `filters`, oldest finalisation first."""
    correction = aliased(Audit)
    replaced = exists().where(correction.corrects_audit_id == Audit.id, correction.status == "finalised")
    query = (select(Audit.snapshot, replaced.label("replaced")).join(Visit, Visit.id == Audit.visit_id)
             .where(Audit.status == "finalised", Audit.snapshot.is_not(None))
             .order_by(Audit.finalised_at, Audit.id).execution_options(yield_per=BATCH))
    if filters.audit_type:
        query = query.where(Audit.audit_type == filters.audit_type)
    if filters.finalised_from:
        query = query.where(Audit.finalised_at >= clock.day_start(filters.finalised_from))
    if filters.finalised_to:
        query = query.where(Audit.finalised_at < clock.day_start(filters.finalised_to + timedelta(days=1)))
    result = session.execute(query)
    try:
        for snapshot, was_replaced in result:
            yield from _rows_of(snapshot, not was_replaced)
    finally:  # a download cut short closes the generator here: close the server-side cursor with it
        result.close()


def csv_chunks(rows: Iterator[tuple]) -> Iterator[str]:
    """The CSV text in chunks: a byte-order mark (Excel reads UTF-8 then), the header, then the rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(COLUMNS)
    for count, row in enumerate(rows, start=1):
        writer.writerow([safe_cell(value) for value in row])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _rows_of(snapshot: dict, current: bool) -> Iterator[tuple]:
    audit = snapshot.get("audit", {})
    provider = snapshot.get("provider", {})
    finalised = audit.get("finalised_at")
    finalised = clock.local_date(datetime.fromisoformat(finalised)).isoformat() if finalised else ""  # London date
    common = (audit.get("id"), provider.get("id"), provider.get("name"), audit.get("audit_type"), audit.get("revision"),
              audit.get("version"), current, (snapshot.get("visit") or {}).get("date"), finalised,
              audit.get("outcome_label") or audit.get("outcome"))
    for section in snapshot.get("sections") or []:
        for item in section.get("items") or []:
            yield common + (section.get("key"), section.get("title"), section.get("rag"), item.get("key"),
                            item.get("question"), bool(item.get("critical")), item.get("rating_label") or item.get("rating"),
                            item.get("note"), item.get("na_reason"))
