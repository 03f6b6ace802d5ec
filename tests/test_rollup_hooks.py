"""The roll-up runs in the same transaction as the changes it depends on: a concern raised on a visit,
actions confirmed at review, an action verified and closed (finalise and decisions are tested with
their services)."""
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from auditapp.models import Evidence, ProviderStatusChange, SafeguardingConcern
from auditapp.services import actions, audits, providers, review, rollup
from auditapp.web.maintainer_pages import today

from . import report_helpers as rh
from . import world
from .directory_helpers import action, in_date, new_provider


@pytest.fixture
def listed(db_session):
    provider = new_provider(db_session)
    in_date(db_session, provider, visit_date=today() - timedelta(days=60))
    rollup.recompute(db_session, [provider.id], today(), "rollup")
    assert provider.directory_status == "eligible"
    return provider


def _changes(db_session, provider, cause):
    return [(c.kind, c.from_status, c.to_status) for c in db_session.scalars(
        select(ProviderStatusChange).where(ProviderStatusChange.provider_id == provider.id,
                                           ProviderStatusChange.cause == cause).order_by(ProviderStatusChange.id))]


def _visit(db_session, provider, days_ago=2):
    auditor = world.user(db_session, "auditor")
    return providers.schedule_visit(db_session, None, provider, provider.sites[0], today() - timedelta(days=days_ago),
                                    ["safeguarding"], [auditor.id])


def test_a_concern_raised_on_a_visit_puts_the_provider_under_review_at_once(db_session, listed):
    visit = _visit(db_session, listed)
    concern = audits.NewConcern(1, uuid.uuid4(), visit.id, datetime.now(UTC), "DSL", None, True, "Disclosure")
    assert audits.raise_concerns(db_session, world.user(db_session, "auditor"), [concern])[0].status == "applied"
    assert listed.directory_status == "under_review" and listed.queue_urgency == 3
    assert _changes(db_session, listed, "concern") == [("computed", "eligible", "under_review"),
                                                       ("published", "eligible", "under_review")]
    # A replay of the same concern (a re-sent push) changes nothing more.
    audits.raise_concerns(db_session, world.user(db_session, "auditor"), [concern])
    assert len(_changes(db_session, listed, "concern")) == 2


def test_actions_confirmed_at_review_count_only_once_the_audit_is_finalised(app, db_session, listed):
    submitted = rh.submitted_with_actions(db_session, app, _visit(db_session, listed))
    for row in db_session.scalars(select(SafeguardingConcern).where(SafeguardingConcern.provider_id == listed.id)):
        row.status = "triaged"  # the helper's visit raised a concern; a maintainer has triaged it
    rollup.recompute(db_session, [listed.id], today(), "rollup")
    assert listed.computed_status == "eligible"
    rh.confirm_all(db_session, submitted)
    # An audit still in review does not move the directory, even with its actions confirmed
    assert listed.computed_status == "eligible"
    assert _changes(db_session, listed, "action") == []
    db_session.flush()
    finalised = review.finalise_audit(db_session, rh.lead(db_session), submitted.id, submitted.version)
    # Finalised, it counts: its critical item not met makes it non-compliant
    assert (finalised.outcome, listed.computed_status) == ("non_compliant", "suspended")
    assert ("computed", "eligible", "suspended") in _changes(db_session, listed, "finalise")


def test_verifying_the_last_open_action_lists_the_provider_as_eligible_again(db_session, listed):
    audits_by_type = in_date(db_session, listed, visit_date=today() - timedelta(days=20), sg="compliant_with_actions")
    open_action = action(db_session, audits_by_type["safeguarding"], due=today() + timedelta(days=10))
    rollup.recompute(db_session, [listed.id], today(), "finalise")
    assert listed.directory_status == "conditional"
    evidence = Evidence(id=uuid.uuid4(), audit_id=audits_by_type["safeguarding"].id, item_key="SG-1.1",
                        media_type="image/jpeg", size_bytes=1000, sha256="0" * 64, status="verified",
                        storage_key=f"evidence/{audits_by_type['safeguarding'].id}/x",
                        created_by_id=world.user(db_session, "auditor").id)
    db_session.add(evidence)
    db_session.flush()
    actions.verify_action(db_session, world.user(db_session, "maintainer"), open_action.id,
                          "Saw the updated policy", evidence.id)
    assert listed.directory_status == "eligible"
    assert _changes(db_session, listed, "action") == [("computed", "conditional", "eligible"),
                                                      ("published", "conditional", "eligible")]
