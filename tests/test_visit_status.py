"""A visit's status follows its audits, through the services: planned → in progress when its first audit
starts → completed in the transaction that finalises the last audit planned on it."""
from sqlalchemy import select

from auditapp.models import Audit, AuditLogEntry, Visit, VisitAuditType
from auditapp.services import review

from . import world
from .review_helpers import LEAD, by_email, submitted_audit, visit_for


def _finalise(session, audit: Audit) -> None:
    review.finalise_audit(session, by_email(session, LEAD), audit.id, audit.version)
    session.flush()


def _visit_log(session, visit_id: int) -> list[tuple]:
    return [(e.before, e.after) for e in session.scalars(
        select(AuditLogEntry).where(AuditLogEntry.entity == "visit", AuditLogEntry.entity_id == str(visit_id),
                                    AuditLogEntry.action == "visit.status").order_by(AuditLogEntry.id))]


def test_a_visit_is_in_progress_once_an_audit_starts_and_completed_when_every_planned_audit_is_finalised(db_session):
    visit = visit_for(db_session, world.EMAIL["auditor"], "safeguarding")
    planned = set(db_session.scalars(select(VisitAuditType.audit_type).where(VisitAuditType.visit_id == visit.id)))
    assert planned == {"safeguarding", "health_safety"} and visit.status == "planned"
    safeguarding = submitted_audit(db_session, "safeguarding")
    db_session.refresh(visit)
    assert visit.status == "in_progress"
    _finalise(db_session, safeguarding)
    db_session.refresh(visit)
    assert visit.status == "in_progress"  # health and safety is planned too, and not finalised yet
    health_safety = submitted_audit(db_session, "health_safety")
    _finalise(db_session, health_safety)
    db_session.refresh(visit)
    assert visit.status == "completed"
    assert _visit_log(db_session, visit.id) == [({"status": "planned"}, {"status": "in_progress"}),
                                                ({"status": "in_progress"}, {"status": "completed"})]


def test_a_returned_audit_keeps_the_visit_in_progress(db_session):
    audit = submitted_audit(db_session, "safeguarding")
    review.return_audit(db_session, by_email(db_session, LEAD), audit.id, audit.version, "Check the dates", {})
    db_session.flush()
    assert db_session.get(Visit, audit.visit_id).status == "in_progress"
