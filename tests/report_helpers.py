"""A finalised audit with everything a report shows, made through the real services: ratings and
notes, proposed actions, a learner and a staff conversation with notes, a safeguarding concern
raised on the visit, a verified evidence file; submitted, actions confirmed by the lead reviewer,
finalised. The marker strings let tests prove what a report does and does not contain."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from auditapp.models import Action, Audit, Visit, VisitAssignment, VisitAuditType
from auditapp.services import actions, audits, capture, review, share_links
from auditapp.services.audits import StartAudit, audit_id_for, start_audits
from auditapp.services.templates import latest_version
from auditapp.storage import get_blob_store

from . import evidence_helpers, review_helpers, world

LEARNER_NOTE = "LEARNERNOTE said the minibus driver shouts"
STAFF_NOTE = "STAFFNOTE tutor unsure of LADO route"
LEARNER_RESPONSE = "LEARNERRESPONSE feels safe with Sam"
CONCERN = "CONCERNTEXT disclosure about an uncle at home"
ITEM_NOTE = "ITEMNOTE behaviour policy last reviewed 2023"
CRITICAL_NOTE = "CRITICALNOTE visitors not signed in"
SG = "safeguarding"
RATINGS = {"SG-1.2": "partially_met", "SG-6.1": "not_met", "SG-7.1": "not_applicable"}
NOTES = {"SG-1.2": ITEM_NOTE, "SG-6.1": CRITICAL_NOTE}


def lead(session):
    return review_helpers.by_email(session, review_helpers.LEAD)


def submitted_with_actions(session, app, visit: Visit | None = None, notes: dict | None = None) -> Audit:
    """The auditor's safeguarding audit (on their first such visit, or `visit`), submitted, with two
    proposed actions and everything else above."""
    auditor = world.user(session, "auditor")
    audit = _rated_audit(session, auditor, visit or review_helpers.visit_for(session, world.EMAIL["auditor"], SG))
    changes = [capture.Change(key, uuid.uuid4(), audit.id, key, 1, {"note": note})
               for key, note in (NOTES | (notes or {})).items()]
    assert {o.status for o in capture.record_answers(session, auditor, changes)} == {"applied"}
    visit_date = audit.visit.visit_date
    proposed = [capture.Change(key, uuid.uuid4(), audit.id, key, 0, {
        "description": f"Put right {key}", "owner_role": "Designated safeguarding lead",
        "due_date": (visit_date + timedelta(days=days)).isoformat(), "priority": "normal"})
        for key, days in (("SG-1.2", 28), ("SG-6.1", 14))]
    assert {o.status for o in capture.propose_actions(session, auditor, proposed)} == {"applied"}
    talks = [capture.Change("L", uuid.uuid4(), audit.id, "learner", 0,
                            {"subject": "KS4", "notes": LEARNER_NOTE, "response:LC-3": LEARNER_RESPONSE,
                             "consent_given": True}),
             capture.Change("S", uuid.uuid4(), audit.id, "staff", 0, {"subject": "Tutor", "notes": STAFF_NOTE})]
    assert {o.status for o in capture.record_conversations(session, auditor, talks)} == {"applied"}
    concern = audits.NewConcern(None, uuid.uuid4(), audit.visit_id, datetime.now(UTC), "DSL", None, False, CONCERN)
    assert audits.raise_concerns(session, auditor, [concern])[0].status == "applied"
    evidence_helpers.verified(session, get_blob_store(app), audit.id, item_key="SG-1.2", filename="policy-photo.jpg")
    assert audits.submit_audits(session, auditor, [(1, audit.id)])[0].status == "applied"
    session.flush()
    session.refresh(audit)
    return audit


def confirm_all(session, audit: Audit, due: date | None = None) -> list[Action]:
    """The lead reviewer confirms every proposed action as it stands (or with `due` as the due date)."""
    rows = actions.unconfirmed_actions(session, audit.id)
    return actions.confirm_actions(session, lead(session), audit, [
        actions.ActionConfirmation(a.id, a.owner_role, due or a.due_date, "high" if a.item_key == "SG-6.1" else "normal")
        for a in rows])


def finalised_with_actions(session, app, visit: Visit | None = None, notes: dict | None = None) -> Audit:
    """`submitted_with_actions`, actions confirmed and the audit finalised by the lead reviewer."""
    audit = submitted_with_actions(session, app, visit, notes)
    confirm_all(session, audit)
    session.flush()
    return review.finalise_audit(session, lead(session), audit.id, session.get(Audit, audit.id).version)


def matrix_audit(session, app) -> Audit:
    """A finalised audit for the role matrix, on the auditor's second visit (the first carries the
    evidence routes' probe file), made once per test."""
    if "matrix_finalised" not in session.info:
        visits = session.scalars(select(Visit).join(VisitAssignment).join(VisitAuditType).where(
            VisitAssignment.user_id == world.user(session, "auditor").id, VisitAuditType.audit_type == SG)
            .order_by(Visit.id)).all()
        session.info["matrix_finalised"] = finalised_with_actions(session, app, visits[1])
    return session.info["matrix_finalised"]


def matrix_token(session, app) -> str:
    """A working share link's token for the matrix audit, made once per test."""
    if "matrix_token" not in session.info:
        audit = matrix_audit(session, app)
        session.info["matrix_token"] = share_links.create_share_link(
            session, world.user(session, "maintainer"), audit, 30)[1]
    return session.info["matrix_token"]


def matrix_link_id(session, app) -> int:
    """A fresh share link (each revoke probe gets its own)."""
    audit = matrix_audit(session, app)
    return share_links.create_share_link(session, world.user(session, "maintainer"), audit, 30)[0].id


def _rated_audit(session, auditor, visit: Visit) -> Audit:
    audit_id = audit_id_for(visit.id, SG)
    started = start_audits(session, auditor, [StartAudit(1, audit_id, visit.id, SG, latest_version(session, SG).id)])
    assert started[0].status == "applied", started
    keys = review_helpers.rated_keys(session, SG)
    changes = [capture.Change(key, uuid.uuid4(), audit_id, key, 0, _answer(RATINGS.get(key, "met"))) for key in keys]
    assert {o.status for o in capture.record_answers(session, auditor, changes)} == {"applied"}
    return session.get(Audit, audit_id)


def _answer(rating: str) -> dict:
    return {"rating": rating, "na_reason": "No learners use the provider's devices"} if rating == "not_applicable" \
        else {"rating": rating}


def actions_of(session, audit: Audit) -> dict[str, Action]:
    return {a.item_key: a for a in session.scalars(select(Action).where(Action.audit_id == audit.id))}
