"""Evidence on the tablet, end to end in headless Chromium with the real service worker (RECIPES §7, §8):
photos and a PDF captured offline (downscaled and hashed in the browser, kept in IndexedDB), still there
after a reload, uploaded one at a time after the audit's answers, with progress, to the S3 endpoint (moto,
bucket CORS enforced) or the app's local store; verified by the server; the network dropping or the bytes
changing in transit lose nothing; a server rejection is shown with its reason; removal with a reason;
axe-core on the capture screen with evidence shown. moto checks no checksums, so every object is compared
with the SHA-256 the browser computed, and the rows with what the server verified."""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import time
import uuid
from collections import Counter

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from auditapp.storage import get_blob_store

from .conftest import make_test_app, world_database
from .live_server import serving
from .evidence_browser_support import (
    DEVICE,
    LOCAL_MAX_BYTES,
    REGION,
    WATCH_UPLOADS,
    Live,
    assert_device_holds_three,
    assert_shown_on_this_device,
    attach,
    capture_three_files_offline,
    edit_queued_registration,
    files_of,
    pdf,
    picture,
    s3_objects,
    wait_until,
)
from .test_capture_browser import (
    ALL_SYNCED,
    assert_accessible,
    go_offline,
    make_available_offline,
    open_capture,
    rated_items,
    safe,
    sign_in,
    wait_saved,
)

# ---- servers: each test takes its server first, so it starts before the browser and stops after it --

@pytest.fixture
def s3_live():
    """The app in S3 mode on its own world database and bucket, whose CORS lets the page PUT."""
    endpoint = os.environ.get("TEST_S3_ENDPOINT_URL")
    if not endpoint:
        pytest.fail("TEST_S3_ENDPOINT_URL is not set: run the suite with `make test`.", pytrace=False)
    database_url = world_database(f"auditapp_evidence_{uuid.uuid4().hex[:8]}")
    bucket = f"auditapp-evidence-{uuid.uuid4().hex[:12]}"
    app = make_test_app(database_url, EVIDENCE_STORE="s3", S3_BUCKET=bucket, S3_ENDPOINT_URL=endpoint, S3_REGION=REGION)
    store = get_blob_store(app)
    store.client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    with serving(app) as url:
        store.allow_browser_uploads([url])
        yield Live(url, database_url, app)
    for page in store.client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            store.client.delete_object(Bucket=bucket, Key=item["Key"])
    store.client.delete_bucket(Bucket=bucket)


@pytest.fixture
def local_live(tmp_path):
    """The app with the local evidence store (the `make run` default) in a folder of its own."""
    database_url = world_database(f"auditapp_evidence_{uuid.uuid4().hex[:8]}")
    app = make_test_app(database_url, EVIDENCE_DIR=str(tmp_path / "evidence"), EVIDENCE_MAX_BYTES=LOCAL_MAX_BYTES)
    with serving(app) as url:
        yield Live(url, database_url, app)


@pytest.fixture
def unreachable_s3_live():
    """The app in S3 mode whose file store cannot be reached (nothing listens on its endpoint's port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"
    database_url = world_database(f"auditapp_evidence_{uuid.uuid4().hex[:8]}")
    app = make_test_app(database_url, EVIDENCE_STORE="s3", S3_BUCKET="unreachable", S3_ENDPOINT_URL=endpoint,
                        S3_REGION=REGION)
    with serving(app) as url:
        yield Live(url, database_url, app)


# ---- tests ---------------------------------------------------------------------------------------

@pytest.mark.browser
def test_photos_and_a_pdf_taken_offline_reach_s3_with_the_sha256_the_browser_computed(s3_live, context: BrowserContext,
                                                                                      page: Page):
    # Given an auditor offline on a visit's safeguarding audit, who takes two photos and attaches a PDF
    visit_id, items, (photo, _png, document), device = capture_three_files_offline(context, page, s3_live, 0)
    # Then each shows at once (a thumbnail, or a PDF tag), and the device holds the bytes and the registrations
    assert_shown_on_this_device(page, items)
    records = assert_device_holds_three(device, photo, document)
    figures = page.evaluate("window.__captureTimings.evidence")
    print("\n[evidence figures] prepare (decode, downscale, encode, SHA-256): " + ", ".join(
        f"{f['mode']} {f['original_bytes'] / 1024:.0f} KB -> {f['bytes'] / 1024:.0f} KB"
        f"{' ' + str(f['width']) + 'x' + str(f['height']) if f['width'] else ''} in {f['ms']:.0f} ms {f['steps']}"
        for f in figures))

    # When the page is reloaded with no signal
    page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    expect(page.locator("h1.app-capture-title")).to_be_visible()
    # Then the files are all still there, and the status bar says they wait for signal
    assert_shown_on_this_device(page, items)
    assert_accessible(page, "capture offline with evidence")
    expect(page.locator("#evidence-status")).to_have_text("3 evidence files are waiting: they upload when there is signal")
    assert page.evaluate(DEVICE)["blobs"] == device["blobs"]

    # When the signal comes back
    page.evaluate(WATCH_UPLOADS)
    started = time.perf_counter()
    context.set_offline(False)
    # Then the answers sync, and the files upload one at a time with progress until each is "Received"
    for item in items:
        expect(files_of(page, item).locator(".app-evidence__state")).to_have_text("Received", timeout=60000)
    print(f"[evidence figures] signal back -> all three received and verified: {time.perf_counter() - started:.1f} s "
          f"({sum(r['size_bytes'] for r in records.values()) / 1024:.0f} KB)")
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=15000)
    seen = page.evaluate("window.__seen")
    assert [s for s in seen["status"] if s.startswith("Uploading evidence")] == [
        "Uploading evidence: file 1 of 3", "Uploading evidence: file 2 of 3", "Uploading evidence: file 3 of 3"], seen["status"]
    assert seen["progress"] and max(seen["progress"]) == 100, seen["progress"]
    progress = page.evaluate("window.__captureTimings.uploadProgress")
    for evidence_id, record in records.items():
        reports = [p for p in progress if p[0] == evidence_id]
        assert reports and reports[-1][1] == reports[-1][2] == record["size_bytes"], reports
    expect(page.locator("#evidence-status")).to_have_text("")
    # And the bucket holds exactly one object per file, under an opaque final key, with the browser's SHA-256
    objects = s3_objects(s3_live)
    audit_id = page.evaluate("async (v) => (await (await fetch('/capture/packs/' + v)).json()).audits"
                             ".find((a) => a.audit_type === 'safeguarding').audit_id", visit_id)
    assert objects == {f"evidence/final/{audit_id}/{evidence_id}": record["sha256"]
                       for evidence_id, record in records.items()}
    # And the server verified each row with that hash
    rows = s3_live.rows()
    assert {i: (r["status"], r["sha256"], r["item_key"]) for i, r in rows.items()} == {
        i: ("verified", r["sha256"], r["item_key"]) for i, r in records.items()}
    # And the device let go of the bytes only now, keeping what it shows
    after = page.evaluate(DEVICE)
    assert after["blobs"] == [] and after["outbox"] == []
    assert {r["id"]: (r["status"], r["has_blob"]) for r in after["records"]} == {i: ("verified", False) for i in records}
    page.reload()
    expect(files_of(page, items[0]).locator("img.app-evidence__thumb")).to_be_visible()
    expect(files_of(page, items[0]).locator(".app-evidence__state")).to_have_text("Received")


@pytest.mark.browser
def test_a_dropped_upload_and_bytes_changed_in_transit_are_retried_until_each_file_is_verified_once(
        s3_live, context: BrowserContext, page: Page):
    # Given three files captured offline
    _, items, _, device = capture_three_files_offline(context, page, s3_live, 1)
    records = {r["id"]: r for r in device["records"]}
    # And a network that drops the first upload, and spoils the bytes of the next one in transit
    puts: list[str] = []
    endpoint = os.environ["TEST_S3_ENDPOINT_URL"]

    def flaky(route: Route) -> None:
        if route.request.method != "PUT":
            route.continue_()
            return
        puts.append(route.request.url.split("?")[0].rsplit("/", 1)[1])
        if len(puts) == 1:
            route.abort("connectionreset")
        elif len(puts) == 2:
            body = bytearray(route.request.post_data_buffer)
            body[-1] ^= 0xFF  # same size, different bytes: only a checksum tells
            route.continue_(post_data=bytes(body))
        else:
            route.continue_()

    page.route(f"{endpoint}/**", flaky)
    page.evaluate(WATCH_UPLOADS)
    # When the signal comes back
    context.set_offline(False)
    # Then the auditor is told plainly that evidence waits while answers sync, and every file arrives
    for item in items:
        expect(files_of(page, item).locator(".app-evidence__state")).to_have_text("Received", timeout=60000)
    statuses = page.evaluate("window.__seen.status")
    assert any("because the file store cannot be reached. Answers keep syncing" in s for s in statuses), statuses
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=15000)
    # And the first file was sent again after the drop, and once more after the server found its hash wrong
    # (after the other two files: the pipeline goes on while that file waits for its retry)
    assert puts[0] == puts[1] == puts[-1], puts
    assert sorted(Counter(puts).values()) == [1, 1, 3], puts
    # And exactly one object per file is in the bucket, holding exactly the bytes the browser hashed
    objects = s3_objects(s3_live)
    assert sorted(objects.values()) == sorted(r["sha256"] for r in records.values())
    assert sorted(key.rsplit("/", 1)[1] for key in objects) == sorted(records)
    assert {i: (r["status"], r["sha256"]) for i, r in s3_live.rows().items()} == {
        i: ("verified", r["sha256"]) for i, r in records.items()}
    assert page.evaluate(DEVICE)["blobs"] == []


@pytest.mark.browser
def test_signal_lost_mid_upload_then_a_browser_restart_resumes_and_loses_nothing(
        s3_live, browser_type, browser_type_launch_args, browser_context_args, tmp_path):
    # A browser on a profile folder of its own, so it can be closed and started again like a tablet's
    profile = str(tmp_path / "profile")

    def start_browser() -> BrowserContext:
        return browser_type.launch_persistent_context(profile, **browser_type_launch_args, **browser_context_args)

    context = start_browser()
    try:
        # Given three files captured offline
        page = context.new_page()
        visit_id, items, _, device = capture_three_files_offline(context, page, s3_live, 2)
        records = {r["id"]: r for r in device["records"]}
        # When the signal comes back, and goes again while the first file is on its way
        dropped = []

        def lose_signal(route: Route) -> None:
            if route.request.method == "PUT" and not dropped:
                dropped.append(route.request.url)
                context.set_offline(True)
                route.abort("internetdisconnected")
            else:
                route.continue_()

        page.route(f"{os.environ['TEST_S3_ENDPOINT_URL']}/**", lose_signal)
        context.set_offline(False)
        # Then the auditor is told the files wait for signal
        expect(page.locator("#evidence-status")).to_have_text(
            "3 evidence files are waiting: they upload when there is signal", timeout=30000)
        assert dropped
    finally:
        # And the browser is closed before there is signal again
        context.close()
    assert s3_objects(s3_live) == {}
    assert {r["status"] for r in s3_live.rows().values()} == {"expected"}  # registered: the server expects them

    context = start_browser()
    try:
        # When the browser starts again with signal and the auditor opens the audit
        page = context.new_page()
        page.goto(f"{s3_live.url}/visits/")
        if page.get_by_label("Email address").count():
            sign_in(page, s3_live.url)
        open_capture(page, s3_live.url, visit_id, "safeguarding")
        # Then every file uploads and is verified, each exactly once, with the bytes the browser hashed
        for item in items:
            expect(files_of(page, item).locator(".app-evidence__state")).to_have_text("Received", timeout=60000)
        objects = s3_objects(s3_live)
        assert sorted(objects.values()) == sorted(r["sha256"] for r in records.values())
        assert {i: (r["status"], r["sha256"]) for i, r in s3_live.rows().items()} == {
            i: ("verified", r["sha256"]) for i, r in records.items()}
        assert page.evaluate(DEVICE)["blobs"] == []
    finally:
        context.close()


@pytest.mark.browser
def test_local_store_limits_rejection_removal_and_no_axe_violations(local_live, context: BrowserContext, page: Page):
    # Given an auditor online on a visit's safeguarding audit, with the app's own (local) evidence store
    sign_in(page, local_live.url)
    visit_id = make_available_offline(page, local_live.url, 3)
    open_capture(page, local_live.url, visit_id, "safeguarding")
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=15000)
    first, second, third = rated_items(page)[:3]
    # Then every checklist item (policy checks included) offers a photo and a document, and no conversation does
    page.get_by_role("button", name="Add a learner conversation").click()
    expect(page.locator(".app-conversation")).to_have_count(1)
    assert page.locator("[data-item]").count() == page.locator(".app-evidence").count() > 0
    expect(page.locator(".app-conversation .app-evidence, .app-conversation input[type=file]")).to_have_count(0)
    photo_input, document_input = page.locator(f"#photo-{safe(first)}"), page.locator(f"#document-{safe(first)}")
    assert (photo_input.get_attribute("accept"), photo_input.get_attribute("capture")) == ("image/*", "environment")
    assert document_input.get_attribute("accept") == "image/jpeg,image/png,application/pdf,.pdf"
    # When they attach a program renamed as a PDF
    attach(page, first, "document", "policy.pdf", "application/pdf", b"MZ\x90\x00" + os.urandom(2000))
    # Then a GOV.UK error says what is wrong, nothing is stored, and the screen has no axe violations
    group = page.locator(f"#evidence-{safe(first)}")
    expect(group).to_have_class(re.compile("govuk-form-group--error"))
    expect(group.locator(".govuk-error-message")).to_have_text("Error: The selected file must be a JPG, PNG or PDF")
    expect(page.locator(f"#document-{safe(first)}-button")).to_be_focused()
    assert page.evaluate(DEVICE)["records"] == []
    assert_accessible(page, "evidence error")
    # When they attach a PDF over the limit the visit pack gives
    limit = page.evaluate("async (v) => (await (await fetch('/capture/packs/' + v)).json()).limits.evidence_max_bytes", visit_id)
    assert limit == LOCAL_MAX_BYTES
    too_big = pdf(limit + 10)
    attach(page, first, "document", "scan.pdf", "application/pdf", too_big, how="input")
    expect(group.locator(".govuk-error-message")).to_have_text("Error: The selected file must be smaller than 1 MB")
    assert page.evaluate(DEVICE)["records"] == []

    # When they take a photo and attach a PDF, online, with a photo claimed to be a PDF on a third item
    page.evaluate(WATCH_UPLOADS)
    attach(page, first, "photo", "exit.jpg", "image/jpeg", picture(page, 800, 600, "image/jpeg"), how="keyboard")
    attach(page, second, "document", "certificate.pdf", "application/pdf", pdf(300 * 1024))
    expect(group.locator(".govuk-error-message")).to_have_count(0)
    # Then both upload to the app's own store and are received
    for item in (first, second):
        expect(files_of(page, item).locator(".app-evidence__state")).to_have_text("Received", timeout=60000)
    rows = local_live.rows()
    assert sorted(r["status"] for r in rows.values()) == ["verified", "verified"]
    evidence_dir = local_live.app.config["EVIDENCE_DIR"]
    for row in rows.values():
        with open(os.path.join(evidence_dir, row["final_key"]), "rb") as stored:
            assert hashlib.sha256(stored.read()).hexdigest() == row["sha256"]

    # When a file arrives that is not what the device said it is (a JPEG registered as a PDF)
    go_offline(context, page)
    attach(page, third, "photo", "not-a-pdf.jpg", "image/jpeg", picture(page, 400, 300, "image/jpeg"))
    wait_saved(page)
    assert page.evaluate(DEVICE)["outbox"] == ["evidence.register"]
    edit_queued_registration(page, "media_type", "application/pdf")
    context.set_offline(False)
    # Then the server's verdict is shown with its reason, the bytes stay on the device, and removal is offered
    third_file = files_of(page, third)
    expect(third_file.locator(".app-evidence__state")).to_have_text("Not accepted", timeout=60000)
    expect(third_file.locator(".app-evidence__problem")).to_contain_text("Reason: ")
    rejected = [r for r in local_live.rows().values() if r["item_key"] == third]
    assert [r["status"] for r in rejected] == ["rejected"] and rejected[0]["rejection_code"] == "evidence.wrong_type"
    device = page.evaluate(DEVICE)
    assert [r["id"] for r in device["records"] if r["status"] == "rejected"] == device["blobs"]
    expect(page.locator("#evidence-status")).to_contain_text("1 evidence file was not accepted")

    # When they remove it from the keyboard, first without a reason
    remove = third_file.get_by_role("button", name=re.compile("^Remove"))
    remove.focus()
    page.keyboard.press("Enter")
    reason = page.get_by_label(re.compile("Why are you removing this file"))
    expect(reason).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # "Remove file"
    expect(third_file.locator(".govuk-error-message")).to_have_text("Error: Enter why you are removing this file")
    assert_accessible(page, "evidence shown, removal open with an error")
    page.set_viewport_size({"width": 768, "height": 1024})
    assert_accessible(page, "evidence at 768x1024")
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
    reason.fill("Wrong file: a photo, not the policy")
    third_file.get_by_role("button", name="Remove file").click()
    # Then it is removed with the reason, on the device and, after a sync, on the server; the bytes go
    expect(third_file.locator(".app-evidence__state")).to_have_text("Removed")
    expect(third_file).to_contain_text("Removed: Wrong file: a photo, not the policy")
    page.get_by_role("button", name="Sync now").click()
    wait_until(page, lambda: page.evaluate(DEVICE)["blobs"] == [], "the withdrawn file's bytes leave the device")
    assert page.evaluate(DEVICE)["outbox"] == []
    removed = [r for r in local_live.rows().values() if r["item_key"] == third]
    assert [(r["status"], r["withdrawal_reason"]) for r in removed] == [("withdrawn", "Wrong file: a photo, not the policy")]


@pytest.mark.browser
def test_files_from_another_tablet_appear_and_a_refused_registration_leaves_with_its_file(
        local_live, browser, browser_context_args, context: BrowserContext, page: Page):
    # Given tablet A with a visit available offline
    sign_in(page, local_live.url)
    visit_id = make_available_offline(page, local_live.url, 0)
    open_capture(page, local_live.url, visit_id, "safeguarding")
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=15000)
    first, second = rated_items(page)[:2]
    # And tablet B, the same auditor's other device, which adds a document to the same item
    other = browser.new_context(**browser_context_args)
    try:
        tablet_b = other.new_page()
        sign_in(tablet_b, local_live.url)
        make_available_offline(tablet_b, local_live.url, 0)
        open_capture(tablet_b, local_live.url, visit_id, "safeguarding")
        attach(tablet_b, first, "document", "insurance.pdf", "application/pdf", pdf(20 * 1024))
        expect(files_of(tablet_b, first).locator(".app-evidence__state")).to_have_text("Received", timeout=60000)
    finally:
        other.close()
    # When tablet A syncs
    page.get_by_role("button", name="Sync now").click()
    # Then it shows tablet B's file with the server's verdict (it has no bytes of it, and needs none)
    expect(files_of(page, first)).to_contain_text("insurance.pdf")
    expect(files_of(page, first).locator(".app-evidence__state")).to_have_text("Received")
    assert [(r["filename"], r["status"], r["has_blob"]) for r in page.evaluate(DEVICE)["records"]] == [
        ("insurance.pdf", "verified", False)]

    # When tablet A adds a file whose registration the server refuses (it claims more bytes than allowed)
    go_offline(context, page)
    attach(page, second, "photo", "exit.jpg", "image/jpeg", picture(page, 400, 300, "image/jpeg"))
    wait_saved(page)
    assert page.evaluate(DEVICE)["outbox"] == ["evidence.register"]
    edit_queued_registration(page, "size_bytes", LOCAL_MAX_BYTES + 1)
    context.set_offline(False)
    # Then the refusal is shown on the file, and in "needs attention"
    refused = files_of(page, second)
    expect(refused.locator(".app-evidence__state")).to_have_text("Not accepted", timeout=60000)
    expect(refused.locator(".app-evidence__problem")).to_contain_text("Reason: ")
    expect(page.locator(".app-attention")).to_contain_text("1 change needs attention")
    # When the auditor removes it with a reason
    refused.get_by_role("button", name=re.compile("^Remove")).click()
    page.get_by_label(re.compile("Why are you removing this file")).fill("Too big; will take it again")
    refused.get_by_role("button", name="Remove file").click()
    # Then it leaves the device at once, with the refusal, and nothing is sent for it
    expect(refused.locator(".app-evidence__state")).to_have_text("Removed")
    expect(page.locator(".app-attention")).to_be_hidden()
    device = page.evaluate(DEVICE)
    assert device["blobs"] == [] and device["outbox"] == []
    assert [r["item_key"] for r in local_live.rows().values()] == [first]


@pytest.mark.browser
def test_answers_keep_syncing_while_the_file_store_is_unreachable(unreachable_s3_live, context: BrowserContext, page: Page):
    # Given an auditor whose app cannot reach its file store, who rates an item and photographs it offline
    live = unreachable_s3_live
    sign_in(page, live.url)
    visit_id = make_available_offline(page, live.url, 0)
    open_capture(page, live.url, visit_id, "safeguarding")
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=15000)
    item = rated_items(page)[0]
    go_offline(context, page)
    page.locator(f"#rating-{safe(item)}-met").check()
    attach(page, item, "photo", "exit.jpg", "image/jpeg", picture(page, 800, 600, "image/jpeg"))
    wait_saved(page)
    puts = []
    page.route(f"{live.app.config['S3_ENDPOINT_URL']}/**", lambda route: (puts.append(route.request.method), route.continue_()))
    # When the signal comes back
    context.set_offline(False)
    # Then the answer and the file's registration sync
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=30000)
    assert page.evaluate(DEVICE)["outbox"] == []
    server = page.evaluate("async (v) => (await (await fetch('/capture/packs/' + v)).json())", visit_id)
    audit = next(a for a in server["audits"] if a["audit_type"] == "safeguarding")
    assert [(a["item_key"], a["fields"]["rating"]) for a in server["answers"] if a["audit_id"] == audit["audit_id"]] == [
        (item, "met")]
    assert [r["status"] for r in live.rows().values()] == ["expected"]  # the server knows what it is waiting for
    # And the status bar says plainly that the file waits for the file store, and it is tried again and again
    expect(page.locator("#evidence-status")).to_contain_text(
        "1 evidence file is waiting because the file store cannot be reached. Answers keep syncing.", timeout=30000)
    wait_until(page, lambda: len(puts) >= 3, "the upload is tried a third time (backing off)", timeout=30)
    # And the file stays on the device, waiting
    device = page.evaluate(DEVICE)
    assert [(r["status"], r["has_blob"]) for r in device["records"]] == [("expected", True)] and len(device["blobs"]) == 1
    expect(files_of(page, item).locator(".app-evidence__state")).to_have_text(
        re.compile("^(Saved on this device, waiting to upload|Uploading)$"))
    # And signing out warns that the file has not been uploaded, and stays when the auditor declines
    page.get_by_role("button", name="Sign out").click()
    warning = page.get_by_role("region", name="Important")
    expect(warning).to_contain_text("1 evidence file has not been uploaded yet.")
    warning.get_by_role("button", name="Stay signed in").click()
    expect(warning).to_be_hidden()
    expect(page.locator("h1.app-capture-title")).to_be_visible()


@pytest.mark.browser
def test_a_server_error_is_said_as_one_and_a_refused_file_says_why_and_is_not_sent_again(local_live, context: BrowserContext,
                                                                                         page: Page):
    # Given an auditor online on a visit's safeguarding audit, whose server fails every confirm with a 500
    sign_in(page, local_live.url)
    visit_id = make_available_offline(page, local_live.url, 0)
    open_capture(page, local_live.url, visit_id, "safeguarding")
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=15000)
    item = rated_items(page)[0]
    page.route("**/evidence/*/confirm", lambda route: route.fulfill(
        status=500, content_type="application/json", body=json.dumps({"code": "server.error", "message": "Internal error"})))
    # When they photograph an item
    attach(page, item, "photo", "exit.jpg", "image/jpeg", picture(page, 800, 600, "image/jpeg"))
    # Then the status bar says the server had a problem and it is tried again, not that it cannot be reached
    status = page.locator("#evidence-status")
    expect(status).to_contain_text("The server had a problem; it will be tried again", timeout=30000)
    expect(status).not_to_contain_text("cannot be reached")
    # When the server refuses the file outright (a 4xx)
    page.unroute("**/evidence/*/confirm")
    refusals = []
    page.route("**/evidence/*/confirm", lambda route: (refusals.append(route.request.url), route.fulfill(
        status=403, content_type="application/json",
        body=json.dumps({"code": "evidence.forbidden", "message": "You may not change this audit"}))))
    page.get_by_role("button", name="Sync now").click()
    # Then the item says the server refused it and why, and it is not sent again
    expect(files_of(page, item)).to_contain_text("The server refused this file: You may not change this audit", timeout=30000)
    expect(status).to_contain_text("1 evidence file was not accepted")
    asked = len(refusals)
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=15000)
    page.wait_for_timeout(2000)
    assert len(refusals) == asked == 1
