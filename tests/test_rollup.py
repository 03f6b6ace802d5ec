"""The roll-up on PostgreSQL: computed status and reasons, what the app may publish on its own,
the maintainers' queue, history, audit log and watchers' notifications."""
from datetime import date, timedelta

from sqlalchemy import event, func, select

from auditapp.models import AuditLogEntry, Notification, OutboundEmail, ProviderStatusChange, Watch
from auditapp.services import rollup
from auditapp.services.eligibility import add_months

from . import world
from .directory_helpers import IN_DATE, action, concern, finalised_audit, in_date, new_provider

TODAY = world.TODAY


def _recompute(db_session, provider, today=TODAY, cause="rollup"):
    changes = rollup.recompute(db_session, [provider.id], today, cause)
    db_session.flush()
    return changes


def test_in_date_audits_make_an_eligible_provider_with_its_reasons(db_session):
    provider = new_provider(db_session, status="conditional")
    in_date(db_session, provider)
    changes = _recompute(db_session, provider)
    assert provider.computed_status == "eligible" and provider.directory_status == "eligible"
    assert provider.valid_until == add_months(IN_DATE, 12) and provider.computed_rule == "R5"
    assert {(c.kind, c.from_status, c.to_status) for c in changes} == {("computed", "conditional", "eligible"),
                                                                      ("published", "conditional", "eligible")}
    assert not provider.needs_decision


def test_rollup_is_idempotent(db_session):
    provider = new_provider(db_session)
    in_date(db_session, provider)
    _recompute(db_session, provider)
    version, history = provider.version, db_session.scalar(select(func.count()).select_from(ProviderStatusChange))
    assert _recompute(db_session, provider) == []
    assert provider.version == version
    assert db_session.scalar(select(func.count()).select_from(ProviderStatusChange)) == history


def test_a_live_concern_shows_under_review_at_once_and_queues_safeguarding_first(db_session):
    provider = new_provider(db_session)
    in_date(db_session, provider)
    other = new_provider(db_session)
    audits = in_date(db_session, other, hs="compliant_with_actions")
    action(db_session, audits["health_safety"], due=TODAY - timedelta(days=3))
    concern(db_session, provider)
    rollup.recompute(db_session, [provider.id, other.id], TODAY, "concern")
    assert provider.directory_status == "under_review" and provider.computed_status == "under_review"
    assert provider.needs_decision and provider.queue_urgency == 3
    assert other.directory_status == "under_review" and other.queue_urgency == 1
    reasons = provider.computed_reasons
    assert reasons[0]["code"] == "concern_untriaged" and reasons[0]["safeguarding"] is True


def test_a_non_compliant_audit_waits_in_the_queue_as_under_review(db_session):
    safety, safeguarding = new_provider(db_session), new_provider(db_session)
    in_date(db_session, safety, hs="non_compliant")
    in_date(db_session, safeguarding, sg="non_compliant")
    rollup.recompute(db_session, [safety.id, safeguarding.id], TODAY, "finalise")
    for provider in (safety, safeguarding):
        assert provider.computed_status == "suspended"
        assert provider.directory_status == "under_review"  # only a maintainer suspends
        assert provider.needs_decision
    assert (safety.queue_urgency, safeguarding.queue_urgency) == (2, 3)  # safeguarding first


def test_date_driven_expiry_moves_status_as_days_pass(db_session):
    provider = new_provider(db_session)
    in_date(db_session, provider, visit_date=date(2025, 12, 1))
    _recompute(db_session, provider, today=date(2026, 12, 1))
    assert provider.directory_status == "eligible"
    _recompute(db_session, provider, today=date(2026, 12, 2))
    assert provider.computed_status == "under_review" and provider.directory_status == "under_review"


def test_pending_provider_is_never_listed_by_the_app(db_session):
    provider = new_provider(db_session, listed=False, status="pending")
    in_date(db_session, provider, qe=None)
    _recompute(db_session, provider)
    assert provider.computed_status == "conditional" and provider.directory_status == "pending"
    assert provider.needs_decision  # ready for a maintainer to approve the first listing


def test_watchers_are_notified_in_plain_words_and_history_and_log_are_written(db_session):
    provider = new_provider(db_session)
    in_date(db_session, provider)
    _recompute(db_session, provider)
    school = world.user(db_session, "school")
    db_session.add(Watch(user_id=school.id, provider_id=provider.id))
    concern(db_session, provider)
    _recompute(db_session, provider, cause="concern")
    note = db_session.scalar(select(Notification).where(Notification.user_id == school.id,
                                                        Notification.provider_id == provider.id))
    assert note is not None and "Under review" in note.title
    assert "safeguarding matter" in note.body and "never see" not in note.body  # category, not content
    email = db_session.scalar(select(OutboundEmail).where(OutboundEmail.to_address == school.email))
    assert email is not None and email.sent_at is None and email.body == note.body
    history = db_session.scalars(select(ProviderStatusChange).where(ProviderStatusChange.provider_id == provider.id)
                                 .order_by(ProviderStatusChange.id)).all()
    assert [(h.kind, h.to_status, h.cause) for h in history][-2:] == [("computed", "under_review", "concern"),
                                                                       ("published", "under_review", "concern")]
    logged = db_session.scalars(select(AuditLogEntry.action).where(AuditLogEntry.entity == "provider",
                                                                   AuditLogEntry.entity_id == str(provider.id))).all()
    assert "provider.published_status" in logged and "provider.computed_status" in logged


def _updates_of_providers(db_session):
    """Collects the UPDATE statements sent for the providers table while the test runs."""
    seen: list[str] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE PROVIDERS"):
            seen.append(statement)
    event.listen(db_session.connection(), "before_cursor_execute", grab)
    return seen


def test_the_nightly_roll_up_writes_nothing_when_nothing_changed(db_session):
    provider = new_provider(db_session)
    in_date(db_session, provider)
    rollup.recompute(db_session, None, TODAY, "rollup")  # the seeded world's first roll-up may change some
    db_session.flush()
    stamped, version = provider.computed_at, provider.version
    updates = _updates_of_providers(db_session)
    assert rollup.recompute(db_session, None, TODAY, "rollup") == []
    db_session.flush()
    assert updates == [] and not db_session.dirty
    db_session.refresh(provider)
    assert provider.computed_at == stamped and provider.version == version
    _recompute(db_session, provider, cause="finalise")  # an event stamps its provider: the listener sees it
    assert len(updates) == 1


def test_the_nightly_roll_up_stamps_only_the_providers_whose_result_the_date_changes(db_session):
    expiring, steady = new_provider(db_session), new_provider(db_session)
    in_date(db_session, expiring, visit_date=date(2025, 12, 1))
    in_date(db_session, steady, visit_date=date(2026, 11, 1))
    rollup.recompute(db_session, [expiring.id, steady.id], date(2026, 12, 1), "finalise")
    db_session.flush()
    before = {p.id: p.computed_at for p in (expiring, steady)}
    changes = rollup.recompute(db_session, [expiring.id, steady.id], date(2026, 12, 2), "rollup")
    db_session.flush()
    assert {c.provider_id for c in changes} == {expiring.id}
    assert expiring.computed_at > before[expiring.id] and expiring.computed_status == "under_review"
    assert steady.computed_at == before[steady.id]  # its valid-until, reasons and queue place are unchanged


def test_an_event_stamps_its_provider_even_when_the_status_stays(db_session):
    provider = new_provider(db_session)
    audits = in_date(db_session, provider)
    _recompute(db_session, provider, cause="finalise")
    stamped, reasons = provider.computed_at, provider.computed_reasons
    # A newer QoE audit: what schools read (its visit date) changes, the stored result does not.
    finalised_audit(db_session, provider, "quality_education", "compliant", audits["quality_education"].visit.visit_date
                    + timedelta(days=30), grade="secure")
    assert _recompute(db_session, provider, cause="finalise") == []
    assert provider.computed_reasons == reasons and provider.computed_at > stamped


def test_a_full_roll_up_and_a_one_provider_recompute_agree(db_session):
    provider = new_provider(db_session)
    audits = in_date(db_session, provider, hs="compliant_with_actions", grade="weak")
    action(db_session, audits["health_safety"], due=TODAY + timedelta(days=5))
    concern(db_session, provider)
    rollup.recompute(db_session, None, TODAY, "rollup")
    db_session.flush()
    full = (provider.computed_status, provider.computed_rule, provider.computed_reasons, provider.valid_until,
            provider.reaudit_due, provider.needs_decision, provider.queue_urgency)
    _recompute(db_session, provider, cause="concern")
    assert (provider.computed_status, provider.computed_rule, provider.computed_reasons, provider.valid_until,
            provider.reaudit_due, provider.needs_decision, provider.queue_urgency) == full
    assert provider.computed_status == "under_review" and provider.queue_urgency == 3
