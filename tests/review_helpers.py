"""Shared set-up for review tests: submitted audits made through the capture services, reviewers,
and sign-in by email (the known world has a lead reviewer and two QoE teachers besides EMAIL)."""
from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from auditapp.models import Answer, Audit, SyncConflict, User, Visit, VisitAssignment, VisitAuditType
from auditapp.services import users
from auditapp.services.audits import StartAudit, audit_id_for, start_audits, submit_audits
from auditapp.services.capture import Change, record_answers
from auditapp.services.scoring import is_rated
from auditapp.services.templates import latest_version

from . import world

LEAD = "lead.auditor@assure.example.org"  # an auditor an admin made lead reviewer
CITY_TEACHER = "teacher@city.example.org"  # the second QoE teacher (world.EMAIL has the county one)
VERSION_RE = re.compile(r'name="version" value="(\d+)"')


def by_email(session, email: str) -> User:
    return session.scalar(select(User).where(User.email == email))


def second_lead(session) -> User:
    """Another lead reviewer, so two reviewers can race on one audit."""
    lead = by_email(session, LEAD)
    return users.create_user(session, None, users.NewUser(email="robin.reviewer@assure.example.org",
                                                          full_name="Robin Reviewer", role="auditor",
                                                          organisation_id=lead.organisation_id,
                                                          password=world.PASSWORD, is_lead_reviewer=True))


def sign_in(auth, email: str):
    """Sign out whoever is signed in, then sign in as `email` through the real routes."""
    if _signed_in(auth):
        auth.client.post("/sign-out", data={"csrf_token": auth.csrf("/")}).close()
    response = auth.client.post("/sign-in", data={"email": email, "password": world.PASSWORD,
                                                  "csrf_token": auth.csrf()})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def _signed_in(auth) -> bool:
    response = auth.client.get("/sign-in")
    response.close()
    return response.status_code == 302


def visit_for(session, email: str, audit_type: str) -> Visit:
    """The first visit (by id) assigned to `email` that plans `audit_type`."""
    return session.scalar(select(Visit).join(VisitAssignment).join(VisitAuditType)
                          .where(VisitAssignment.user_id == by_email(session, email).id,
                                 VisitAuditType.audit_type == audit_type).order_by(Visit.id).limit(1))


def rated_keys(session, audit_type: str) -> list[str]:
    content = latest_version(session, audit_type).content
    return [i["key"] for s in content["sections"] for i in s["items"] if is_rated(i)]


def submitted_audit(session, audit_type: str = "safeguarding", author: str = world.EMAIL["auditor"],
                    ratings: dict | None = None, submit: bool = True) -> Audit:
    """An audit started, fully rated and submitted by `author` through the capture services."""
    person = by_email(session, author)
    visit = visit_for(session, author, audit_type)
    audit_id = audit_id_for(visit.id, audit_type)
    started = start_audits(session, person, [StartAudit(1, audit_id, visit.id, audit_type,
                                                        latest_version(session, audit_type).id)])
    assert started[0].status == "applied", started
    wanted = {key: "met" for key in rated_keys(session, audit_type)} | (ratings or {})
    changes = [Change(key, uuid.uuid4(), audit_id, key, 0, _fields(rating)) for key, rating in wanted.items()]
    assert {o.status for o in record_answers(session, person, changes)} == {"applied"}
    if submit:
        outcome = submit_audits(session, person, [(1, audit_id)])[0]
        assert outcome.status == "applied", outcome
    session.flush()
    return session.get(Audit, audit_id)


def conflicted_audit(session, item_key: str = "SG-6.1") -> tuple[Audit, SyncConflict]:
    """The auditor's safeguarding audit, submitted after two tablets rated `item_key` differently from one base."""
    audit = submitted_audit(session, submit=False)
    auditor = by_email(session, world.EMAIL["auditor"])
    row_id, base = session.execute(select(Answer.id, Answer.version).where(Answer.audit_id == audit.id,
                                                                          Answer.item_key == item_key)).one()
    first = record_answers(session, auditor, [Change(uuid.uuid4(), row_id, audit.id, item_key, base,
                                                     {"rating": "partially_met"}, uuid.uuid4())])
    second = record_answers(session, auditor, [Change(uuid.uuid4(), row_id, audit.id, item_key, base,
                                                      {"rating": "not_met"}, uuid.uuid4())])
    assert (first[0].status, second[0].status) == ("applied", "conflict")
    assert submit_audits(session, auditor, [(1, audit.id)])[0].status == "applied"
    session.flush()
    return audit, session.scalar(select(SyncConflict).where(SyncConflict.audit_id == audit.id))


def _fields(rating: str) -> dict:
    if rating == "not_applicable":
        return {"rating": rating, "na_reason": "Does not apply here"}
    if rating in ("partially_met", "not_met"):
        return {"rating": rating, "note": "Gaps found"}
    return {"rating": rating}


def version_in(html: str) -> int:
    """The audit version a review form carries."""
    return int(VERSION_RE.search(html).group(1))
