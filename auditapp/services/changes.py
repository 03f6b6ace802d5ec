"""The change log that /sync/pull reads, written in the same transaction as each change."""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from ..models import ChangeLogEntry
from .bulk import insert_rows

# Any constant works; it only has to be the same for every writer of the change log.
CHANGE_LOG_LOCK = 7_240_001


def log_changes(session: Session, rows: list[dict]) -> None:
    """Append change-log rows (entity, entity_id, version, op, audit_id, provider_id).

    Sequence values are handed out at insert, not at commit. Taking a transaction-scoped advisory
    lock first serialises change-log writers, so ids become visible in order and a pull can never
    step past a transaction still in flight (ARCHITECTURE.md §2). Taken as late as possible, just
    before the insert, so the lock is held only for the end of each transaction.
    """
    if not rows:
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHANGE_LOG_LOCK})
    insert_rows(session, ChangeLogEntry, [{"op": "upsert", "audit_id": None, "provider_id": None, **row}
                                          for row in rows])
