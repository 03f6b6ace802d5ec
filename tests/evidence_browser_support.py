"""Support for tests/test_evidence_browser.py: serving the app on a real port, reading the server's evidence
rows and the bucket's objects, pictures made by the browser's own encoder, PDFs and EXIF, what the device
holds in IndexedDB, and choosing files the way a tablet user does."""
from __future__ import annotations

import base64
import hashlib
import os
import re
import struct
import time
from dataclasses import dataclass

from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import create_engine, text

from auditapp.storage import get_blob_store

from .test_capture_browser import (
    ALL_SYNCED,
    go_offline,
    make_available_offline,
    open_capture,
    rated_items,
    safe,
    sign_in,
    wait_saved,
)

REGION = "eu-west-2"
LOCAL_MAX_BYTES = 1024 * 1024  # the local-store test's limit, small enough to pass over quickly
OPEN_DB = """const user = document.querySelector('[data-user]').dataset.user;
  const db = await new Promise((ok, fail) => { const r = indexedDB.open('auditapp-' + user); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
  const all = (store, keys) => new Promise((ok) => { const s = db.transaction(store).objectStore(store); const r = keys ? s.getAllKeys() : s.getAll(); r.onsuccess = () => ok(r.result); });"""
# What the device holds: evidence records (no Blobs: they do not cross into Python), blob ids, queued kinds.
DEVICE = f"""async () => {{
  {OPEN_DB}
  const records = (await all('records')).filter((r) => r.entity === 'evidence').map((r) => ({{
    id: r.id, item_key: r.item_key, sha256: r.sha256, size_bytes: r.size_bytes, media_type: r.media_type, status: r.status,
    has_blob: r.has_blob, thumb: Boolean(r.thumb), width: r.width, height: r.height, filename: r.filename, problem: r.problem }}));
  const blobs = await all('blobs', true);
  const outbox = (await all('outbox')).map((e) => e.mutation.kind);
  db.close();
  return {{ records, blobs, outbox }};
}}"""
# A photo-like picture made by the browser's own encoder (no imaging library in the test environment).
PICTURE = """async ([w, h, type]) => {
  const c = new OffscreenCanvas(w, h);
  const x = c.getContext('2d');
  const g = x.createLinearGradient(0, 0, w, h); g.addColorStop(0, '#1d70b8'); g.addColorStop(1, '#f47738');
  x.fillStyle = g; x.fillRect(0, 0, w, h);
  for (let i = 0; i < 1500; i += 1) {
    x.fillStyle = `hsl(${(i * 47) % 360} 70% ${30 + (i % 40)}%)`;
    x.fillRect((i * 7919) % w, (i * 104729) % h, 20 + (i % 90), 20 + (i % 60));
  }
  x.fillStyle = '#ffffff'; x.font = `${Math.round(h / 8)}px sans-serif`; x.fillText('FIRE EXIT', w / 10, h / 2);
  const bytes = new Uint8Array(await (await c.convertToBlob({ type, quality: 0.95 })).arrayBuffer());
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}"""
# Watch what the auditor is shown while uploading: the status line and each progress bar value.
WATCH_UPLOADS = """() => {
  window.__seen = { status: [], progress: [] };
  new MutationObserver(() => {
    const status = document.getElementById('evidence-status');
    if (status && status.textContent && window.__seen.status.at(-1) !== status.textContent) window.__seen.status.push(status.textContent);
    const bar = document.getElementById('evidence-progress');
    if (bar) window.__seen.progress.push(bar.value);
  }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
}"""


# ---- test data -----------------------------------------------------------------------------------

def picture(page: Page, width: int, height: int, media_type: str) -> bytes:
    return base64.b64decode(page.evaluate(PICTURE, [width, height, media_type]))


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """The JPEG with an EXIF block saying how the camera was held (6: rotate 90° clockwise to show)."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1) \
        + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    app1 = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


def pdf(size: int) -> bytes:
    """A valid one-page PDF padded with a binary stream to about `size` bytes (enough to see progress)."""
    stream = os.urandom(size)
    parts = [b"%PDF-1.4\n", b"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n",
             b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n",
             b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n",
             b"4 0 obj<</Length %d>>stream\n" % len(stream) + stream + b"\nendstream endobj\n"]
    body = b"".join(parts)
    return body + b"trailer<</Root 1 0 R>>\n%%EOF\n"


# ---- servers -------------------------------------------------------------------------------------

@dataclass
class Live:
    url: str
    database_url: str
    app: object

    def rows(self) -> dict[str, dict]:
        """The server's evidence rows by id."""
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                result = conn.execute(text("SELECT id, item_key, sha256, size_bytes, media_type, status, storage_key, final_key, "
                                           "rejection_code, withdrawal_reason FROM evidence"))
                return {str(row.id): row._asdict() for row in result}
        finally:
            engine.dispose()


def s3_objects(live: Live) -> dict[str, str]:
    """Every object in the bucket: key -> SHA-256 of its bytes."""
    store = get_blob_store(live.app)
    out = {}
    for page in store.client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket):
        for item in page.get("Contents", []):
            body = store.client.get_object(Bucket=store.bucket, Key=item["Key"])["Body"]
            with body:
                out[item["Key"]] = hashlib.sha256(body.read()).hexdigest()
    return out


# ---- steps ---------------------------------------------------------------------------------------

def attach(page: Page, item: str, mode: str, name: str, mime: str, data: bytes, how: str = "click") -> None:
    """Choose a file with "Add photo" / "Add document" the way a user does: `how` is click, tap (touch) or
    keyboard (Enter on the focused button), each through the browser's file chooser; or input (set the
    hidden file input directly)."""
    k = safe(item)
    files = [{"name": name, "mimeType": mime, "buffer": data}]
    if how == "input":
        page.set_input_files(f"#{mode}-{k}", files=files)
        return
    button = page.locator(f"#{mode}-{k}-button")
    with page.expect_file_chooser() as chooser:
        if how == "tap":
            button.tap()
        elif how == "keyboard":
            button.focus()
            page.keyboard.press("Enter")
        else:
            button.click()
    assert chooser.value.is_multiple() and chooser.value.element.get_attribute("accept")
    chooser.value.set_files(files=files)


def wait_until(page: Page, condition, what: str, timeout: float = 15.0) -> None:
    """Poll `condition` (a Python callable) until it holds. Waits through Playwright, not time.sleep, so
    route handlers keep running meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        page.wait_for_timeout(100)


def files_of(page: Page, item: str):
    return page.locator(f"#evidence-{safe(item)} .app-evidence__file")


def capture_three_files_offline(context: BrowserContext, page: Page, live: Live, visit_index: int):
    """Offline: two photos (a 12 MP JPEG held sideways, a PNG) and a PDF on three items. Returns the
    items, the bytes chosen and the device's view once all three are saved."""
    sign_in(page, live.url)
    visit_id = make_available_offline(page, live.url, visit_index)
    open_capture(page, live.url, visit_id, "safeguarding")
    expect(page.locator("#sync-status")).to_contain_text(ALL_SYNCED, timeout=15000)
    policy_item = page.locator(".app-policy").first.evaluate("el => el.closest('[data-item]').dataset.item")
    first, second = [key for key in rated_items(page) if key != policy_item][:2]
    photo = with_exif_orientation(picture(page, 4000, 3000, "image/jpeg"), 6)
    png = picture(page, 1200, 900, "image/png")
    document = pdf(2 * 1024 * 1024)
    go_offline(context, page)
    page.evaluate("window.__captureTimings.evidence = []")
    attach(page, first, "photo", "IMG_0001.JPG", "image/jpeg", photo)
    expect(files_of(page, first)).to_have_count(1)
    attach(page, second, "photo", "first-aid-kit.png", "image/png", png, how="input")
    expect(files_of(page, second)).to_have_count(1)
    attach(page, policy_item, "document", "Safeguarding policy 2025.pdf", "application/pdf", document, how="tap")
    expect(files_of(page, policy_item)).to_have_count(1)
    wait_saved(page)
    return visit_id, (first, second, policy_item), (photo, png, document), page.evaluate(DEVICE)


def assert_shown_on_this_device(page: Page, items: tuple[str, str, str]) -> None:
    first, second, policy_item = items
    for item in (first, second):
        thumb = files_of(page, item).locator("img.app-evidence__thumb")
        expect(thumb).to_be_visible()
        expect(thumb).to_have_attribute("alt", re.compile(rf"^Photo 1 for {re.escape(item)}: .+\.jpg$"))
        assert thumb.evaluate("img => img.complete && img.naturalWidth > 0"), "the thumbnail decodes offline"
    expect(files_of(page, policy_item).locator(".app-evidence__doc")).to_have_text("PDF")
    expect(files_of(page, policy_item)).to_contain_text("Safeguarding policy 2025.pdf")
    for item in items:
        expect(files_of(page, item).locator(".app-evidence__state")).to_have_text("Saved on this device, waiting to upload")


def assert_device_holds_three(device: dict, photo: bytes, document: bytes) -> dict[str, dict]:
    records = {r["id"]: r for r in device["records"]}
    assert len(records) == 3 and sorted(device["blobs"]) == sorted(records)
    assert device["outbox"].count("evidence.register") == 3
    by_type = sorted(records.values(), key=lambda r: (r["media_type"], r["item_key"]))
    assert [r["media_type"] for r in by_type] == ["application/pdf", "image/jpeg", "image/jpeg"]
    pdf_record = by_type[0]
    assert pdf_record["sha256"] == hashlib.sha256(document).hexdigest() and pdf_record["size_bytes"] == len(document)
    big = next(r for r in records.values() if r["filename"] == "IMG_0001.jpg")
    # 4000 x 3000 held sideways (EXIF 6): shown portrait, 2000 px on the long side, much smaller than the original
    assert (big["width"], big["height"]) == (1500, 2000), big
    assert big["size_bytes"] < len(photo) / 2
    for record in records.values():
        assert re.fullmatch(r"[0-9a-f]{64}", record["sha256"]) and record["status"] == "expected" and record["has_blob"]
    return records


def edit_queued_registration(page: Page, field: str, value) -> None:
    """Change a field of the queued evidence.register in IndexedDB, as a faulty or tampered device would:
    the server's own checks must then catch it."""
    page.evaluate(f"""async ([field, value]) => {{
      {OPEN_DB}
      const t = db.transaction('outbox', 'readwrite');
      const outbox = t.objectStore('outbox');
      const entries = await new Promise((ok) => {{ const r = outbox.getAll(); r.onsuccess = () => ok(r.result); }});
      for (const e of entries) if (e.mutation.kind === 'evidence.register') {{ e.mutation.payload[field] = value; outbox.put(e); }}
      await new Promise((ok) => {{ t.oncomplete = ok; }});
      db.close();
    }}""", [field, value])
