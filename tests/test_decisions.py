"""Maintainers' decisions: reasons required, stale forms refused with what changed, two maintainers
to reinstate after a safeguarding suspension, every decision in the history and the audit log."""
import pytest
from sqlalchemy import select

from auditapp.models import AuditLogEntry, DirectoryDecision, ProviderStatusChange
from auditapp.services import rollup, users
from auditapp.services.decisions import Decision, decide
from auditapp.services.errors import Conflict, Forbidden, Invalid

from . import world
from .directory_helpers import in_date, new_provider

TODAY = world.TODAY


@pytest.fixture
def maintainer(db_session):
    return world.user(db_session, "maintainer")


@pytest.fixture
def second_maintainer(db_session, maintainer):
    return users.create_user(db_session, None, users.NewUser("second.maintainer@county.example.org", "Sam Second",
                                                             "maintainer", maintainer.organisation_id,
                                                             "a long enough password 123"))


@pytest.fixture
def listed(db_session):
    provider = new_provider(db_session)
    in_date(db_session, provider)
    rollup.recompute(db_session, [provider.id], TODAY, "rollup")
    return provider


def _decide(db_session, actor, provider, decision, reason="Checked with the provider", **extra):
    return decide(db_session, actor, Decision(provider.id, decision, reason, provider.version, **extra), TODAY)


def test_a_decision_without_a_reason_changes_nothing(db_session, maintainer, listed):
    version = listed.version
    with pytest.raises(Invalid) as refused:
        _decide(db_session, maintainer, listed, "suspend", reason="   ")
    assert refused.value.code == "decision.reason_required" and "reason" in refused.value.details
    assert listed.directory_status == "eligible" and listed.version == version
    assert db_session.scalar(select(DirectoryDecision).where(DirectoryDecision.provider_id == listed.id)) is None


def test_only_maintainers_decide(db_session, listed):
    with pytest.raises(Forbidden):
        _decide(db_session, world.user(db_session, "admin"), listed, "suspend")


def test_a_stale_form_is_refused_and_says_what_changed(db_session, maintainer, listed):
    seen = listed.version
    _decide(db_session, maintainer, listed, "suspend")
    with pytest.raises(Conflict) as stale:
        decide(db_session, maintainer, Decision(listed.id, "remove", "Closed down", seen), TODAY)
    assert stale.value.code == "decision.stale"
    assert any("Eligible to Suspended" in line for line in stale.value.details["changes"])
    assert listed.directory_status == "suspended"


def test_suspend_then_reinstate_on_non_safeguarding_grounds(db_session, maintainer, listed):
    _decide(db_session, maintainer, listed, "suspend")
    assert listed.directory_status == "suspended"
    _decide(db_session, maintainer, listed, "reinstate")
    assert listed.directory_status == "eligible"
    history = db_session.scalars(select(ProviderStatusChange.to_status).where(
        ProviderStatusChange.provider_id == listed.id, ProviderStatusChange.cause == "decision")).all()
    assert history == ["suspended", "eligible"]
    logged = db_session.scalars(select(AuditLogEntry.action).where(AuditLogEntry.entity_id == str(listed.id))).all()
    assert "provider.decision.suspend" in logged and "provider.decision.reinstate" in logged


def test_reinstating_after_a_safeguarding_suspension_needs_a_second_maintainer(db_session, maintainer,
                                                                               second_maintainer, listed):
    _decide(db_session, maintainer, listed, "suspend", safeguarding=True)
    _decide(db_session, maintainer, listed, "reinstate", reason="LADO closed the case")
    assert listed.directory_status == "suspended"  # recorded, not yet confirmed
    with pytest.raises(Forbidden) as same:
        _decide(db_session, maintainer, listed, "confirm_reinstatement")
    assert same.value.code == "decision.same_maintainer" and listed.directory_status == "suspended"
    confirmed = _decide(db_session, second_maintainer, listed, "confirm_reinstatement", reason="Agree: case closed")
    assert listed.directory_status == "eligible" and confirmed.confirms_decision_id is not None


def test_approve_first_listing_only_when_the_audits_allow(db_session, maintainer):
    applicant = new_provider(db_session, listed=False, status="pending")
    rollup.recompute(db_session, [applicant.id], TODAY, "rollup")
    with pytest.raises(Invalid) as refused:
        _decide(db_session, maintainer, applicant, "approve")
    assert refused.value.code == "decision.not_eligible" and applicant.directory_status == "pending"
    in_date(db_session, applicant, qe=None)
    rollup.recompute(db_session, [applicant.id], TODAY, "finalise")
    _decide(db_session, maintainer, applicant, "approve", reason="First audits passed")
    assert applicant.directory_status == "conditional" and applicant.first_listed_on is not None
    assert not applicant.needs_decision


def test_removed_providers_come_back_only_by_a_new_application(db_session, maintainer, listed):
    _decide(db_session, maintainer, listed, "remove", reason="Closed")
    with pytest.raises(Invalid) as refused:
        _decide(db_session, maintainer, listed, "reinstate")
    assert refused.value.code == "decision.removed"

