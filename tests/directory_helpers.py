"""Build providers with finalised audits, actions and concerns directly, for roll-up tests."""
from __future__ import annotations

import uuid
from datetime import date, timedelta

from auditapp import clock
from auditapp.models import Action, Audit, Provider, QoeGrade, SafeguardingConcern
from auditapp.services import providers
from auditapp.services.audits import audit_id_for
from auditapp.services.templates import latest_version

from . import world

_counter = iter(range(1, 10_000))
# Dates relative to the world's today: audits in date (valid for six months more), listed nearly two years ago.
IN_DATE = world.TODAY - timedelta(days=180)
FIRST_LISTED = world.TODAY - timedelta(days=690)


def new_provider(session, listed: bool = True, status: str = "eligible") -> Provider:
    n = next(_counter)
    provider = providers.create_provider(session, None, providers.NewProvider(
        legal_name=f"Roll-up Test Provider {n} {uuid.uuid4().hex[:6]}", contact_name="Pat Contact",
        contact_email=f"contact{n}@provider.example.org", district="Blaby", time_basis="part_time",
        delivery_mode="in_person", age_min=11, age_max=16, directory_status=status,
        registration_status="not_required",
        sites=(providers.NewSite("Main site", "1 High Street", "Blaby", "LE8 4AA", True),)))
    if listed:
        provider.first_listed_on = clock.day_start(FIRST_LISTED)
        provider.computed_status = status
    session.flush()
    return provider


def finalised_audit(session, provider: Provider, audit_type: str, outcome: str, visit_date: date,
                    grade: str | None = None) -> Audit:
    auditor = world.user(session, "auditor")
    visit = providers.schedule_visit(session, None, provider, provider.sites[0], visit_date, [audit_type], [auditor.id])
    audit = Audit(id=audit_id_for(visit.id, audit_type), visit_id=visit.id, audit_type=audit_type,
                  template_version_id=latest_version(session, audit_type).id, status="finalised", outcome=outcome,
                  created_by_id=auditor.id, finalised_at=clock.now())
    session.add(audit)
    session.flush()
    if grade:
        teacher = world.user(session, "qoe_teacher")
        session.add(QoeGrade(audit_id=audit.id, area="overall", grade=grade, graded_by_id=auditor.id,
                             moderation="agreed", moderated_grade=grade, moderated_by_id=teacher.id))
        session.flush()
    return audit


def action(session, audit: Audit, due: date, status: str = "open") -> Action:
    row = Action(id=uuid.uuid4(), audit_id=audit.id, provider_id=audit.visit.provider_id, item_key="SG-1.1",
                 description="Update the policy", owner_role="Proprietor", due_date=due, status=status,
                 created_by_id=audit.created_by_id)
    session.add(row)
    session.flush()
    return row


def concern(session, provider: Provider) -> SafeguardingConcern:
    row = SafeguardingConcern(id=uuid.uuid4(), provider_id=provider.id, raised_by_id=world.user(session, "auditor").id,
                              occurred_at=clock.now(), referred_to_role="DSL",
                              about_provider_or_staff=True, summary="Concern content the schools must never see")
    session.add(row)
    session.flush()
    return row


def in_date(session, provider: Provider, visit_date: date = IN_DATE, sg="compliant", hs="compliant",
            qe="compliant", grade="secure") -> dict[str, Audit]:
    audits = {"safeguarding": finalised_audit(session, provider, "safeguarding", sg, visit_date),
              "health_safety": finalised_audit(session, provider, "health_safety", hs, visit_date)}
    if qe:
        audits["quality_education"] = finalised_audit(session, provider, "quality_education", qe, visit_date, grade)
    return audits
