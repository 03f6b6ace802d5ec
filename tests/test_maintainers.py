"""The maintainers' pages over HTTP on PostgreSQL: the queue and "why", decisions (with the bad cases
the issue lists: no reason, the same maintainer confirming, a stale form, a school on a maintainer
route), the history timeline, the weekly summary and the roll-up settings."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from auditapp.models import AuditLogEntry, DirectoryDecision, ProviderStatusChange
from auditapp.services import rollup
from auditapp.services.eligibility import EligibilityConfig, add_months
from auditapp.web.maintainer_pages import today

from . import world
from .conftest import CSRF_RE
from .directory_helpers import action, concern, in_date, new_provider

HX = {"HX-Request": "true"}
SECOND_MAINTAINER = "maintainer@county.example.org"  # Mina Maintainer in the demo world


@pytest.fixture
def listed(db_session):
    """An Eligible provider with every audit in date."""
    provider = new_provider(db_session)
    in_date(db_session, provider, visit_date=today() - timedelta(days=30))
    _recompute(db_session, [provider.id], "rollup")
    return provider


@pytest.fixture
def under_review(db_session, listed):
    """The listed provider with an untriaged safeguarding concern: Under review, queued first."""
    concern(db_session, listed)
    _recompute(db_session, [listed.id], "concern")
    return listed


def _recompute(db_session, ids, cause):
    """Recompute and flush, so the app's session (same connection) sees the result."""
    changes = rollup.recompute(db_session, ids, today(), cause)
    db_session.flush()
    return changes


def _decide(client, auth, provider, decision, reason="Checked with the LADO", version=None, htmx=False, **extra):
    data = {"csrf_token": auth.csrf("/"), "decision": decision, "reason": reason,
            "version": provider.version if version is None else version, **extra}
    return client.post(f"/maintainers/providers/{provider.id}/decisions", data=data, headers=HX if htmx else None)


def _decisions(db_session, provider) -> int:
    return db_session.scalar(select(func.count()).select_from(DirectoryDecision)
                             .where(DirectoryDecision.provider_id == provider.id))


def _sign_in_as(client, email):
    client.post("/sign-out", data={"csrf_token": CSRF_RE.search(client.get("/").get_data(as_text=True)).group(1)})
    token = CSRF_RE.search(client.get("/sign-in").get_data(as_text=True)).group(1)
    signed_in = client.post("/sign-in", data={"email": email, "password": world.PASSWORD, "csrf_token": token})
    assert signed_in.status_code == 302


# ---- the queue and "why" ------------------------------------------------------------------------

def test_the_queue_puts_safeguarding_first_with_published_and_computed_status(client, auth, db_session, under_review):
    other = new_provider(db_session)
    audits = in_date(db_session, other, visit_date=today() - timedelta(days=30), hs="compliant_with_actions")
    action(db_session, audits["health_safety"], due=today() - timedelta(days=3))
    _recompute(db_session, [other.id], "action")
    auth.login("maintainer")
    page = client.get("/maintainers/queue").get_data(as_text=True)
    first, second = page.index(f'id="queue-{under_review.id}"'), page.index(f'id="queue-{other.id}"')
    assert first < second  # urgency 3 (safeguarding) before 1
    card = page[first:second]
    assert "Safeguarding" in card and "safeguarding concern(s) awaiting triage" in card
    assert "Published status" in card and "The audits say" in card and "Valid until" in card
    assert f"Why is {under_review.display_name} Under review?" in card


def test_why_in_one_click_shows_rule_reasons_dates_and_the_facts(client, auth, db_session, under_review):
    auth.login("maintainer")
    response = client.get(f"/maintainers/providers/{under_review.id}/why", headers=HX)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in fragment and "HX-Request" in response.headers["Vary"]
    assert "Rule R3" in fragment and "safeguarding concern(s) awaiting triage" in fragment
    assert "Safeguarding concerns awaiting triage: 1" in fragment
    assert "Latest finalised audits" in fragment and "Compliant" in fragment
    assert f"{add_months(today() - timedelta(days=30), 12):%-d %B %Y}" in fragment  # each audit valid 12 months
    assert "Concern content the schools must never see" not in fragment  # concern content stays in its own record


def test_why_lists_open_and_overdue_actions_and_triggers(client, auth, db_session, listed):
    audits = in_date(db_session, listed, visit_date=today() - timedelta(days=10), sg="compliant_with_actions")
    action(db_session, audits["safeguarding"], due=today() - timedelta(days=2))
    auth.login("maintainer")
    token = auth.csrf("/")
    client.post(f"/maintainers/providers/{listed.id}/triggers", data={"csrf_token": token, "kind": "new_dsl",
                                                                      "note": "New DSL from January"})
    page = client.get(f"/maintainers/providers/{listed.id}/why").get_data(as_text=True)
    assert "Open actions: 1, of which 1 overdue" in page and "SG-1.1: Update the policy" in page
    assert "Change of designated safeguarding lead" in page and "New DSL from January" in page


# ---- decisions ----------------------------------------------------------------------------------

def test_a_maintainer_suspends_on_safeguarding_grounds_and_it_is_logged_and_in_the_history(client, auth, db_session,
                                                                                             under_review):
    auth.login("maintainer")
    response = _decide(client, auth, under_review, "suspend", "LADO referral about a member of staff",
                       htmx=True, safeguarding="yes")
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/maintainers/providers/{under_review.id}?done=suspend"
    db_session.refresh(under_review)
    assert under_review.directory_status == "suspended"
    row = db_session.scalar(select(DirectoryDecision).where(DirectoryDecision.provider_id == under_review.id))
    assert row.reason_codes == ["safeguarding"] and row.reason_text == "LADO referral about a member of staff"
    assert db_session.scalar(select(AuditLogEntry).where(AuditLogEntry.action == "provider.decision.suspend",
                                                         AuditLogEntry.entity_id == str(under_review.id))) is not None
    page = client.get(f"/maintainers/providers/{under_review.id}?done=suspend").get_data(as_text=True)
    assert "Provider suspended" in page
    history = client.get(f"/maintainers/providers/{under_review.id}/history").get_data(as_text=True)
    assert "Published status: Under review to Suspended" in history and "Safeguarding grounds" in history
    assert "LADO referral about a member of staff" in history and "Morgan Maintainer" in history
    assert history.index("to Suspended") < history.index("to Under review")  # newest first


def test_a_decision_without_a_reason_is_refused_with_the_field_and_changes_nothing(client, auth, db_session,
                                                                                     under_review):
    auth.login("maintainer")
    version = under_review.version
    response = _decide(client, auth, under_review, "suspend", "   ", htmx=True)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="decision-panel"' in fragment and "<html" not in fragment
    assert "Give a reason for this decision" in fragment and "Enter a reason" in fragment
    db_session.refresh(under_review)
    assert under_review.directory_status == "under_review" and under_review.version == version
    assert _decisions(db_session, under_review) == 0


def test_no_decision_chosen_is_a_field_error(client, auth, db_session, under_review):
    auth.login("maintainer")
    response = client.post(f"/maintainers/providers/{under_review.id}/decisions",
                           data={"csrf_token": auth.csrf("/"), "reason": "x", "version": under_review.version})
    assert response.status_code == 422 and "Choose a decision" in response.get_data(as_text=True)
    assert _decisions(db_session, under_review) == 0


def test_a_stale_decision_form_says_what_changed_and_changes_nothing(client, auth, db_session, listed):
    auth.login("maintainer")
    seen = listed.version
    form = client.get(f"/maintainers/providers/{listed.id}").get_data(as_text=True)
    assert f'name="version" value="{seen}"' in form
    concern(db_session, listed)  # meanwhile a concern puts it Under review
    _recompute(db_session, [listed.id], "concern")
    response = _decide(client, auth, listed, "remove", "Closed down", version=seen, htmx=True)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 409 and "The status changed while you were deciding" in fragment
    assert "Eligible to Under review" in fragment and "Nothing was saved" in fragment
    assert f'name="version" value="{listed.version}"' in fragment and "Closed down" in fragment  # kept, now current
    db_session.refresh(listed)
    assert listed.directory_status == "under_review" and _decisions(db_session, listed) == 0


def test_a_refused_decision_shows_the_services_message(client, auth, db_session, under_review):
    auth.login("maintainer")
    response = _decide(client, auth, under_review, "clear_review", "Looked into it")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "The decision was refused" in page
    assert "The audits say Under review: resolve the reasons first" in page
    assert _decisions(db_session, under_review) == 0


def test_reinstatement_after_a_safeguarding_suspension_needs_a_different_maintainer(client, auth, db_session,
                                                                                    listed):
    auth.login("maintainer")
    assert _decide(client, auth, listed, "suspend", "Allegation against staff", safeguarding="yes").status_code == 303
    db_session.refresh(listed)
    assert _decide(client, auth, listed, "reinstate", "LADO closed the case").status_code == 303
    db_session.refresh(listed)
    assert listed.directory_status == "suspended"
    page = client.get(f"/maintainers/providers/{listed.id}").get_data(as_text=True)
    assert "Confirm the reinstatement" not in page and "waiting for a second maintainer" in page
    same = _decide(client, auth, listed, "confirm_reinstatement", "I agree with myself")
    assert same.status_code == 422 and "A second maintainer must confirm" in same.get_data(as_text=True)
    db_session.refresh(listed)
    assert listed.directory_status == "suspended"
    _sign_in_as(client, SECOND_MAINTAINER)
    page = client.get(f"/maintainers/providers/{listed.id}").get_data(as_text=True)
    assert "Confirm the reinstatement" in page and "LADO closed the case" in page
    assert _decide(client, auth, listed, "confirm_reinstatement", "Agreed: case closed").status_code == 303
    db_session.refresh(listed)
    assert listed.directory_status == "eligible"


def test_a_school_on_maintainer_routes_is_refused_and_nothing_changes(client, auth, db_session, under_review):
    auth.login("school")
    for path in ("/maintainers/queue", f"/maintainers/providers/{under_review.id}",
                 f"/maintainers/providers/{under_review.id}/why", f"/maintainers/providers/{under_review.id}/history",
                 "/maintainers/summary", "/maintainers/planner", "/settings/roll-up"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Concern content" not in response.get_data(as_text=True)
    refused = _decide(client, auth, under_review, "suspend", "Trying my luck")
    assert refused.status_code == 403
    db_session.refresh(under_review)
    assert under_review.directory_status == "under_review" and _decisions(db_session, under_review) == 0


def test_admins_read_the_provider_page_but_do_not_decide(client, auth, db_session, under_review):
    auth.login("admin")
    page = client.get(f"/maintainers/providers/{under_review.id}").get_data(as_text=True)
    assert "Only directory maintainers decide" in page and 'name="decision"' not in page
    assert _decide(client, auth, under_review, "suspend").status_code == 403


def test_decision_options_follow_the_published_status(client, auth, db_session, listed):
    auth.login("maintainer")
    page = client.get(f"/maintainers/providers/{listed.id}").get_data(as_text=True)
    assert 'value="suspend"' in page and 'value="remove"' in page
    assert 'value="approve"' not in page and 'value="reinstate"' not in page and 'value="clear_review"' not in page


# ---- weekly summary and settings ----------------------------------------------------------------

def test_the_weekly_summary_counts_this_weeks_changes_by_new_status(client, auth, db_session, under_review):
    auth.login("maintainer")
    _decide(client, auth, under_review, "suspend", "Allegation")
    page = client.get("/maintainers/summary").get_data(as_text=True)
    assert under_review.display_name in page and "Morgan Maintainer" in page
    counts = _week_counts(db_session, today())
    assert counts["suspended"] >= 1
    assert f"{counts['suspended']} became Suspended" in page and f"{counts['under_review']} became Under review" in page
    last_year = client.get("/maintainers/summary", query_string={"week": (today() - timedelta(days=364)).isoformat()})
    assert last_year.status_code == 200
    assert "No published status changed in this week" in last_year.get_data(as_text=True)


def test_a_malformed_week_is_a_field_error(client, auth):
    auth.login("maintainer")
    response = client.get("/maintainers/summary", query_string={"week": "2026-02-31"}, headers=HX)
    assert response.status_code == 422 and "Enter a real date" in response.get_data(as_text=True)


def test_the_roll_up_settings_page_shows_every_threshold_and_where_it_is_set(client, auth):
    auth.login("admin")
    page = client.get("/settings/roll-up").get_data(as_text=True)
    for name, _ in EligibilityConfig().describe():
        assert f"<code>{name}</code>" in page
    assert 'id="setting-validity_months">12 months' in page and 'id="setting-warning_days">60 days' in page
    assert "auditapp/services/eligibility.py" in page


def _week_counts(db_session, day: date) -> dict[str, int]:
    from auditapp.maintainer_queries import week_summary
    summary = week_summary(db_session, day)
    return {status: summary.counts.get(status, 0) for status in ("suspended", "under_review")}


def test_history_shows_roll_up_changes_with_their_cause(client, auth, db_session, under_review):
    auth.login("maintainer")
    page = client.get(f"/maintainers/providers/{under_review.id}/history").get_data(as_text=True)
    assert "The audits now say Under review (was Eligible)" in page and "after a concern was raised" in page
    assert "the roll-up" in page
    changes = db_session.scalar(select(func.count()).select_from(ProviderStatusChange)
                                .where(ProviderStatusChange.provider_id == under_review.id))
    assert page.count('class="app-timeline__item"') == changes


def test_status_changed_at_orders_equal_urgency_oldest_first(client, auth, db_session):
    older, newer = new_provider(db_session), new_provider(db_session)
    for provider in (older, newer):
        in_date(db_session, provider, visit_date=today() - timedelta(days=30))
        concern(db_session, provider)
    _recompute(db_session, [older.id, newer.id], "concern")
    older.status_changed_at = datetime.now(timezone.utc) - timedelta(days=3)
    db_session.flush()
    auth.login("maintainer")
    page = client.get("/maintainers/queue").get_data(as_text=True)
    assert page.index(f'id="queue-{older.id}"') < page.index(f'id="queue-{newer.id}"')
