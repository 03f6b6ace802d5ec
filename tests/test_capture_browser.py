"""Offline-first capture in headless Chromium with the real service worker (RECIPES §8): the visit pack in
IndexedDB, every change in IndexedDB and the outbox, reload and new tab offline, sync exactly once (also
when the network drops mid-push), axe-core, timings for the release note, and the shell's size budget."""
from __future__ import annotations

import gzip
import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from . import world
from .browser_helpers import assert_accessible, sign_in

SHELL_BUDGET = 150 * 1024  # gzip bytes: the capture page, every precached asset and sw.js
ALL_SYNCED = re.compile(r"All synced · last synced \d\d:\d\d")

# Read IndexedDB as the page sees it (the database exists once capture.js has opened it).
OUTBOX_COUNT = """async () => {
  const user = document.querySelector('[data-user]').dataset.user;
  const db = await new Promise((ok, fail) => { const r = indexedDB.open('auditapp-' + user); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
  const n = await new Promise((ok) => { const r = db.transaction('outbox').objectStore('outbox').count(); r.onsuccess = () => ok(r.result); });
  db.close();
  return n;
}"""
SERVER_PACK = """async (visit) => {
  const r = await fetch('/capture/packs/' + visit, {credentials: 'same-origin', cache: 'no-store'});
  return r.json();
}"""


# ---- helpers -------------------------------------------------------------------------------------

def make_available_offline(page: Page, live_url: str, index: int = 0) -> int:
    """Click the index-th "Make available offline" on My visits; return the visit id once it is ready."""
    page.goto(f"{live_url}/visits/")
    button = page.locator("[data-offline-visit]").nth(index)
    visit_id = int(button.get_attribute("data-offline-visit"))
    expect(button).to_have_attribute("data-offline-bound", "true", timeout=15000)  # capture.js listens (slow machines)
    button.click()
    expect(page.locator(f"#offline-status-{visit_id}")).to_have_text(
        re.compile(r"Ready offline · fetched \d\d:\d\d"), timeout=15000)
    expect(button).to_contain_text("Update offline copy")
    return visit_id


def open_capture(page: Page, live_url: str, visit_id: int, audit_type: str) -> None:
    page.goto(f"{live_url}/capture/#visit={visit_id}&type={audit_type}")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    expect(page.locator("h1.app-capture-title")).to_be_visible()


def wait_saved(page: Page) -> None:
    """Every change so far is committed to IndexedDB (record + outbox)."""
    page.wait_for_function("() => window.__captureTimings && window.__captureTimings.inflight === 0")


def go_offline(context: BrowserContext, page: Page) -> None:
    context.set_offline(True)
    page.wait_for_function("() => navigator.onLine === false")


def safe(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", key)


def rated_items(page: Page) -> list[str]:
    return page.locator("[data-rated-item]").evaluate_all("els => els.map(e => e.dataset.ratedItem)")


def fill_and_leave(page: Page, selector: str, text: str) -> None:
    box = page.locator(selector)
    box.fill(text)
    box.blur()


def answer_audit(page: Page, not_met: list[str], partially: list[str], na: str, notes: dict[str, str]) -> dict:
    """Rate every rated item (Met unless listed), with actions, one N/A with a reason and a few notes.
    Returns what the server should hold: item -> fields, and item -> action fields."""
    items = rated_items(page)
    expected, actions = {}, {}
    for key in items:
        rating = "not_met" if key in not_met else "partially_met" if key in partially else \
            "not_applicable" if key == na else "met"
        page.locator(f"#rating-{safe(key)}-{rating}").check()
        fields = {"rating": rating}
        if rating == "not_applicable":
            fill_and_leave(page, f"#na-{safe(key)}", f"Reason for {key}")
            fields["na_reason"] = f"Reason for {key}"
        if rating in ("not_met", "partially_met"):
            fill_and_leave(page, f"#action-description-{safe(key)}", f"Fix {key}")
            fill_and_leave(page, f"#action-owner-{safe(key)}", "Designated safeguarding lead")
            actions[key] = {"description": f"Fix {key}", "owner_role": "Designated safeguarding lead",
                            "due_date": page.locator(f"#action-due-{safe(key)}").input_value()}
        if key in notes:
            fill_and_leave(page, f"#note-{safe(key)}", notes[key])
            fields["note"] = notes[key]
        expected[key] = fields
    wait_saved(page)
    return {"answers": expected, "actions": actions}


def add_conversations(page: Page) -> None:
    """One learner and one staff conversation, with prompts, and no names."""
    page.get_by_role("button", name="Add a learner conversation").click()
    learner = page.get_by_role("group", name="Learner conversation L1", exact=True)  # each card named by its legend
    expect(learner.get_by_text("Provisional reference")).to_be_visible()
    learner.get_by_label("Key stage 3").check()
    learner.get_by_label("Small group").check()
    learner.locator("input[id^='consent-'][value='true']").check()
    responses = learner.locator("textarea[id^='response-']")
    responses.nth(0).fill("Feels safe; names the key worker")
    responses.nth(1).fill("Would tell the key worker")
    responses.nth(1).blur()
    page.get_by_role("button", name="Add a staff conversation").click()
    staff = page.get_by_role("group", name="Staff conversation S1", exact=True)
    staff.get_by_label("Role").fill("Key worker")
    staff.get_by_label("During an activity").check()
    staff.locator("input[id^='consent-'][value='true']").check()
    staff.locator("textarea[id^='response-']").nth(0).fill("Induction in September; online safety in May")
    staff.get_by_label("Other notes").fill("Confident about the DSL route")
    staff.get_by_label("Other notes").blur()
    assert page.get_by_text("Do not write names. Use the reference").count() == 1
    assert page.locator(".app-conversation input[id*='name' i]").count() == 0  # no name field at all
    wait_saved(page)


def fill_policy_check(page: Page, key: str) -> dict:
    k = safe(key)
    page.locator(f"#policy-seen-{k}-true").check()
    fill_and_leave(page, f"#policy-version-{k}", "v3, May 2024")
    fill_and_leave(page, f"#policy-review-{k}", "2025-05-01")
    expect(page.locator(f"#policy-warning-{k}")).to_be_visible()  # > 12 months before the visit
    fill_and_leave(page, f"#policy-person-{k}", "J. Example")
    wait_saved(page)
    return {"document_seen": True, "document_version": "v3, May 2024", "review_date": "2025-05-01",
            "named_person": "J. Example"}


def screen_state(page: Page) -> dict:
    """What the capture screen shows: ratings, notes, N/A reasons, action and conversation fields."""
    return page.evaluate("""() => {
      const out = {ratings: {}, texts: {}, conversations: []};
      for (const el of document.querySelectorAll('[data-rated-item]')) {
        const checked = el.querySelector('input[type=radio][name^="rating-"]:checked');
        out.ratings[el.dataset.ratedItem] = checked ? checked.value : null;
      }
      for (const el of document.querySelectorAll('.app-section textarea, .app-section input[type=text], .app-section input[type=date]')) {
        if (el.value) out.texts[el.id] = el.value;
      }
      for (const card of document.querySelectorAll('.app-conversation')) {
        out.conversations.push({heading: card.querySelector('h4').textContent.replace(/\\s+/g, ' ').trim(),
          checked: [...card.querySelectorAll('input:checked')].map((i) => i.value).sort(),
          texts: [...card.querySelectorAll('textarea, input[type=text]')].map((t) => t.value).filter(Boolean)});
      }
      return out;
    }""")


def assert_server_holds(page: Page, visit_id: int, audit_type: str, entered: dict, policy: tuple[str, dict]):
    pack = page.evaluate(SERVER_PACK, visit_id)
    audit = next(a for a in pack["audits"] if a["audit_type"] == audit_type)
    assert audit["on_server"] is True
    answers = [a for a in pack["answers"] if a["audit_id"] == audit["audit_id"]]
    rated = [a for a in answers if a["fields"]["rating"] is not None]
    keys = [a["item_key"] for a in answers]
    assert len(keys) == len(set(keys)), "an item was answered twice"
    assert len(rated) == len(entered["answers"]), (len(rated), len(entered["answers"]))
    for answer in rated:
        want = entered["answers"][answer["item_key"]]
        assert answer["fields"]["rating"] == want["rating"], answer
        assert answer["fields"]["note"] == want.get("note"), answer
        assert answer["fields"]["na_reason"] == want.get("na_reason"), answer
        assert answer["version"] == 1, f"{answer['item_key']} was written {answer['version']} times"
    actions = {a["item_key"]: a for a in pack["actions"] if a["audit_id"] == audit["audit_id"]}
    assert set(actions) == set(entered["actions"])
    for key, want in entered["actions"].items():
        got = actions[key]["fields"]
        assert {k: got[k] for k in want} == want, got
        assert actions[key]["version"] == 1
    return pack, audit


def capture_offline_ready(page: Page, live_url: str, visit_index: int, audit_type: str) -> int:
    """Sign in as the auditor, make visit `visit_index` available offline and open one audit; its id."""
    sign_in(page, live_url)
    visit_id = make_available_offline(page, live_url, visit_index)
    open_capture(page, live_url, visit_id, audit_type)
    return visit_id


# ---- tests -----------------------------------------------------------------------------------

@pytest.mark.browser
def test_offline_capture_survives_reload_and_a_new_tab_then_syncs_exactly_once(context: BrowserContext, page: Page, live_url):
    # Given an auditor who made their first visit available offline and opened its safeguarding audit
    visit_id = capture_offline_ready(page, live_url, 0, "safeguarding")
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=15000)
    # When the signal goes
    go_offline(context, page)
    # And they answer every rated item, fill a policy check, two header answers and two conversations
    entered = answer_audit(page, not_met=["SG-1.1"], partially=["SG-2.2"], na="SG-7.1",
                           notes={"SG-1.1": "No date on the policy", "SG-3.2": "SCR seen, complete"})
    policy = fill_policy_check(page, "SG-1.1")
    fill_and_leave(page, "#value-HDR-4-2", "3")
    page.locator("#value-HDR-4-5-not_required").check()
    add_conversations(page)
    wait_saved(page)
    # Then the screen says so, and every change is queued
    expect(page.locator("#sync-status")).to_contain_text("Saved on this device")
    rated = rated_items(page)
    expect(page.locator(".app-overall")).to_have_text(f"{len(rated)}/{len(rated)} rated items answered")
    queued = page.evaluate(OUTBOX_COUNT)
    assert queued >= len(rated) + 2 + 1 + 2 + 2  # answers, actions, policy, header, conversations (+ audit.start)
    before = screen_state(page)
    assert before["ratings"] == {k: v["rating"] for k, v in entered["answers"].items()}

    # When the page is reloaded with no signal
    page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    expect(page.locator("h1.app-capture-title")).to_be_visible()
    # Then everything is still there
    assert screen_state(page) == before

    # When the tab is closed and a new one opened, still offline
    page.close()
    page = context.new_page()
    open_capture(page, live_url, visit_id, "safeguarding")
    # Then everything is still there too
    assert screen_state(page) == before
    assert page.evaluate(OUTBOX_COUNT) == queued
    # And any other page of the service, offline, offers the audits on this device
    page.goto(f"{live_url}/visits/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audits on this device")
    page.get_by_role("link", name="Open capture: Safeguarding").click()
    expect(page.locator("h1.app-capture-title")).to_be_visible()
    assert screen_state(page) == before

    # When the signal comes back
    context.set_offline(False)
    # Then the outbox drains and the status says so
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=30000)
    assert page.evaluate(OUTBOX_COUNT) == 0
    # And the server holds exactly what was entered, each once
    pack, audit = assert_server_holds(page, visit_id, "safeguarding", entered, policy)
    checks = [p for p in pack["policy_checks"] if p["audit_id"] == audit["audit_id"]]
    assert len(checks) == 1 and checks[0]["item_key"] == "SG-1.1"
    assert {k: checks[0]["fields"][k] for k in policy} == policy
    header = {a["item_key"]: a["fields"]["value"] for a in pack["answers"]
              if a["audit_id"] == audit["audit_id"] and a["fields"]["rating"] is None}
    assert header == {"HDR-4.2": 3, "HDR-4.5": "not_required"}
    conversations = sorted((c for c in pack["conversations"] if c["audit_id"] == audit["audit_id"]),
                           key=lambda c: c["reference"])
    assert [c["reference"] for c in conversations] == ["L1", "S1"]
    learner, staff = conversations
    assert learner["fields"]["subject"] == "KS3" and learner["fields"]["consent_given"] is True
    assert learner["fields"]["setting"] == "Small group"
    assert sum(1 for k, v in learner["fields"].items() if k.startswith("response:") and v) == 2
    assert staff["fields"]["subject"] == "Key worker" and staff["fields"]["notes"] == "Confident about the DSL route"
    # And the server's references replace the provisional ones on the screen
    expect(page.locator(".app-provisional")).to_have_count(0)
    expect(page.get_by_role("group", name="Learner conversation L1", exact=True)).to_be_visible()


@pytest.mark.browser
def test_a_push_whose_answer_is_lost_is_retried_and_applied_exactly_once(context: BrowserContext, page: Page, live_url):
    # Given an auditor capturing the health and safety audit offline
    visit_id = capture_offline_ready(page, live_url, 0, "health_safety")
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=15000)
    go_offline(context, page)
    entered = answer_audit(page, not_met=["HS-1.1"], partially=[], na="", notes={"HS-1.2": "Seen"})
    queued = page.evaluate(OUTBOX_COUNT)
    # And the network will drop the first push's answer after the server has applied it
    pushes, answers = [], []

    def lose_first_answer(route: Route) -> None:
        pushes.append(route.request.post_data_json)
        response = route.fetch()   # the server applies the batch...
        answers.append(response.json())
        if len(pushes) == 1:
            route.abort("failed")  # ...and the tablet never hears back
        else:
            route.fulfill(response=response)

    page.route("**/sync/push", lose_first_answer)
    # When the signal comes back
    context.set_offline(False)
    # Then the tablet retries (with backoff) and the outbox drains
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=30000)
    assert page.evaluate(OUTBOX_COUNT) == 0
    assert len(pushes) >= 2
    first_ids = [m["mutation_id"] for m in pushes[0]["mutations"]]
    second_ids = [m["mutation_id"] for m in pushes[1]["mutations"]]
    assert second_ids[:len(first_ids)] == first_ids, "the retry resends the same mutations, same ids"
    assert len(first_ids) == queued
    assert {r["status"] for r in answers[0]["results"]} == {"applied"}, answers[0]  # applied the first time
    assert {r["status"] for r in answers[1]["results"]} == {"duplicate"}, answers[1]  # a replay the second
    # And every answer is on the server exactly once (version 1: the replay was a duplicate)
    assert_server_holds(page, visit_id, "health_safety", entered, ("", {}))

    # When the auditor chooses Submit, the page asks first (no browser dialog), and Cancel changes nothing
    page.on("dialog", lambda dialog: pytest.fail(f"a browser dialog: {dialog.message}"))
    page.get_by_role("button", name="Submit for review").click()
    question = page.get_by_role("heading", name="Submit this audit for review?")
    expect(question).to_be_focused()
    page.get_by_role("button", name="Cancel").click()
    expect(question).to_be_hidden()
    expect(page.get_by_role("button", name="Submit for review")).to_be_focused()
    expect(page.locator("#read-only-note")).to_be_hidden()
    # When they submit the complete audit
    page.get_by_role("button", name="Submit for review").click()
    page.get_by_role("button", name="Yes, submit").click()
    # Then it is read-only on the device and submitted on the server
    expect(page.locator("#read-only-note")).to_be_visible()
    expect(page.locator(f"#rating-{safe('HS-1.2')}-met")).to_be_disabled()
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=30000)
    audit = next(a for a in page.evaluate(SERVER_PACK, visit_id)["audits"] if a["audit_type"] == "health_safety")
    assert audit["status"] == "submitted"


@pytest.mark.browser
def test_concern_is_pushed_first_in_its_own_push(context: BrowserContext, page: Page, live_url):
    # Given an auditor offline on a visit's safeguarding audit, with an answer waiting
    visit_id = capture_offline_ready(page, live_url, 2, "safeguarding")
    go_offline(context, page)
    first = rated_items(page)[0]
    page.locator(f"#rating-{safe(first)}-met").check()
    wait_saved(page)
    # When they raise a safeguarding concern from the always-visible button
    page.get_by_role("button", name="Raise a safeguarding concern").click()
    dialog = page.locator("#concern-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("Stop and listen")).to_be_visible()  # the template's disclosure route
    # And send the form empty first
    dialog.get_by_role("button", name="Save the concern").click()
    expect(dialog.locator(".govuk-error-summary")).to_contain_text("Enter who it was referred to")
    dialog.get_by_label("Referred to (role)").fill("Provider DSL")
    dialog.get_by_label("Yes").check()
    dialog.get_by_role("button", name="Save the concern").click()
    expect(dialog).to_be_hidden()
    wait_saved(page)
    pushes = []
    page.route("**/sync/push", lambda route: (pushes.append(route.request.post_data_json), route.continue_()))
    context.set_offline(False)
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=30000)
    # Then the concern went alone, before anything else
    assert [m["kind"] for m in pushes[0]["mutations"]] == ["concern.raise"]
    assert pushes[0]["mutations"][0]["payload"]["about_provider_or_staff"] is True
    assert "concern.raise" not in [m["kind"] for p in pushes[1:] for m in p["mutations"]]


@pytest.mark.browser
def test_a_newer_pack_keeps_unsynced_answers_and_a_clash_is_kept_for_review(browser, browser_context_args,
                                                                           context: BrowserContext, page: Page, live_url):
    # Given tablet A rated an item offline and has not synced it
    visit_id = capture_offline_ready(page, live_url, 2, "health_safety")
    first, clash, other = rated_items(page)[:3]
    go_offline(context, page)
    page.locator(f"#rating-{safe(first)}-met").check()
    page.locator(f"#rating-{safe(clash)}-met").check()
    wait_saved(page)
    # And tablet B, the same auditor on another device, rated the same item differently and another one too
    other_context = browser.new_context(**browser_context_args)
    try:
        tablet_b = other_context.new_page()
        sign_in(tablet_b, live_url)
        make_available_offline(tablet_b, live_url, 2)
        open_capture(tablet_b, live_url, visit_id, "health_safety")
        tablet_b.locator(f"#rating-{safe(clash)}-not_met").check()
        tablet_b.locator(f"#rating-{safe(other)}-met").check()
        wait_saved(tablet_b)
        expect(tablet_b.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=30000)
    finally:
        other_context.close()
    # When tablet A has signal again but its pushes fail, and it downloads the newer pack
    page.route("**/sync/push", lambda route: route.abort("failed"))
    context.set_offline(False)
    make_available_offline(page, live_url, 2)
    open_capture(page, live_url, visit_id, "health_safety")
    # Then its unsynced ratings are kept and the server's other answer came in
    expect(page.locator(f"#rating-{safe(clash)}-met")).to_be_checked()
    expect(page.locator(f"#rating-{safe(first)}-met")).to_be_checked()
    expect(page.locator(f"#rating-{safe(other)}-met")).to_be_checked()
    # When its push goes through ("Sync now")
    page.unroute("**/sync/push")
    page.get_by_role("button", name="Sync now").click()
    # Then the clash is kept for the reviewer, not silently overwritten either way
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=30000)
    expect(page.locator(f"#item-{safe(clash)} .app-item__flags")).to_contain_text("Needs review")
    server = page.evaluate(SERVER_PACK, visit_id)
    audit = next(a for a in server["audits"] if a["audit_type"] == "health_safety")
    ratings = {a["item_key"]: a["fields"]["rating"] for a in server["answers"] if a["audit_id"] == audit["audit_id"]}
    assert ratings == {first: "met", clash: "not_met", other: "met"}


@pytest.mark.browser
def test_server_errors_are_retried_and_rejections_move_to_needs_attention(context: BrowserContext, page: Page, live_url):
    # Given two ratings made offline on a visit's safeguarding audit
    visit_id = capture_offline_ready(page, live_url, 3, "safeguarding")
    go_offline(context, page)
    first, second = rated_items(page)[:2]
    page.locator(f"#rating-{safe(first)}-met").check()
    page.locator(f"#rating-{safe(second)}-not_met").check()
    wait_saved(page)
    queued = page.evaluate(OUTBOX_COUNT)
    # And a server that fails once with a 500, then refuses every change
    pushes = []

    def fail_then_refuse(route: Route) -> None:
        body = route.request.post_data_json
        pushes.append(body)
        if len(pushes) == 1:
            route.fulfill(status=500, json={"code": "server.error", "message": "Something went wrong"})
        else:
            route.fulfill(json={"results": [{"mutation_id": m["mutation_id"], "status": "rejected", "code": "sync.invalid",
                                             "message": "Not valid"} for m in body["mutations"]],
                                "server_time": "2026-11-28T10:00:00Z"})

    page.route("**/sync/push", fail_then_refuse)
    # When the signal comes back
    context.set_offline(False)
    # Then the 500 keeps the changes and they are retried; the refusals go to "needs attention"
    expect(page.locator(".app-attention")).to_contain_text(f"{queued} changes need attention", timeout=30000)
    assert len(pushes) == 2 and pushes[0]["mutations"] == pushes[1]["mutations"]
    assert page.evaluate(OUTBOX_COUNT) == 0
    expect(page.locator("#sync-status")).to_contain_text(f"{queued} changes need attention")
    expect(page.locator(f"#rating-{safe(second)}-not_met")).to_be_checked()  # the local value stays
    expect(page.locator(".app-attention").get_by_role("button", name="Download")).to_have_count(queued)
    # When one is discarded
    page.locator(".app-attention").get_by_role("button", name="Discard").first.click()
    # Then it leaves the list
    expect(page.locator(".app-attention")).to_contain_text(f"{queued - 1} changes need attention")


@pytest.mark.browser
def test_sign_out_warns_and_a_stuck_outbox_goes_to_an_admin_import_exactly_once(page: Page, live_url):
    # Given a change that cannot reach the server
    visit_id = capture_offline_ready(page, live_url, 3, "safeguarding")
    page.route("**/sync/push", lambda route: route.abort("failed"))
    item = rated_items(page)[0]
    page.locator(f"#rating-{safe(item)}-met").check()
    wait_saved(page)
    expect(page.locator("#sync-status")).to_contain_text("2 changes waiting to sync")  # audit.start + the answer
    # When the auditor exports the unsynced changes
    with page.expect_download() as download:
        page.get_by_role("button", name="Export unsynced changes").click()
    exported = json.loads(Path(download.value.path()).read_text())
    # Then the file is what the admin import reads
    assert exported["format"] == "auditapp-outbox" and exported["user_email"] == world.EMAIL["auditor"]
    assert [m["kind"] for m in exported["mutations"]] == ["audit.start", "answer.set"]

    # When they choose Sign out (from the keyboard) and decline the warning in the page (no browser dialog)
    page.on("dialog", lambda dialog: pytest.fail(f"a browser dialog: {dialog.message}"))
    page.get_by_role("button", name="Sign out").focus()
    page.keyboard.press("Enter")
    # Then they are warned and stay signed in on the capture screen
    warning = page.get_by_role("region", name="Important")
    expect(warning).to_contain_text("2 changes have not been sent to the server")
    expect(warning).to_be_focused()
    assert_accessible(page, "sign-out warning")
    warning.get_by_role("button", name="Stay signed in").click()
    expect(warning).to_be_hidden()
    expect(page.locator("h1.app-capture-title")).to_be_visible()
    # When they sign out anyway
    page.get_by_role("button", name="Sign out").focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Sign out anyway").click()
    # Then they are signed out
    expect(page.get_by_label("Email address")).to_be_visible()

    # When an admin imports the exported file
    sign_in(page, live_url, "admin")
    page.goto(f"{live_url}/admin/sync-import")
    page.set_input_files("#export", files=[{"name": "unsynced.json", "mimeType": "application/json",
                                            "buffer": json.dumps(exported).encode()}])
    page.get_by_role("button", name="Import changes").click()
    expect(page.locator(".govuk-panel")).to_contain_text("2 applied")
    # And the auditor later gets signal on the tablet
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_url)
    page.unroute("**/sync/push")
    open_capture(page, live_url, visit_id, "safeguarding")
    # Then the tablet's copies of the same changes are duplicates: synced, and on the server once
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=30000)
    assert page.evaluate(OUTBOX_COUNT) == 0
    server = page.evaluate(SERVER_PACK, visit_id)
    audit = next(a for a in server["audits"] if a["audit_type"] == "safeguarding")
    answers = [a for a in server["answers"] if a["audit_id"] == audit["audit_id"]]
    assert [(a["item_key"], a["fields"]["rating"], a["version"]) for a in answers] == [(item, "met", 1)]


@pytest.mark.browser
def test_offline_controls_and_capture_screen_have_no_axe_violations(context: BrowserContext, page: Page, live_url):
    # Given My visits with a visit made available offline
    sign_in(page, live_url)
    visit_id = make_available_offline(page, live_url, 1)
    page.locator(".govuk-details__summary").click()
    assert_accessible(page, "My visits with offline controls")
    # And the visit's own page
    page.goto(f"{live_url}/visits/{visit_id}")
    expect(page.locator(f"#offline-status-{visit_id}")).to_contain_text("Ready offline")
    assert_accessible(page, "visit page")
    # When the capture screen is open online, with the N/A reason and an action revealed
    open_capture(page, live_url, visit_id, "safeguarding")
    items = rated_items(page)
    page.locator(f"#rating-{safe(items[0])}-not_met").check()
    page.locator(f"#rating-{safe(items[1])}-not_applicable").check()
    page.get_by_role("button", name="Add a learner conversation").click()
    wait_saved(page)
    assert_accessible(page, "capture online")
    # And offline after a reload
    go_offline(context, page)
    page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    expect(page.locator("h1.app-capture-title")).to_be_visible()
    assert_accessible(page, "capture offline")
    # And with the concern form open
    page.get_by_role("button", name="Raise a safeguarding concern").click()
    assert_accessible(page, "concern form")
    # And at the portrait tablet size
    page.keyboard.press("Escape")
    expect(page.locator("#concern-dialog")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024  # no sideways scrolling
    page.set_viewport_size({"width": 768, "height": 1024})
    assert_accessible(page, "capture at 768x1024")
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
    # And the controls work from the keyboard: Tab to a rating, arrow keys choose, the choice is saved
    page.locator(f"#rating-{safe(items[2])}-met").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator(f"#rating-{safe(items[2])}-partially_met")).to_be_checked()
    expect(page.locator(f"#action-{safe(items[2])}")).to_be_visible()
    wait_saved(page)
    expect(page.locator("#sync-status")).to_contain_text("Saved on this device")


@pytest.mark.browser
def test_saves_go_through_the_worker_and_a_120_item_audit_opens_offline(context: BrowserContext, page: Page, live_url):
    """Also prints the issue's figures (save latency, offline open time); `make bench` runs it for them.
    Nothing here is asserted against a time: these machines are shared and noisy."""
    # Given an auditor offline on a visit's safeguarding audit
    visit_id = capture_offline_ready(page, live_url, 1, "health_safety")
    go_offline(context, page)
    page.wait_for_function("() => window.__captureTimings.saver === 'worker'")  # the save worker is running
    # When they make 30 rating clicks
    items = rated_items(page)[:30]
    page.evaluate("window.__captureTimings.save = []")
    for index, key in enumerate(items):
        page.locator(f"#rating-{safe(key)}-{'met' if index % 3 else 'partially_met'}").click()
        wait_saved(page)
    samples = sorted(page.evaluate("window.__captureTimings.save"))
    assert len(samples) == len(items)
    assert page.evaluate("window.__captureTimings.saver") == "worker", "saves fell back to the page's thread"
    p95 = samples[max(0, round(0.95 * len(samples)) - 1)]
    p50 = samples[len(samples) // 2]
    # And open a 120-item audit offline (a pack built from the real template, stored on the device)
    pack = page.evaluate("""async (visit) => {
      const user = document.querySelector('[data-user]').dataset.user;
      const db = await new Promise((ok, fail) => { const r = indexedDB.open('auditapp-' + user); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
      const get = (store, key) => new Promise((ok) => { const r = db.transaction(store).objectStore(store).get(key); r.onsuccess = () => ok(r.result); });
      const pack = await get('packs', visit);
      const audit = structuredClone(pack.audits.find((a) => a.audit_type === 'safeguarding'));
      const header = audit.template.sections.filter((s) => s.key === 'HDR');
      const rated = audit.template.sections.filter((s) => s.key !== 'HDR');
      const sections = [];
      let n = 0;
      for (let copy = 0; n < 120; copy += 1) {
        for (const s of rated) {
          if (n >= 120) break;
          const items = s.items.slice(0, 120 - n).map((i) => ({...i, key: i.key.replace(/^SG-(\\d+)/, (m, d) => 'SG-' + (Number(d) + copy * 20))}));
          n += items.length;
          sections.push({...s, key: s.key.replace(/^SG-(\\d+)/, (m, d) => 'SG-' + (Number(d) + copy * 20)), items});
        }
      }
      audit.template.sections = [...header, ...sections];
      audit.audit_id = crypto.randomUUID();
      audit.on_server = true;
      const big = {...pack, visit_id: 990001, visit: {...pack.visit, id: 990001}, audits: [audit]};
      await new Promise((ok, fail) => { const t = db.transaction('packs', 'readwrite'); t.objectStore('packs').put(big); t.oncomplete = ok; t.onerror = () => fail(t.error); });
      db.close();
      return n;
    }""", visit_id)
    assert pack == 120
    opened = context.new_page()
    started = time.perf_counter()
    opened.goto(f"{live_url}/capture/#visit=990001&type=safeguarding")
    expect(opened.locator("h1.app-capture-title")).to_be_visible()
    wall = (time.perf_counter() - started) * 1000
    expect(opened.locator("[data-rated-item]")).to_have_count(120)
    open_ms = opened.evaluate("window.__captureTimings.open")
    render_ms = opened.evaluate("window.__captureTimings.render")
    print(f"\n[capture figures] rating click -> 'Saved on this device': p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
          f"max {samples[-1]:.1f} ms over {len(samples)} clicks (target p95 < 20 ms)")
    print(f"[capture figures] open a 120-item audit offline: {open_ms:.0f} ms from navigation start to rendered "
          f"(IndexedDB read + render {render_ms:.0f} ms), {wall:.0f} ms wall clock from goto (target < 1000 ms)")
    # Then the open was timed from the device alone (the 120 items were counted on screen above)
    assert 0 < render_ms <= open_ms


def test_shell_and_precached_assets_fit_the_gzip_budget(client, auth):
    # Given the service worker's precache list, as served
    auth.login("auditor")
    response = client.get("/sw.js")
    sw = response.get_data(as_text=True)
    response.close()
    precache = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", sw).group(1))
    assert precache[0] == "/capture/"
    # When each file is fetched and gzip-compressed
    sizes = {"/sw.js": len(gzip.compress(sw.encode()))}
    for url in precache:
        response = client.get(url)
        assert response.status_code == 200, url
        sizes[url] = len(gzip.compress(response.get_data()))
        response.close()
    total = sum(sizes.values())
    print("\n[capture figures] shell gzip sizes: " + ", ".join(f"{u} {s / 1024:.1f} KB" for u, s in sizes.items()))
    print(f"[capture figures] shell total {total / 1024:.1f} KB gzip (budget {SHELL_BUDGET / 1024:.0f} KB)")
    # Then the whole shell fits the budget
    assert total <= SHELL_BUDGET, f"the offline shell is {total} bytes gzip, over the {SHELL_BUDGET} budget: {sizes}"


def test_every_module_the_shell_imports_is_precached(client, auth):
    # Given the service worker's precache list, as served
    auth.login("auditor")
    response = client.get("/sw.js")
    precache = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", response.get_data(as_text=True)).group(1))
    response.close()
    paths = {url.split("?")[0] for url in precache}
    # When every precached ES module's relative imports (static and dynamic) are read
    missing = {}
    for url in sorted(p for p in paths if p.endswith(".js")):
        response = client.get(url)
        source = response.get_data(as_text=True)
        response.close()
        imported = re.findall(r"""(?:from|import\()\s*['"](\./[\w.-]+\.js)['"]""", source)
        folder = url.rsplit("/", 1)[0]
        missing.update({f"{url} -> {name}": True for name in imported if f"{folder}/{name[2:]}" not in paths})
    # Then none is missing: offline, a module that is not cached fails the whole capture screen
    assert len(paths) > 10 and not missing, sorted(missing)


@pytest.mark.browser
def test_offline_controls_are_named_after_their_provider_without_stray_spaces(page: Page, live_url):
    sign_in(page, live_url)
    page.goto(f"{live_url}/visits/")
    row = page.locator("tbody tr").filter(has=page.locator("[data-offline-visit]")).first
    provider = row.get_by_role("link").first.inner_text().strip()
    expect(row.get_by_role("button", name=f"Make available offline: {provider}", exact=True)).to_be_visible()
    expect(row.get_by_role("link", name=re.compile(rf"^Open capture: [A-Za-z ]+, {re.escape(provider)}$"))).not_to_have_count(0)
    expect(row.get_by_role("link", name=re.compile(r" ,"))).to_have_count(0)
    # Once the visit is on the tablet the button says so, still named after the provider
    expect(row.locator("[data-offline-visit]")).to_have_attribute("data-offline-bound", "true", timeout=15000)
    row.get_by_role("button", name=f"Make available offline: {provider}", exact=True).click()
    expect(row.get_by_role("button", name=f"Update offline copy: {provider}", exact=True)).to_be_visible(timeout=15000)
    page.get_by_role("link", name=provider, exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(provider)
    expect(page.get_by_role("link", name=re.compile(r"^See the files for the [a-z ]+ audit$")).or_(
        page.get_by_role("button", name="Make available offline", exact=True))).not_to_have_count(0)


@pytest.mark.browser
def test_each_conversation_is_a_group_named_by_its_reference(context: BrowserContext, page: Page, live_url):
    # Given an auditor offline on a safeguarding audit (nothing reaches the server)
    capture_offline_ready(page, live_url, 1, "safeguarding")
    go_offline(context, page)
    # When they add two learner conversations and a staff one
    page.get_by_role("button", name="Add a learner conversation").click()
    page.get_by_role("button", name="Add a learner conversation").click()
    page.get_by_role("button", name="Add a staff conversation").click()
    wait_saved(page)
    # Then each card's fields are a group named after it, so "Other notes" is always said with its conversation
    for name in ("Learner conversation L1", "Learner conversation L2", "Staff conversation S1"):
        group = page.get_by_role("group", name=name, exact=True)
        expect(group.get_by_label("Other notes")).to_have_count(1)
        expect(group.get_by_role("group", name="Setting")).to_have_count(1)
    page.get_by_role("group", name="Learner conversation L2", exact=True).get_by_label("Other notes").fill("Quiet")
    wait_saved(page)
    expect(page.get_by_role("group", name="Learner conversation L1", exact=True).get_by_label("Other notes")).to_have_value("")
    assert_accessible(page, "conversations")


@pytest.mark.browser
def test_a_sync_says_what_went_wrong_and_links_to_sign_in_when_the_session_ended(context: BrowserContext, page: Page,
                                                                                 live_url):
    # Given an auditor on a visit's safeguarding audit, whose server fails every push (nothing reaches it)
    visit_id = capture_offline_ready(page, live_url, 3, "safeguarding")
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=15000)
    failing = lambda route: route.fulfill(status=500, content_type="application/json",
                                          body=json.dumps({"code": "server.error", "message": "Internal error"}))
    page.route("**/sync/push", failing)
    # When they rate an item (one no other test rates on this visit)
    page.locator(f"#rating-{safe(rated_items(page)[-1])}-partially_met").check()
    wait_saved(page)
    # Then the status bar says the server had a problem, not that it cannot be reached
    status = page.locator("#sync-status")
    expect(status).to_contain_text("not synced: the server had a problem; it will be tried again", timeout=15000)
    expect(status).not_to_contain_text("cannot be reached")
    # When their session ends and the tablet syncs
    page.unroute("**/sync/push")
    context.clear_cookies()
    page.get_by_role("button", name="Sync now").click()
    # Then it says so with a link to sign in again, which brings them back to this audit
    link = page.get_by_role("link", name="Sign in again to sync")
    expect(link).to_be_visible(timeout=15000)
    assert_accessible(page, "sign in again")
    page.route("**/sync/push", failing)  # the test's server stays as it was
    link.click()
    page.get_by_label("Email address").fill(world.EMAIL["auditor"])
    page.get_by_label("Password", exact=True).fill(world.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_url}/capture/#visit={visit_id}&type=safeguarding")
    expect(page.locator("h1.app-capture-title")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in again to sync")).to_be_hidden()
