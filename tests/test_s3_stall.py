"""A silent S3 store cannot stall the app (issue 14): every S3 call has short timeouts and bounded
retries, so evidence calls answer 503 `evidence.store_unavailable` within seconds, while pushes,
pulls and /healthz go on as usual.

The store here is this module's own moto server, frozen with SIGSTOP: its socket still accepts
connections (the kernel does that) but nothing ever answers, which is how a hung store looks. The
app runs on a real threaded server (tests/live_server.py), so a request waiting on the store and
the others run side by side, as they do under gunicorn with several workers.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import update

from auditapp.db import bind, session_scope
from auditapp.models import Evidence
from auditapp.services.audits import audit_id_for
from auditapp.services.templates import latest_version
from auditapp.storage import get_blob_store
from sync.client import answer, start, uuid7

from . import world
from .conftest import evidence_bucket, make_test_app, s3_config, world_database
from .evidence_helpers import JPEG, PDF, put_to_store, register_mutation
from .live_server import serving

WITHIN_SECONDS = 10  # what "within a few seconds" must mean; the defaults give up after about 7 s
QUICK_SECONDS = 3  # sync and health answers while the store hangs
CLIENT_TIMEOUT = 25  # so that a hung request fails the test instead of hanging it


@pytest.fixture(scope="module")
def own_moto(tmp_path_factory):
    """A moto S3 server of this module only (started as .ci/s3_up.sh does), so freezing it hurts no other test."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                env={**os.environ, "MOTO_DISABLE_GLOBAL_CORS": "true"}, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(Path(log).read_text(errors="replace")[-2000:]) from None
                time.sleep(0.1)
        yield endpoint, proc
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait(timeout=20)


class Browserless:
    """A signed-in user over HTTP with a cookie session; redirects are not followed (a presigned GET
    would go to the frozen store); every request gives up after CLIENT_TIMEOUT seconds."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, base: str, role: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  self._NoRedirect())
        with self.opener.open(base + "/sign-in", timeout=CLIENT_TIMEOUT) as page:
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode()).group(1)
        form = urllib.parse.urlencode({"email": world.EMAIL[role], "password": world.PASSWORD,
                                       "csrf_token": token}).encode()
        try:
            self.opener.open(base + "/sign-in", data=form, timeout=CLIENT_TIMEOUT).close()
        except urllib.error.HTTPError as exc:  # the 302 home, not followed
            assert exc.code == 302, exc.code
            exc.close()
        self.csrf = None

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None, float]:
        """(status, JSON body or None, seconds taken)."""
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if method != "GET":
            if self.csrf is None:
                status, config, _ = self.call("GET", "/sync/config")
                assert status == 200, config
                self.csrf = config["csrf_token"]
            headers["X-CSRFToken"] = self.csrf
        request = urllib.request.Request(self.base + path, method=method, headers=headers,
                                         data=json.dumps(body).encode() if body is not None else None)
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=CLIENT_TIMEOUT) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                status, raw = exc.code, exc.read()
        elapsed = time.monotonic() - started
        try:
            return status, json.loads(raw or b"null"), elapsed
        except ValueError:
            return status, None, elapsed


@pytest.fixture(scope="module")
def live(own_moto):
    endpoint, moto = own_moto
    url = world_database("auditapp_s3_stall")
    binding = bind(url)
    with session_scope(binding) as session:
        visit = world.visit_assigned_to(session, "auditor")
        audit = (str(audit_id_for(visit.id, "safeguarding")), visit.id, latest_version(session, "safeguarding").id)
    app = make_test_app(url, **s3_config(endpoint, evidence_bucket(endpoint)))  # the default S3 timeouts and attempts
    try:
        with serving(app) as base:
            yield base, moto, audit, app, binding
    finally:
        get_blob_store(app).client.close()
        binding.engine.dispose()


def _uploaded(auditor: Browserless, audit_id: str, data: bytes, media_type: str = "image/jpeg") -> str:
    """A file registered and PUT to its presigned URL (not confirmed yet); its evidence id."""
    registration = register_mutation(audit_id, data, media_type=media_type)
    status, body, _ = auditor.call("POST", "/sync/push", {"device_id": str(uuid7()), "mutations": [registration]})
    assert (status, body["results"][0]["status"]) == (200, "applied"), body
    evidence_id = registration["entity_id"]
    status, target, _ = auditor.call("POST", f"/evidence/{evidence_id}/upload-target", {})
    assert status == 200, target
    assert put_to_store(target, data) == 200
    return evidence_id


def test_a_frozen_store_answers_503_within_seconds_while_sync_and_health_carry_on(live):
    base, moto, (audit_id, visit_id, version_id), app, binding = live
    auditor, reviewer = Browserless(base, "auditor"), Browserless(base, "maintainer")
    device_id = str(uuid7())
    status, body, _ = auditor.call("POST", "/sync/push", {"device_id": device_id, "mutations": [
        start(audit_id, visit_id, "safeguarding", version_id)]})
    assert (status, body["results"][0]["status"]) == (200, "applied"), body
    # Given, while the store answers: a photo uploaded but not confirmed, one registered only, one verified, and
    # one verified before final keys existed (opening it must copy it inside the store first)
    waiting = _uploaded(auditor, audit_id, JPEG)
    fresh = register_mutation(audit_id, PDF, media_type="application/pdf")
    assert auditor.call("POST", "/sync/push", {"device_id": device_id, "mutations": [fresh]})[0] == 200
    done, legacy = _uploaded(auditor, audit_id, JPEG), _uploaded(auditor, audit_id, PDF, "application/pdf")
    for evidence_id in (done, legacy):
        assert auditor.call("POST", f"/evidence/{evidence_id}/confirm", {})[1] == {"status": "verified"}
    store = get_blob_store(app)
    with session_scope(binding) as session:
        row = session.get(Evidence, legacy)
        store.copy(row.final_key, row.storage_key)
        store.delete(row.final_key)
        session.execute(update(Evidence).where(Evidence.id == row.id).values(final_key=None))

    os.kill(moto.pid, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            # When the device confirms the waiting photo, and a reviewer opens the old file, against the frozen store
            confirming = pool.submit(auditor.call, "POST", f"/evidence/{waiting}/confirm", {})
            opening = pool.submit(reviewer.call, "GET", f"/evidence/{legacy}")
            time.sleep(0.5)  # both are waiting on the store now
            # Then meanwhile a push, a pull and the health check answer as usual, quickly
            rating = answer(audit_id, "SG-1.1", {"rating": "met"})
            push = auditor.call("POST", "/sync/push", {"device_id": device_id, "mutations": [rating]})
            pull = auditor.call("GET", "/sync/pull?cursor=0&limit=50")
            health = auditor.call("GET", "/healthz")
            assert not confirming.done(), "the confirm did not wait on the store: the test proves nothing"
            assert (push[0], push[1]["results"][0]["status"]) == (200, "applied") and push[2] < QUICK_SECONDS
            assert pull[0] == 200 and pull[1]["changes"] and pull[2] < QUICK_SECONDS
            assert health[:2] == (200, {"status": "ok"}) and health[2] < QUICK_SECONDS
            # And the confirm and the view give up within seconds with a JSON 503
            for status, body, elapsed in (confirming.result(), opening.result()):
                assert (status, body["code"]) == (503, "evidence.store_unavailable"), body
                assert body["details"] == {} and elapsed < WITHIN_SECONDS, (body, elapsed)
        # And an upload target (presigned without a request to the store) and a view of a verified file (a presigned
        # GET: the browser, not the app, then waits on the store) answer at once
        status, target, elapsed = auditor.call("POST", f"/evidence/{fresh['entity_id']}/upload-target", {})
        assert status == 200 and target["url"].startswith(store.client.meta.endpoint_url) and elapsed < QUICK_SECONDS
        status, _, elapsed = reviewer.call("GET", f"/evidence/{done}")
        assert status == 302 and elapsed < QUICK_SECONDS
    finally:
        os.kill(moto.pid, signal.SIGCONT)
    # And once the store answers again, the same confirm verifies the photo and the old file opens
    assert auditor.call("POST", f"/evidence/{waiting}/confirm", {})[1] == {"status": "verified"}
    assert reviewer.call("GET", f"/evidence/{legacy}")[0] == 302
