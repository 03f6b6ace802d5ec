"""A real browser restart with no signal (issue 3: "reload, close the tab, or restart the browser offline:
the screen comes back exactly as left").

Chromium runs on a persistent profile (`launch_persistent_context`, the suite's launch arguments), is closed
completely (the whole browser process, not a tab) and launched again on the same profile with the network
already cut, so the capture screen can only come from the service worker's cache and IndexedDB on disk.
The module serves the app itself, over a database of its own, and logs every request the server receives:
that is how the test shows the restarted browser reached nothing, and it reads the rows PostgreSQL holds.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import BrowserContext, BrowserType, expect
from sqlalchemy import select

from auditapp.db import db
from auditapp.models import Action, Answer, Audit, Conversation, PolicyCheck, ProcessedMutation

from .conftest import make_test_app, world_database
from .live_server import serving
from .test_capture_browser import (ALL_SYNCED, OUTBOX_COUNT, add_conversations, answer_audit, capture_offline_ready,
                                   fill_policy_check, go_offline, open_capture, screen_state, sign_in, wait_saved)

SESSION_COOKIE = "auditapp_session"


@pytest.fixture(scope="module")
def server():
    """The app on a real port over its own committed database; `requests` lists every request it receives."""
    app = make_test_app(world_database(f"auditapp_restart_{uuid.uuid4().hex[:8]}"))
    requests: list[str] = []

    def logged(environ, start_response):
        requests.append(f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}")
        return app(environ, start_response)

    with serving(app, logged) as url:
        yield SimpleNamespace(url=url, app=app, requests=requests)


def launch(browser_type: BrowserType, launch_args: dict, context_args: dict, profile: Path, offline: bool) -> BrowserContext:
    """Start Chromium on `profile` with the suite's launch and tablet arguments. `offline` is applied before the
    first page exists, so nothing can reach the network before the test looks."""
    return browser_type.launch_persistent_context(str(profile), **launch_args, **context_args, offline=offline)


def server_rows(app, visit_id: int, audit_type: str) -> dict:
    """What PostgreSQL holds for one audit (answers, actions, policy checks, conversations) and every processed
    mutation (the database is this module's own, so they are all the test's)."""
    with db.binding(app).sessionmaker() as session:
        audit = session.scalars(select(Audit).where(Audit.visit_id == visit_id, Audit.audit_type == audit_type)).one()
        rows = {name: session.scalars(select(model).where(model.audit_id == audit.id)).all()
                for name, model in (("answers", Answer), ("actions", Action), ("policy_checks", PolicyCheck),
                                    ("conversations", Conversation))}
        rows["mutations"] = session.scalars(select(ProcessedMutation)).all()
        return rows


@pytest.mark.browser
def test_capture_survives_a_browser_restart_offline_then_syncs_exactly_once(
        browser_type: BrowserType, browser_type_launch_args, browser_context_args, server, tmp_path):
    profile = tmp_path / "tablet-profile"
    # Given an auditor on a browser with a persistent profile, who made a visit available offline
    context = launch(browser_type, browser_type_launch_args, browser_context_args, profile, offline=False)
    try:
        page = context.pages[0] if context.pages else context.new_page()
        visit_id = capture_offline_ready(page, server.url, 0, "safeguarding")
        expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=15000)
        # When the signal goes and they rate every item (with notes, an N/A reason and two actions),
        # fill a policy check and record a learner and a staff conversation
        go_offline(context, page)
        entered = answer_audit(page, not_met=["SG-1.1"], partially=["SG-2.2"], na="SG-7.1",
                               notes={"SG-1.1": "No date on the policy", "SG-3.2": "SCR seen, complete"})
        policy = fill_policy_check(page, "SG-1.1")
        add_conversations(page)
        wait_saved(page)
        expect(page.locator("#sync-status")).to_contain_text("Saved on this device")
        before = screen_state(page)
        assert before["ratings"] == {key: fields["rating"] for key, fields in entered["answers"].items()}
        queued = page.evaluate(OUTBOX_COUNT)
        capture_url = page.url
        assert SESSION_COOKIE in {cookie["name"] for cookie in context.cookies()}
    finally:
        # And the browser is closed completely (a persistent context owns the browser process)
        context.close()

    # When Chromium starts again on the same profile, with still no signal
    seen = len(server.requests)
    context = launch(browser_type, browser_type_launch_args, browser_context_args, profile, offline=True)
    try:
        page = context.pages[0] if context.pages else context.new_page()
        response = page.goto(capture_url)
        # Then the capture screen comes from the service worker's cache
        assert response is not None and response.from_service_worker, "the capture page did not come from the service worker"
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        expect(page.locator("h1.app-capture-title")).to_be_visible(timeout=30000)  # a cold start: browser and worker
        # And it shows exactly what was entered, with every change still queued on the device
        assert screen_state(page) == before
        assert page.evaluate(OUTBOX_COUNT) == queued
        expect(page.locator("#sync-status")).to_contain_text(f"{queued} changes waiting to sync")
        # And the server heard nothing from the restarted browser
        assert server.requests[seen:] == []

        # When the signal comes back: the restart ended the session (its cookie lived only as long as the browser)
        assert SESSION_COOKIE not in {cookie["name"] for cookie in context.cookies()}
        context.set_offline(False)
        # Then nothing is sent until the auditor signs in again, and nothing is lost meanwhile
        expect(page.locator("#sync-status")).to_contain_text("sign in again to sync", timeout=30000)
        expect(page.get_by_role("link", name="Sign in again to sync")).to_be_visible()
        assert page.evaluate(OUTBOX_COUNT) == queued
        # When they sign in and open the audit
        sign_in(page, server.url)
        open_capture(page, server.url, visit_id, "safeguarding")
        # Then the outbox drains
        expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=30000)
        assert page.evaluate(OUTBOX_COUNT) == 0
    finally:
        context.close()

    # And PostgreSQL holds exactly what was entered, each change once
    rows = server_rows(server.app, visit_id, "safeguarding")
    rated = {a.item_key: a for a in rows["answers"] if a.rating is not None}
    assert len(rows["answers"]) == len({a.item_key for a in rows["answers"]}) == len(rated)
    assert {key: {k: v for k, v in (("rating", a.rating), ("note", a.note), ("na_reason", a.na_reason)) if v is not None}
            for key, a in rated.items()} == entered["answers"]
    assert {a.version for a in rows["answers"]} == {1}
    assert {a.item_key: {"description": a.description, "owner_role": a.owner_role, "due_date": a.due_date.isoformat()}
            for a in rows["actions"]} == entered["actions"]
    assert {a.version for a in rows["actions"]} == {1}
    [check] = rows["policy_checks"]
    assert (check.item_key, check.version) == ("SG-1.1", 1)
    assert {"document_seen": check.document_seen, "document_version": check.document_version,
            "review_date": check.review_date.isoformat(), "named_person": check.named_person} == policy
    learner, staff = sorted(rows["conversations"], key=lambda c: c.reference)
    assert (learner.reference, learner.subject, learner.setting, learner.consent_given, learner.version) == \
        ("L1", "KS3", "Small group", True, 1)
    assert sorted(v for v in learner.responses.values() if v) == ["Feels safe; names the key worker", "Would tell the key worker"]
    assert (staff.reference, staff.subject, staff.setting, staff.consent_given, staff.notes, staff.version) == \
        ("S1", "Key worker", "During an activity", True, "Confident about the DSL route", 1)
    assert [v for v in staff.responses.values() if v] == ["Induction in September; online safety in May"]
    # And every queued change was applied once: one processed mutation each, none rejected
    assert len(rows["mutations"]) == queued
    assert {m.status for m in rows["mutations"]} == {"applied"}
