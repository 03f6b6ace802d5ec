"""The capture screen's save worker (capture-context.js): changes are written off the page's thread, keep the
order they were made in against writes the page makes itself, and are still saved where the worker cannot run."""
from __future__ import annotations

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from .test_capture_browser import capture_offline_ready, go_offline, rated_items, safe, sign_in, wait_saved

OUTBOX_KINDS = """async () => {
  const user = document.querySelector('[data-user]').dataset.user;
  const db = await new Promise((ok, fail) => { const r = indexedDB.open('auditapp-' + user); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
  const all = await new Promise((ok) => { const r = db.transaction('outbox').objectStore('outbox').getAll(); r.onsuccess = () => ok(r.result); });
  db.close();
  return all.map((e) => [e.mutation.kind, e.mutation.payload.item_key || null]);
}"""


@pytest.mark.browser
def test_a_change_handed_to_the_worker_is_queued_before_a_submit_asked_for_after_it(context: BrowserContext, page: Page,
                                                                                    live_url):
    # Given an auditor offline on an audit, with the save worker running
    capture_offline_ready(page, live_url, 1, "safeguarding")
    page.wait_for_function("() => window.__captureTimings.saver === 'worker'")
    go_offline(context, page)
    item = rated_items(page)[0]
    # When a rating goes to the worker and, before it is stored, the page itself queues the submit
    page.evaluate("""async (item) => {
      const { C, commit } = await import('/static/js/capture-context.js');
      const { submitAudit } = await import('/static/js/outbox.js');
      const rated = commit({ entity: 'answer', audit_id: C.auditId, item_key: item }, { fields: { rating: 'met' } });
      const submitted = submitAudit(C.auditId);
      await Promise.all([rated, submitted]);
    }""", item)
    # Then the outbox holds them in the order they were asked for: the rating is not sent after the submit
    # (after the audit's start, if another test has not already started it on the shared server)
    queued = page.evaluate(OUTBOX_KINDS)
    assert queued in ([["audit.start", None], ["answer.set", item], ["audit.submit", None]],
                      [["answer.set", item], ["audit.submit", None]]), queued


@pytest.mark.browser
def test_changes_are_saved_on_the_page_when_the_worker_cannot_load(browser: Browser, browser_context_args, live_url):
    # Given a browser where the save worker's script cannot be fetched (no service worker to serve it either)
    context = browser.new_context(**browser_context_args, service_workers="block")
    try:
        page = context.new_page()
        page.route("**/static/js/save-worker.js", lambda route: route.abort("failed"))
        sign_in(page, live_url)
        page.goto(f"{live_url}/visits/")
        visit_id = page.locator("[data-offline-visit]").nth(1).get_attribute("data-offline-visit")
        page.goto(f"{live_url}/capture/#visit={visit_id}&type=health_safety")  # the pack is fetched on opening
        expect(page.locator("h1.app-capture-title")).to_be_visible()
        page.route("**/sync/**", lambda route: route.abort("failed"))  # keep the changes on the device
        # When the auditor rates an item
        item = rated_items(page)[0]
        page.locator(f"#rating-{safe(item)}-met").check()
        wait_saved(page)
        # Then it is saved on the page's own thread, and stored
        expect(page.locator("#sync-status")).to_contain_text("Saved on this device")
        assert page.evaluate("window.__captureTimings.saver") == "page"
        assert [kind for kind in page.evaluate(OUTBOX_KINDS) if kind[0] != "audit.start"] == [["answer.set", item]]
    finally:
        context.close()
