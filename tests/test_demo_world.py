"""The demo world (`make run`, and every test's world) is true: each published status is what its finalised audits
and the maintainers' decisions made it, and there is work waiting for every role."""
from sqlalchemy import func, select

from auditapp import clock
from auditapp.models import (Action, Audit, DirectoryDecision, Placement, Provider, ProviderStatusChange, QoeGrade,
                             SafeguardingConcern, Visit)
from auditapp.services import rollup
from auditapp.services.demo import _PROVIDERS
from auditapp.services.eligibility import SAFETY_TYPES

WANTED = {row[0]: row[7] for row in _PROVIDERS}


def test_every_published_status_is_the_one_its_story_leads_to(db_session):
    published = dict(db_session.execute(select(Provider.legal_name, Provider.directory_status)).all())
    assert published == WANTED


def test_every_status_change_was_made_by_the_roll_up_or_a_maintainer_and_nothing_changes_on_recompute(db_session):
    causes = set(db_session.scalars(select(ProviderStatusChange.cause).distinct()))
    assert causes <= {"finalise", "decision", "concern", "action", "rollup"}, causes
    assert rollup.recompute(db_session, None, clock.today(), rollup.DATE_DRIVEN) == []


def test_every_listed_or_held_provider_has_its_finalised_audits_and_a_maintainers_approval(db_session):
    for provider in db_session.scalars(select(Provider).where(Provider.directory_status != "pending")):
        types = set(db_session.scalars(select(Audit.audit_type).join(Visit).where(
            Visit.provider_id == provider.id, Audit.status == "finalised")))
        assert set(SAFETY_TYPES) <= types, provider.legal_name
        approvals = db_session.scalar(select(func.count()).select_from(DirectoryDecision).where(
            DirectoryDecision.provider_id == provider.id, DirectoryDecision.decision == "approve"))
        assert approvals == 1, provider.legal_name
        assert provider.first_listed_on is not None and provider.first_listed_on < clock.now()


def test_there_is_work_waiting_for_every_role(db_session):
    statuses = dict(db_session.execute(select(Audit.status, func.count()).group_by(Audit.status)).all())
    assert statuses.get("draft") and statuses.get("submitted") and statuses.get("returned")  # auditor, reviewers
    open_actions = db_session.scalar(select(func.count()).select_from(Action).join(Audit).where(
        Audit.status == "finalised", Action.status == "open"))
    assert open_actions >= 1  # a finalised audit with an open action (the provider's plan)
    assert db_session.scalar(select(func.count()).select_from(SafeguardingConcern)
                             .where(SafeguardingConcern.status == "open")) == 1  # the maintainers' queue
    suspended = db_session.scalars(select(Provider).where(Provider.directory_status == "suspended")).all()
    assert suspended and all(p.computed_status in rollup.LISTED for p in suspended)  # a maintainer may reinstate
    assert db_session.scalar(select(func.count()).select_from(QoeGrade).where(
        QoeGrade.moderation.is_(None))) >= 1  # grades waiting for a second teacher
    assert db_session.scalar(select(func.count()).select_from(Placement)
                             .where(Placement.status == "submitted")) >= 3  # the LA dashboard's figures
