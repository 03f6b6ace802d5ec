"""The simulated tablets of the load-and-fault run (benchmarks/faults.py): what the device does, over HTTP.

Each tablet owns one audit. Its sync thread keeps an outbox of answer edits (and, in every
EVIDENCE_EVERY-th batch, an evidence registration), pushes it, resends it with backoff until it is
acknowledged and drops it once it is, and pulls every few pushes. Its uploader thread, like the device's
evidence uploader, sends each acknowledged registration's bytes (upload target, PUT to the store) and
confirms file n-1 while file n goes up, with a backoff of its own, so files never hold up the answers.
Every request is recorded with its outcome: "ok", the HTTP status, "timeout", "refused" or "reset".
"""
from __future__ import annotations

import hashlib
import random
import re
import secrets
import threading
import time

import requests

from sync.client import mutation, uuid7

BATCH = 20  # answer edits per push
EVIDENCE_EVERY = 2  # an evidence registration in every 2nd batch
PULL_EVERY = 3  # a pull after every 3rd push
THINK = 0.1  # seconds between a tablet's pushes
TIMEOUT = 20.0  # client timeout of every request
BACKOFF_FIRST, BACKOFF_MAX = 0.25, 4.0  # the device's backoff (1 s doubling to 5 min), scaled down
FILE_BYTES = 20_000
CONFIRM_LAG = 2.0  # seconds from a file's PUT to its confirm (the device confirms file n-1 while file n goes up)
PASSWORD = "bench-password-not-secret-1"  # benchmarks/run.py seeds every demo user with it
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class Run:
    """What every tablet reports: requests (op, outcome, start, end) and acknowledgements."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.events: list[tuple[str, str, float, float]] = []
        self.acked: dict[tuple[str, str], dict] = {}  # (device id, mutation id) -> what was sent and answered
        self.verified: set[str] = set()  # evidence ids a confirm answered verified for
        self.rejected: list[dict] = []
        self.stop_new = threading.Event()
        self.hard_stop = threading.Event()
        self.go = threading.Event()  # every tablet signed in, the clock starts
        self.crash_armed = threading.Event()  # the injector waits for the next acknowledged push ...
        self.ack_seen = threading.Event()  # ... and crashes PostgreSQL right after it (the worst moment)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def event(self, op: str, outcome: str, began: float, ended: float) -> None:
        with self.lock:
            self.events.append((op, outcome, began, ended))


class Tablet(threading.Thread):
    def __init__(self, n: int, base: str, audit: dict, run: Run, ready: threading.Barrier) -> None:
        super().__init__(name=f"tablet-{n}", daemon=True)
        self.n, self.base, self.audit, self.run_, self.ready = n, base, audit, run, ready
        self.http = requests.Session()
        self.http.headers["Accept"] = "application/json"
        self.device_id = str(uuid7())
        self.csrf = ""
        self.outbox: list[dict] = []
        self.answers: dict[str, list] = {}  # item key -> [entity id, version]
        self.uploads: dict[str, bytes] = {}  # evidence id -> bytes: registered and acknowledged, not verified yet
        self.files: dict[str, bytes] = {}  # evidence id -> bytes of registrations still in the outbox
        self.cursor = 0
        self.batches = 0
        self.next_key = 0
        self.error: str | None = None
        self.synced = threading.Event()  # the outbox is empty and no new edits come
        self.sent: dict[str, float] = {}  # evidence id -> when to confirm it: its bytes are in the store

    # one request, classified
    def call(self, op: str, method: str, url: str, **kwargs):
        began = self.run_.now()
        try:
            response = self.http.request(method, url if url.startswith("http") else self.base + url,
                                         timeout=TIMEOUT, **kwargs)
        except requests.exceptions.Timeout:
            outcome, response = "timeout", None
        except requests.exceptions.ConnectionError as exc:
            outcome, response = ("refused" if "refused" in str(exc).lower() else "reset"), None
        else:
            outcome = "ok" if response.status_code < 400 else str(response.status_code)
        self.run_.event(op, outcome, began, self.run_.now())
        return response

    def sign_in(self) -> bool:
        """The HTML sign-in form, then /sync/config for the CSRF token; tried a few times (sign-in is slow on purpose)."""
        for attempt in range(5):
            page = self.call("sign-in", "GET", "/sign-in")
            if page is not None and page.status_code == 200:
                token = CSRF_RE.search(page.text).group(1)
                done = self.call("sign-in", "POST", "/sign-in", allow_redirects=False,
                                 data={"email": self.audit["email"], "password": PASSWORD, "csrf_token": token})
                config = self.call("config", "GET", "/sync/config") if done is not None and done.status_code == 302 else None
                if config is not None and config.status_code == 200:
                    self.csrf, self.error = config.json()["csrf_token"], None
                    return True
                page = config or done
            self.error = f"could not sign in: {page.status_code if page is not None else 'no answer'}"
            time.sleep(BACKOFF_FIRST * 2 ** attempt)
        return False

    def new_batch(self) -> list[dict]:
        audit, batch = self.audit, []
        if self.batches == 0:
            batch.append(mutation("audit.start", audit["audit_id"], {
                "visit_id": audit["visit_id"], "audit_type": "safeguarding",
                "template_version_id": audit["template_version_id"]}))
        keys = audit["keys"]
        for _ in range(min(BATCH, len(keys))):
            key = keys[self.next_key % len(keys)]
            self.next_key += 1
            entity_id, version = self.answers.get(key, (str(uuid7()), 0))
            self.answers.setdefault(key, [entity_id, version])
            batch.append(mutation("answer.set", entity_id, {"audit_id": audit["audit_id"], "item_key": key,
                                                            "fields": {"note": f"tablet {self.n} edit {self.next_key}"}},
                                  base_version=version))
        if self.batches % EVIDENCE_EVERY == EVIDENCE_EVERY - 1:
            data = b"\xff\xd8\xff\xe0" + secrets.token_bytes(FILE_BYTES - 4)  # starts like a JPEG
            registration = mutation("evidence.register", uuid7(), {
                "audit_id": audit["audit_id"], "item_key": keys[0], "media_type": "image/jpeg",
                "size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "filename": "photo.jpg"})
            self.files[registration["entity_id"]] = data
            batch.append(registration)
        self.batches += 1
        return batch

    def push(self) -> bool:
        response = self.call("push", "POST", "/sync/push", json={"device_id": self.device_id, "mutations": self.outbox},
                             headers={"X-CSRFToken": self.csrf})
        if response is None or response.status_code != 200:
            if response is not None and response.status_code in (400, 401, 403):
                self.sign_in()  # a lost session or CSRF token: sign in again, as the device asks its user to
            return False
        at = self.run_.now()
        for sent, result in zip(self.outbox, response.json()["results"]):
            final = result.get("original", result) if result["status"] == "duplicate" else result
            with self.run_.lock:
                self.run_.acked[(self.device_id, sent["mutation_id"])] = {
                    "tablet": self.n, "kind": sent["kind"], "entity_id": sent["entity_id"],
                    "note": sent["payload"].get("fields", {}).get("note"), "status": final["status"], "at": at}
                if final["status"] not in ("applied", "held"):
                    self.run_.rejected.append({"kind": sent["kind"], **final})
            if sent["kind"] == "answer.set" and final["status"] == "applied":
                self.answers[sent["payload"]["item_key"]][1] = final["version"]
            elif sent["kind"] == "evidence.register":
                data = self.files.pop(sent["entity_id"])
                if final["status"] == "applied":
                    with self.run_.lock:
                        self.uploads[sent["entity_id"]] = data
        self.outbox = []
        if self.run_.crash_armed.is_set():
            self.run_.ack_seen.set()
        return True

    def pull(self) -> None:
        for _ in range(5):
            response = self.call("pull", "GET", f"/sync/pull?cursor={self.cursor}&limit=500")
            if response is None or response.status_code != 200:
                return
            body = response.json()
            self.cursor = body["next_cursor"]
            if not body["more"]:
                return

    def send_file(self, evidence_id: str) -> bool:
        """Upload target, then PUT to the store; the confirm follows CONFIRM_LAG later (see upload_loop)."""
        target = self.call("evidence", "POST", f"/evidence/{evidence_id}/upload-target", json={},
                           headers={"X-CSRFToken": self.csrf})
        if target is None or target.status_code != 200:
            if target is not None and target.status_code == 409:  # already verified (a lost confirm answer) or settled
                return self._settled(evidence_id, target.json().get("code") == "evidence.already_verified")
            return False
        target = target.json()
        put = self.call("s3-put", target["method"], target["url"], data=self.uploads[evidence_id],
                        headers=target["headers"])
        if put is None or put.status_code >= 300:
            return False
        self.sent[evidence_id] = self.run_.now() + CONFIRM_LAG
        return True

    def confirm(self, evidence_id: str) -> bool:
        confirm = self.call("evidence", "POST", f"/evidence/{evidence_id}/confirm", json={},
                            headers={"X-CSRFToken": self.csrf})
        if confirm is None or confirm.status_code >= 500:
            return False  # the store (or the app) is away: confirm again later
        if confirm.status_code == 409:  # not uploaded, target expired, checksum: send the file again
            del self.sent[evidence_id]
            return False
        if confirm.status_code != 200:
            return False
        del self.sent[evidence_id]
        return self._settled(evidence_id, confirm.json()["status"] == "verified")

    def _settled(self, evidence_id: str, verified: bool) -> bool:
        with self.run_.lock:
            if verified:
                self.run_.verified.add(evidence_id)
            else:
                self.run_.rejected.append({"kind": "evidence.confirm", "evidence_id": evidence_id})
            del self.uploads[evidence_id]
        return True

    def run(self) -> None:
        try:
            signed_in = self.sign_in()
        finally:
            self.ready.wait()
        self.run_.go.wait()
        if not signed_in:
            return
        uploader = threading.Thread(target=self.upload_loop, name=f"uploader-{self.n}", daemon=True)
        uploader.start()  # like the device's evidence uploader: files never hold up the answers' sync
        backoff, pushes = 0.0, 0
        while not self.run_.hard_stop.is_set():
            producing = not self.run_.stop_new.is_set()
            if not self.outbox and not producing:
                break  # drained
            if not self.outbox:
                self.outbox = self.new_batch()
            if self.push():
                backoff, pushes = 0.0, pushes + 1
                if producing and pushes % PULL_EVERY == 0:
                    self.pull()
                self.run_.hard_stop.wait(THINK)
            else:
                backoff = min(max(backoff * 2, BACKOFF_FIRST), BACKOFF_MAX)
                self.run_.hard_stop.wait(backoff * random.uniform(0.5, 1.0))
        self.synced.set()
        uploader.join()

    def upload_loop(self) -> None:
        """One file at a time, the device's way: the bytes of file n go up, and file n-1 is confirmed."""
        backoff = 0.0
        while not self.run_.hard_stop.is_set():
            with self.run_.lock:
                waiting = [e for e in self.uploads if e not in self.sent]
            due = [e for e, at in self.sent.items() if at <= self.run_.now()]
            if not waiting and not self.sent:
                if self.synced.is_set():
                    return  # nothing left to register, upload or confirm
                self.run_.hard_stop.wait(0.1)
                continue
            if due:
                done = self.confirm(due[0])
            elif waiting:
                done = self.send_file(waiting[0])
            else:
                self.run_.hard_stop.wait(0.05)
                continue
            if done:
                backoff = 0.0
            else:
                backoff = min(max(backoff * 2, BACKOFF_FIRST), BACKOFF_MAX)
                self.run_.hard_stop.wait(backoff * random.uniform(0.5, 1.0))
