"""The demo world's past, told through the services: every published status is what finalised audits and
maintainers' decisions made it, never a status written by hand.

Each provider with a story had a visit some weeks or months ago: an auditor captured its safeguarding and
health and safety audits, a QoE teacher its quality of education audit (graded, moderated by a second
teacher); the lead reviewer and that second teacher finalised them; a maintainer approved the first listing.
Each step runs on the clock of the day it happened (`clock.frozen`), so dates, expiry and the history read
true. Then some things happened since: a safeguarding concern, a suspension, audits that have expired, and
the work waiting today (an audit in capture, one submitted, one returned).

Idempotent: a provider's story is told once (it is skipped when the provider has any audit), and the work in
progress is found by its derived audit ids.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clock
from ..models import Audit, Provider, User, Visit
from . import decisions, review, rollup
from .access import items_of
from .actions import ActionConfirmation, confirm_actions, unconfirmed_actions
from .audits import NewConcern, StartAudit, audit_id_for, raise_concerns, start_audits, submit_audits
from .capture import Change, propose_actions, record_answers, record_conversations, record_policy_checks
from .grading import AreaGrade, Moderation, load_sheet, moderate_grades, record_grades
from .providers import schedule_visit
from .templates import latest_version

AUDITOR = "auditor2@assure.example.org"  # carried out the demo's past audits (the tests' auditor keeps a clean slate)
LEAD = "lead.auditor@assure.example.org"
QE_AUTHOR, QE_MODERATOR = "teacher@city.example.org", "teacher@county.example.org"
MAINTAINERS = ("maintainer@city.example.org", "maintainer@county.example.org")
SAFETY = ("safeguarding", "health_safety")


@dataclass(frozen=True)
class Story:
    legal_name: str
    days_ago: int  # the visit
    quality_education: bool = True  # a QE audit on that visit too
    action_on: str | None = None  # an audit type whose one Partially met item raises an open action
    concern_days_ago: int | None = None  # a safeguarding concern raised since, still awaiting triage
    suspended_days_ago: int | None = None  # a maintainer suspended the provider since


STORIES = (
    Story("Riverside Motor Skills CIC", 150),
    Story("Greenfield Farm Learning Ltd", 200),
    Story("Charnwood Therapeutic Education Ltd", 90, action_on="health_safety"),  # Conditional: an open action
    Story("Soar Valley Tutoring Ltd", 120),
    Story("Melton Outdoor Pursuits CIC", 160, concern_days_ago=6),  # Under review: a concern awaits triage
    Story("Bosworth Construction Academy Ltd", 70, quality_education=False),  # Conditional: no QE audit yet
    Story("Wigston Online School Services Ltd", 240),
    Story("Highfields Youth Mentoring CIC", 180, suspended_days_ago=20),  # Suspended: another maintainer may reinstate
    Story("Abbey Park Boxing Academy CIC", 210),
    Story("Belgrave Digital Skills Ltd", 380),  # Under review: its audits expired a fortnight ago
    Story("Market Bosworth Nurture Hub Ltd", 260),
)
# Work waiting today, for the reviewers and the auditor: (provider, days ago, audit type, how far it got)
IN_PROGRESS = (
    ("Soar Valley Tutoring Ltd", 2, "health_safety", "capture"),
    ("Wigston Online School Services Ltd", 5, "safeguarding", "submitted"),
    ("Greenfield Farm Learning Ltd", 8, "health_safety", "returned"),
)


def seed_history(session: Session) -> None:
    """Tell every provider's story that has not been told, then the work in progress, then roll up to today."""
    people = {u.email: u for u in session.scalars(select(User).where(User.email.in_(
        (AUDITOR, LEAD, QE_AUTHOR, QE_MODERATOR, *MAINTAINERS))))}
    today = clock.today()
    for story in STORIES:
        provider = session.scalar(select(Provider).where(Provider.legal_name == story.legal_name))
        if provider is not None and not _has_audits(session, provider):
            _tell(session, people, provider, story, today)
    for legal_name, days_ago, audit_type, stage in IN_PROGRESS:
        provider = session.scalar(select(Provider).where(Provider.legal_name == legal_name))
        if provider is not None:
            _work_in_progress(session, people, provider, today - timedelta(days=days_ago), audit_type, stage)
    rollup.recompute(session, None, today, rollup.DATE_DRIVEN)


def _has_audits(session: Session, provider: Provider) -> bool:
    return session.scalar(select(Audit.id).join(Visit).where(Visit.provider_id == provider.id).limit(1)) is not None


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), clock.LONDON)


def _tell(session: Session, people: dict[str, User], provider: Provider, story: Story, today: date) -> None:
    visit_day = today - timedelta(days=story.days_ago)
    types = [*SAFETY, *(["quality_education"] if story.quality_education else [])]
    with clock.frozen(_at(visit_day - timedelta(days=21), 9)):
        visit = schedule_visit(session, None, provider, provider.sites[0], visit_day, types,
                               [people[AUDITOR].id, people[QE_AUTHOR].id])
    with clock.frozen(_at(visit_day, 11)):
        for audit_type in types:
            author = people[QE_AUTHOR if audit_type == "quality_education" else AUDITOR]
            _capture(session, author, visit, audit_type, with_action=story.action_on == audit_type)
    with clock.frozen(_at(visit_day + timedelta(days=3), 10)):
        if story.quality_education:
            _grade(session, people, audit_id_for(visit.id, "quality_education"))
    with clock.frozen(_at(visit_day + timedelta(days=7), 14)):
        for audit_type in types:
            reviewer = people[QE_MODERATOR if audit_type == "quality_education" else LEAD]
            _finalise(session, reviewer, audit_id_for(visit.id, audit_type), visit_day)
    with clock.frozen(_at(visit_day + timedelta(days=9), 10)):
        _decide(session, people[MAINTAINERS[0]], provider, "approve", "First audits passed: list in the directory")
    if story.concern_days_ago is not None:
        with clock.frozen(_at(today - timedelta(days=story.concern_days_ago), 15)):
            _raise_concern(session, people[AUDITOR], visit, provider)
    if story.suspended_days_ago is not None:
        with clock.frozen(_at(today - timedelta(days=story.suspended_days_ago), 12)):
            _decide(session, people[MAINTAINERS[0]], provider, "suspend",
                    "A school reported that sessions ran without a qualified member of staff; suspended while the "
                    "provider sets out its staffing plan")


def _capture(session: Session, author: User, visit: Visit, audit_type: str, *, with_action: bool = False,
             rated_share: float = 1.0) -> uuid.UUID:
    """Start the audit and rate its items (all Met, one Partially met with an action when asked)."""
    version = latest_version(session, audit_type)
    audit_id = audit_id_for(visit.id, audit_type)
    start_audits(session, author, [StartAudit("demo", audit_id, visit.id, audit_type, version.id)])
    rated = [key for key, item in items_of(version.content).items() if item.get("answer", "rating") == "rating"]
    rated = rated[:max(1, int(len(rated) * rated_share))]
    partial = rated[len(rated) // 2] if with_action else None
    changes = [Change(key, uuid.uuid5(audit_id, key), audit_id, key, 0,
                      {"rating": "partially_met", "note": "Seen in part: the record was not up to date."}
                      if key == partial else {"rating": "met"}) for key in rated]
    _applied(record_answers(session, author, changes))
    if partial:
        due = (clock.today() + timedelta(days=120)).isoformat()
        _applied(propose_actions(session, author, [Change("demo", uuid.uuid5(audit_id, "action"), audit_id, partial, 0,
                                                          {"description": "Bring the record up to date and keep it "
                                                           "reviewed each term", "owner_role": "Centre manager",
                                                           "due_date": due})]))
    if audit_type == "safeguarding":
        _record_site_work(session, author, audit_id, version.content)
    return audit_id


def _record_site_work(session: Session, author: User, audit_id: uuid.UUID, content: dict) -> None:
    """A policy check and a learner and a staff conversation, as a safeguarding visit has."""
    policy_key = next(key for key, item in items_of(content).items() if item.get("policy"))
    _applied(record_policy_checks(session, author, [Change("demo", uuid.uuid5(audit_id, "policy"), audit_id,
                                                           policy_key, 0, {"document_seen": True,
                                                                           "named_person": "Centre manager",
                                                                           "note": "Current version seen on site."})]))
    _applied(record_conversations(session, author, [
        Change("demo", uuid.uuid5(audit_id, "learner"), audit_id, "learner", 0,
               {"subject": "Year 10 learner", "setting": "Workshop", "consent_given": True,
                "notes": "Feels safe; knows which adult to talk to."}),
        Change("demo", uuid.uuid5(audit_id, "staff"), audit_id, "staff", 0,
               {"subject": "Tutor", "setting": "Office", "consent_given": True,
                "notes": "Knew the DSL and how to record a concern."})]))


def _applied(outcomes) -> None:
    refused = [o for o in outcomes if o.status != "applied"]
    if refused:
        raise RuntimeError(f"demo history: a service refused a step: {refused[0].code} {refused[0].message}")


def _grade(session: Session, people: dict[str, User], audit_id: uuid.UUID) -> None:
    submit = submit_audits(session, people[QE_AUTHOR], [("demo", audit_id)])
    _applied(submit)
    sheet = load_sheet(session, audit_id)
    record_grades(session, people[QE_AUTHOR], [AreaGrade(audit_id, a["key"], "secure",
                                                         "Secure: most items met, with minor gaps noted.", 0)
                                               for a in sheet.areas])
    sheet = load_sheet(session, audit_id)
    moderate_grades(session, people[QE_MODERATOR], [
        Moderation(audit_id, a["key"], "agreed", None, "Agreed on the evidence in the ratings.",
                   sheet.rows[a["key"]].version) for a in sheet.areas])


def _finalise(session: Session, reviewer: User, audit_id: uuid.UUID, visit_day: date) -> None:
    audit = session.get(Audit, audit_id)
    if audit.status == "draft":
        _applied(submit_audits(session, session.get(User, audit.created_by_id), [("demo", audit_id)]))
    proposed = unconfirmed_actions(session, audit_id)
    if proposed:
        confirm_actions(session, reviewer, audit, [ActionConfirmation(a.id, a.owner_role, a.due_date, "normal")
                                                   for a in proposed])
    review.finalise_audit(session, reviewer, audit_id, audit.version)


def _decide(session: Session, maintainer: User, provider: Provider, decision: str, reason: str) -> None:
    decisions.decide(session, maintainer, decisions.Decision(provider.id, decision, reason, provider.version),
                     clock.today())


def _raise_concern(session: Session, auditor: User, visit: Visit, provider: Provider) -> None:
    raise_concerns(session, auditor, [NewConcern(
        "demo", uuid.uuid5(audit_id_for(visit.id, "safeguarding"), "concern"), visit.id, clock.now(),
        "LADO", None, True,
        "A learner described being left alone with an adult volunteer who has no DBS check on file.")])


def _work_in_progress(session: Session, people: dict[str, User], provider: Provider, day: date, audit_type: str,
                      stage: str) -> None:
    """An audit in capture, submitted and waiting for the lead reviewer, or returned to its auditor."""
    visit = session.scalar(select(Visit).where(Visit.provider_id == provider.id, Visit.visit_date == day))
    if visit is None:
        with clock.frozen(_at(day - timedelta(days=14), 9)):
            visit = schedule_visit(session, None, provider, provider.sites[0], day, [audit_type], [people[AUDITOR].id])
    audit_id = audit_id_for(visit.id, audit_type)
    if session.get(Audit, audit_id) is not None:
        return
    with clock.frozen(_at(day, 11)):
        _capture(session, people[AUDITOR], visit, audit_type, rated_share=0.4 if stage == "capture" else 1.0)
    if stage == "capture":
        return
    with clock.frozen(_at(day, 16)):
        _applied(submit_audits(session, people[AUDITOR], [("demo", audit_id)]))
    if stage == "returned":
        audit = session.get(Audit, audit_id)
        first_item = next(key for key, item in items_of(audit.template_version.content).items()
                          if item.get("answer", "rating") == "rating")
        with clock.frozen(_at(day + timedelta(days=2), 10)):
            review.return_audit(session, people[LEAD], audit_id, audit.version,
                                "Please add what you saw of the fire drill records before I finalise.",
                                {first_item: "Say which document you checked."})
