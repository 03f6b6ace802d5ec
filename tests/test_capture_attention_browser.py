"""The tablet's side of final outcomes (issue 14), in headless Chromium against the real server: a change the server
refuses, and one it held and refused later (reported in the pull feed), both wait under "needs attention" with the
server's own words while every other change syncs; a contested field says so beside its item; text is cut at code
points (never a lone surrogate in the outbox); a conversation note refuses a UPN and warns about a name."""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect
from sqlalchemy import select

from auditapp.db import bind, session_scope
from auditapp.models import Answer, Audit, ChangeLogEntry, Conversation, ProcessedMutation, SyncConflict
from auditapp.services.audits import audit_id_for
from auditapp.services.review_conflicts import resolve_conflict

from .browser_helpers import assert_accessible, sign_in
from .conftest import make_test_app, world_database
from .live_server import serving
from .review_helpers import LEAD, by_email
from .test_capture_browser import ALL_SYNCED, OUTBOX_COUNT, answer_audit, go_offline, make_available_offline, open_capture, rated_items, safe, wait_saved

pytestmark = pytest.mark.browser

ATTENTION_SYNCED = re.compile(r"(\d+) changes? needs? attention · everything else is synced · last synced \d\d:\d\d")
# Reads and writes IndexedDB as the page does (the database exists once capture.js has opened it).
OPEN_DB = """const user = document.querySelector('[data-user]').dataset.user;
  const db = await new Promise((ok, fail) => { const r = indexedDB.open('auditapp-' + user); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });"""
QUEUE = """async (mutations) => {
  %s
  const t = db.transaction('outbox', 'readwrite');
  for (const [mutation, record_key] of mutations) t.objectStore('outbox').add({ mutation, record_key, coalesce: null, sent: false, at: Date.now() });
  await new Promise((ok, fail) => { t.oncomplete = ok; t.onerror = () => fail(t.error); });
  db.close();
}""" % OPEN_DB
# Every string of every queued mutation: how many have a lone surrogate, and the conversations' notes as code points.
OUTBOX_TEXTS = """async () => {
  %s
  const all = await new Promise((ok) => { const r = db.transaction('outbox').objectStore('outbox').getAll(); r.onsuccess = () => ok(r.result); });
  db.close();
  const lone = /[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]/;
  const strings = [];
  const walk = (v) => { if (typeof v === 'string') strings.push(v); else if (v && typeof v === 'object') Object.values(v).forEach(walk); };
  all.forEach((e) => walk(e.mutation));
  const notes = all.filter((e) => e.mutation.kind === 'conversation.set' && 'notes' in e.mutation.payload.fields)
    .map((e) => e.mutation.payload.fields.notes);
  return { lone: strings.filter((s) => lone.test(s)).length,
           notes: notes.map((s) => s === null ? null : { codePoints: Array.from(s).length, units: s.length, tail: Array.from(s).slice(-3).join('') }) };
}""" % OPEN_DB
DEVICE_ID = """async () => {
  %s
  const id = await new Promise((ok) => { const r = db.transaction('meta').objectStore('meta').get('device_id'); r.onsuccess = () => ok(r.result); });
  db.close();
  return id;
}""" % OPEN_DB
FORGET_CURSOR = """async () => {
  %s
  const t = db.transaction('meta', 'readwrite');
  t.objectStore('meta').put(0, 'cursor');
  t.objectStore('meta').delete('last_synced');
  await new Promise((ok, fail) => { t.oncomplete = ok; t.onerror = () => fail(t.error); });
  db.close();
}""" % OPEN_DB
CONTESTED = """async (key) => {
  %s
  const record = await new Promise((ok) => { const r = db.transaction('records').objectStore('records').get(key); r.onsuccess = () => ok(r.result); });
  db.close();
  return record.contested;
}""" % OPEN_DB
EMOJI = "\U0001F600"  # two UTF-16 code units: a cut by code units in its middle leaves a lone surrogate


@dataclass
class Live:
    url: str
    binding: object


@pytest.fixture
def live():
    database_url = world_database(f"auditapp_attention_{uuid.uuid4().hex[:8]}")
    binding = bind(database_url)
    with serving(make_test_app(database_url)) as url:
        yield Live(url, binding)
    binding.engine.dispose()


def wait_outbox_empty(page: Page, seconds: float = 30) -> None:
    """Every queued change has had its answer from the server (the outbox is empty)."""
    deadline = time.monotonic() + seconds
    while page.evaluate(OUTBOX_COUNT):
        assert time.monotonic() < deadline, "the outbox never emptied"
        page.wait_for_timeout(200)


def field_message(details: dict, field: str) -> str:
    """The message for `field` in an error's details ({"notes": [...]} or nested, as {"payload": {"fields": ...}})."""
    if isinstance(details.get(field), list):
        return details[field][0]
    return next(field_message(v, field) for v in details.values() if isinstance(v, dict))


def outcome(live: Live, device_id: str, mutation_id: str) -> tuple[str, dict | None]:
    """What the server decided for a mutation (its idempotency record): status, and the result kept with it."""
    with session_scope(live.binding) as session:
        row = session.get(ProcessedMutation, (uuid.UUID(device_id), uuid.UUID(mutation_id)))
        return (row.status, row.result) if row else ("none", None)


def feed_entry(live: Live, mutation_id: str) -> dict:
    """The pull feed's `mutation` entry for a held mutation's final outcome."""
    with session_scope(live.binding) as session:
        return session.scalars(select(ChangeLogEntry.data).where(ChangeLogEntry.entity == "mutation",
                                                                 ChangeLogEntry.entity_id == mutation_id)).one()


def start_offline(context: BrowserContext, page: Page, live: Live, audit_type: str = "safeguarding") -> tuple[int, str]:
    """Signed in as the auditor, the first visit offline and its audit open (not yet on the server), offline."""
    sign_in(page, live.url)
    visit_id = make_available_offline(page, live.url, 0)
    open_capture(page, live.url, visit_id, audit_type)
    audit_id = str(audit_id_for(visit_id, audit_type))
    with session_scope(live.binding) as session:
        assert session.get(Audit, uuid.UUID(audit_id)) is None  # so its changes wait for audit.start
    go_offline(context, page)
    return visit_id, audit_id


def test_refused_and_held_then_refused_changes_need_attention_while_the_rest_syncs(live: Live, context: BrowserContext,
                                                                                    page: Page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Given a tablet offline with its audit not yet on the server
    visit_id, audit_id = start_offline(context, page, live)
    first, second = rated_items(page)[:2]
    # And, queued first, a change the server must hold (its audit is not there yet) and refuse once the audit arrives
    held_id = str(uuid.uuid4())
    page.evaluate(QUEUE, [[{"mutation_id": held_id, "kind": "answer.set", "entity_id": str(uuid.uuid4()), "base_version": 0,
                            "payload": {"audit_id": audit_id, "item_key": "NO-SUCH.9", "fields": {"rating": "met"}}},
                           f"answer|{audit_id}|NO-SUCH.9"]])
    # (pushed alone: the server holds it, and the tablet lets it go from its outbox)
    context.set_offline(False)
    page.get_by_role("button", name="Sync now").click()
    wait_outbox_empty(page)
    device_id = page.evaluate(DEVICE_ID)
    assert outcome(live, device_id, held_id)[0] == "held"
    go_offline(context, page)
    # And the auditor's own changes: a rating (which starts the audit) and a conversation
    page.locator(f"#rating-{safe(first)}-met").check()
    page.get_by_role("button", name="Add a learner conversation").click()
    learner = page.get_by_role("group", name="Learner conversation L1", exact=True)
    learner.get_by_label("Other notes").fill("Feels safe at the centre")
    learner.get_by_label("Other notes").blur()
    wait_saved(page)
    # And a change the server refuses outright, queued after them: a conversation note with a UPN (put straight in the
    # outbox, as a tablet without the local check would send it)
    refused_id, conversation_id = str(uuid.uuid4()), str(uuid.uuid4())
    page.evaluate(QUEUE, [[{"mutation_id": refused_id, "kind": "conversation.set", "entity_id": conversation_id,
                            "base_version": 0, "payload": {"audit_id": audit_id, "kind": "staff",
                                                           "fields": {"notes": "Spoke about A12345678901B"}}},
                           f"conversation|{conversation_id}"]])
    # And one more change of the auditor's after the refused one
    page.locator(f"#rating-{safe(second)}-not_met").check()
    wait_saved(page)

    # When the signal comes back and the tablet syncs
    context.set_offline(False)
    page.get_by_role("button", name="Sync now").click()

    # Then both refusals wait under "needs attention", each with what it concerns and the server's message
    attention = page.locator(".app-attention")
    expect(attention).to_contain_text("2 changes need attention", timeout=30000)
    status, refused = outcome(live, device_id, refused_id)
    assert status == "rejected"
    held = feed_entry(live, held_id)
    assert held["status"] == "rejected" and held["device_id"] == device_id and held["kind"] == "answer.set"
    refused_row = attention.locator(f"[data-mutation='{refused_id}']")
    notes_said = field_message(refused["details"], "notes")
    expect(refused_row).to_contain_text(f"Staff conversation: {refused['message'].rstrip('.')}")
    expect(refused_row).to_contain_text(f"Notes: {notes_said.rstrip('.')}.")
    held_row = attention.locator(f"[data-mutation='{held_id}']")
    expect(held_row).to_contain_text(f"Answer to NO-SUCH.9: {held['message'].rstrip('.')}")
    expect(held_row).to_contain_text("It was held until its audit reached the server, then refused.")
    wait_outbox_empty(page)
    # And the sync status says everything else is synced
    expect(page.locator("#sync-status")).to_contain_text(ATTENTION_SYNCED, timeout=15000)
    expect(page.locator("#sync-status")).to_contain_text("2 changes need attention")
    # And the server has every other change, the one queued after the refusal included
    with session_scope(live.binding) as session:
        answers = {a.item_key: a.rating for a in session.query(Answer).filter_by(audit_id=uuid.UUID(audit_id))}
        notes = [c.notes for c in session.query(Conversation).filter_by(audit_id=uuid.UUID(audit_id))]
    assert answers == {first: "met", second: "not_met"}
    assert notes == ["Feels safe at the centre"]
    assert_accessible(page, "capture screen with changes that need attention")

    # When the held one is discarded, it leaves the list; the refused one stays
    held_row.get_by_role("button", name="Discard").click()
    expect(attention).to_contain_text("1 change needs attention")
    expect(attention.locator(f"[data-mutation='{held_id}']")).to_have_count(0)
    # And after a reload that reads the whole pull feed again, what is left is kept and the discarded one stays gone
    page.evaluate(FORGET_CURSOR)
    page.reload()
    expect(page.locator("#sync-status")).to_contain_text("1 change needs attention · everything else is synced", timeout=15000)
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#sync-status")).to_contain_text(ATTENTION_SYNCED, timeout=30000)
    expect(page.locator(".app-attention .app-attention__item")).to_have_count(1)
    expect(page.locator(".app-attention").locator(f"[data-mutation='{refused_id}']")).to_have_count(1)
    assert errors == []


def test_a_contested_field_says_so_beside_its_item_until_a_reviewer_resolves_it(live: Live, context: BrowserContext, page: Page):
    # Given a tablet whose rating of an item has reached the server
    visit_id, audit_id = start_offline(context, page, live)
    item = rated_items(page)[0]
    page.locator(f"#rating-{safe(item)}-met").check()
    wait_saved(page)
    context.set_offline(False)
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=30000)
    # When another device of the same auditor sends another rating made on the version before it
    other = page.evaluate("""async ([audit, item]) => {
      const config = await (await fetch('/sync/config', {credentials: 'same-origin'})).json();
      const body = {device_id: crypto.randomUUID(), mutations: [{mutation_id: crypto.randomUUID(), kind: 'answer.set',
        entity_id: crypto.randomUUID(), base_version: 0, payload: {audit_id: audit, item_key: item, fields: {rating: 'not_met'}}}]};
      const r = await fetch('/sync/push', {method: 'POST', credentials: 'same-origin', body: JSON.stringify(body),
        headers: {'Content-Type': 'application/json', 'X-CSRFToken': config.csrf_token}});
      return (await r.json()).results[0];
    }""", [audit_id, item])
    assert other["status"] == "conflict", other

    # And this tablet syncs, its pull answer also carrying an entity it does not know and another device's outcome
    def with_strangers(route: Route) -> None:
        answer = route.fetch().json()
        answer["changes"] = [
            {"cursor": 1, "entity": "hologram", "entity_id": "x", "version": 1, "op": "upsert", "data": {"id": "x"}},
            {"cursor": 1, "entity": "mutation", "entity_id": str(uuid.uuid4()), "version": 1, "op": "upsert",
             "data": {"device_id": str(uuid.uuid4()), "mutation_id": str(uuid.uuid4()), "kind": "answer.set",
                      "entity_id": str(uuid.uuid4()), "status": "rejected", "message": "Not this tablet's"}},
            *answer["changes"]]
        route.fulfill(json=answer)

    page.route("**/sync/pull?*", with_strangers)
    page.get_by_role("button", name="Sync now").click()
    # Then the item says its rating is contested and a reviewer will choose
    block = page.locator(f"#item-{safe(item)}")
    expect(block.locator(".app-contested")).to_have_text("Contested: a reviewer will choose (Rating)", timeout=15000)
    contested = page.evaluate(CONTESTED, f"answer|{audit_id}|{item}")
    assert list(contested.values()) == ["rating"]
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED)  # the strangers were passed over
    expect(page.locator(".app-attention")).to_be_hidden()
    page.unroute("**/sync/pull?*")
    assert_accessible(page, "capture screen with a contested field")
    # When the audit is submitted and a reviewer resolves the conflict
    answer_audit(page, not_met=[], partially=[], na="", notes={})
    page.get_by_role("button", name="Submit for review").click()
    page.get_by_role("button", name="Yes, submit").click()
    wait_outbox_empty(page)
    expect(block.locator(".app-contested")).to_have_count(1)  # still contested once submitted
    with session_scope(live.binding) as session:
        audit = session.get(Audit, uuid.UUID(audit_id))
        assert audit.status == "submitted"
        conflict = session.scalars(select(SyncConflict).where(SyncConflict.audit_id == audit.id)).one()
        assert list(contested) == [str(conflict.id)]
        resolve_conflict(session, by_email(session, LEAD), audit.id, conflict.id, "current", "", audit.version)
    # And the tablet syncs
    page.get_by_role("button", name="Sync now").click()
    # Then the marker has gone and the rating kept stays
    expect(block.locator(".app-contested")).to_have_count(0, timeout=15000)
    assert page.evaluate(CONTESTED, f"answer|{audit_id}|{item}") == {}
    expect(page.locator(f"#rating-{safe(item)}-met")).to_be_checked()


def test_text_is_cut_at_code_points_and_a_note_refuses_a_upn_and_warns_about_a_name(live: Live, context: BrowserContext,
                                                                                   page: Page):
    # Given a conversation on a tablet offline
    start_offline(context, page, live)
    page.get_by_role("button", name="Add a learner conversation").click()
    learner = page.get_by_role("group", name="Learner conversation L1", exact=True)
    notes = learner.get_by_label("Other notes")
    # When a note longer than the server takes is pasted, with an emoji across the cut
    notes.fill("a" * 4999 + EMOJI * 2 + "b")
    notes.blur()
    wait_saved(page)
    # Then it is cut to 5,000 characters at a character, the field says so, and no lone surrogate is queued
    expect(learner.locator(".govuk-error-message")).to_have_text(
        "Error: Text must be 5,000 characters or fewer: the text after that was not kept")
    queued = page.evaluate(OUTBOX_TEXTS)
    assert queued["lone"] == 0
    assert queued["notes"][-1] == {"codePoints": 5000, "units": 5001, "tail": "aa" + EMOJI}
    # When a text holding half an emoji (a lone surrogate) is put in the box
    notes.evaluate("(box) => { box.value = 'Half an emoji: \\ud83d'; box.dispatchEvent(new Event('change')); }")
    wait_saved(page)
    # Then what is queued has the replacement character instead, and the cut's error has gone
    queued = page.evaluate(OUTBOX_TEXTS)
    assert queued["lone"] == 0 and queued["notes"][-1]["tail"] == ": \ufffd"
    expect(learner.locator(".govuk-error-message")).to_have_count(0)
    # When a note looks like it holds a name
    notes.fill("Spoke with Mrs Patel about the timetable")
    notes.blur()
    wait_saved(page)
    # Then it is saved, with a warning beside the field that notes must never hold a name
    warning = learner.locator(".app-name-warning")
    expect(warning).to_contain_text("Notes must never hold a name")
    assert notes.get_attribute("aria-describedby").split()[-1] == warning.get_attribute("id")
    assert page.evaluate(OUTBOX_TEXTS)["notes"][-1]["tail"] == "ble"
    assert_accessible(page, "a note with a name warning")
    # And the warning is there when the card is drawn again (a reload, offline)
    page.reload()
    expect(page.locator("h1.app-capture-title")).to_be_visible()
    expect(warning).to_contain_text("Notes must never hold a name")
    # When a note holds a UPN
    notes.fill("Pupil A12345678901B was calm")
    notes.blur()
    # Then it is refused on the field (GOV.UK error) and not queued; the name warning goes
    expect(learner.locator(".govuk-form-group--error .govuk-error-message")).to_contain_text("Remove the UPN")
    expect(warning).to_have_count(0)
    wait_saved(page)
    assert page.evaluate(OUTBOX_TEXTS)["notes"][-1]["tail"] == "ble"
    assert_accessible(page, "a note refused for its UPN")
    # When the UPN is taken out, the note is saved and the error goes
    notes.fill("Pupil was calm")
    notes.blur()
    wait_saved(page)
    expect(learner.locator(".govuk-error-message")).to_have_count(0)
    assert page.evaluate(OUTBOX_TEXTS)["notes"][-1]["tail"] == "alm"


def test_a_held_change_that_meets_another_devices_value_marks_its_item_for_review(live: Live, context: BrowserContext,
                                                                                  page: Page):
    # Given a tablet whose rating of an item the server held (its audit was not there yet)
    visit_id, audit_id = start_offline(context, page, live)
    item = rated_items(page)[0]
    held_id = str(uuid.uuid4())
    page.evaluate(QUEUE, [[{"mutation_id": held_id, "kind": "answer.set", "entity_id": str(uuid.uuid4()), "base_version": 0,
                            "payload": {"audit_id": audit_id, "item_key": item, "fields": {"rating": "met"}}},
                           f"answer|{audit_id}|{item}"]])
    context.set_offline(False)
    page.get_by_role("button", name="Sync now").click()
    wait_outbox_empty(page)
    device_id = page.evaluate(DEVICE_ID)
    assert outcome(live, device_id, held_id)[0] == "held"
    # When another device of the auditor starts the audit and rates the same item otherwise (the held one follows it)
    results = page.evaluate("""async ([audit, visit, item]) => {
      const config = await (await fetch('/sync/config', {credentials: 'same-origin'})).json();
      const pack = await (await fetch('/capture/packs/' + visit, {credentials: 'same-origin'})).json();
      const start = pack.audits.find((a) => a.audit_id === audit);
      const body = {device_id: crypto.randomUUID(), mutations: [
        {mutation_id: crypto.randomUUID(), kind: 'audit.start', entity_id: audit, base_version: 0,
         payload: {visit_id: visit, audit_type: start.audit_type, template_version_id: start.template_version_id}},
        {mutation_id: crypto.randomUUID(), kind: 'answer.set', entity_id: crypto.randomUUID(), base_version: 0,
         payload: {audit_id: audit, item_key: item, fields: {rating: 'not_met'}}}]};
      const r = await fetch('/sync/push', {method: 'POST', credentials: 'same-origin', body: JSON.stringify(body),
        headers: {'Content-Type': 'application/json', 'X-CSRFToken': config.csrf_token}});
      return (await r.json()).results.map((x) => x.status);
    }""", [audit_id, visit_id, item])
    assert results == ["applied", "applied"]
    assert feed_entry(live, held_id)["status"] == "conflict"
    # And this tablet syncs
    page.get_by_role("button", name="Sync now").click()
    # Then the item shows the other device's value, marked for review and contested (the tablet's value was not applied)
    block = page.locator(f"#item-{safe(item)}")
    expect(block).to_contain_text("Needs review: changed on another device (rating)", timeout=15000)
    expect(block.locator(".app-contested")).to_have_text("Contested: a reviewer will choose (Rating)")
    expect(page.locator(f"#rating-{safe(item)}-not_met")).to_be_checked()
    expect(page.locator(".app-attention")).to_be_hidden()  # nothing was refused
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED)
    assert_accessible(page, "an item marked for review after a held change met another device's value")
