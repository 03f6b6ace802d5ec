"""Evidence upload through the app's flow against raw boto3 `put_object`, same run, same S3 endpoint.

The app's flow is what a tablet does (sync/PROTOCOL.md, "Evidence"): one push registering the
files, then per file POST upload-target -> PUT the bytes to the presigned URL -> POST confirm, where
the server checks size, SHA-256 and type. The baseline puts the same bytes with boto3, one by one.
Also measured: the gunicorn workers' memory before and after (in S3 mode no evidence bytes may pass
through Flask), and the latency of each confirm.

Usage (make bench runs it): python benchmarks/evidence.py DATABASE_URL S3_ENDPOINT_URL
Prints one JSON line of figures; benchmarks/run.py puts them in the table.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import run as bench

FILES, FILE_BYTES, SMALL_FILES, SMALL_BYTES = 100, 5 * 1024 * 1024, 100, 200 * 1024
AUDITOR = "auditor@assure.example.org"
BUCKET = "auditapp-bench-evidence"


def jpeg_bytes(size: int) -> bytes:
    """A byte string that starts like a JPEG (the server checks magic bytes) and is random after."""
    return b"\xff\xd8\xff\xe0" + secrets.token_bytes(size - 4)


class Client:
    """A signed-in tablet talking to the app over one keep-alive connection."""

    def __init__(self, base: str, cookie: str) -> None:
        parsed = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        self.headers = {"Cookie": f"{bench.COOKIE}={cookie}", "User-Agent": bench.USER_AGENT}
        status, config = self.call("GET", "/sync/config")
        assert status == 200, config
        self.headers["X-CSRFToken"] = config["csrf_token"]

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {**self.headers, **({"Content-Type": "application/json"} if data is not None else {})}
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        payload = response.read()
        return response.status, (json.loads(payload) if payload else {})

    def close(self) -> None:
        self.conn.close()


def put(url: str, headers: dict, data: bytes, base: str, cookie_headers: dict) -> int:
    """PUT `data` to an upload target: an absolute presigned URL (S3) or an app path (local)."""
    target = urllib.parse.urlsplit(url if "://" in url else base + url)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
    try:
        path = target.path + (f"?{target.query}" if target.query else "")
        extra = cookie_headers if "://" not in url else {}
        conn.request("PUT", path, body=data, headers={**headers, **extra, "Content-Length": str(len(data))})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def app_flow(base: str, cookie: str, audit: dict, blobs: list[bytes]) -> dict:
    """Register every file in one push, then upload-target, PUT and confirm each in turn."""
    client = Client(base, cookie)
    from sync.client import mutation, start, uuid7
    try:
        status, body = client.call("POST", "/sync/push", {"device_id": str(uuid7()), "mutations": [
            start(audit["audit_id"], audit["visit_id"], "safeguarding", audit["template_version_id"])]})
        assert status == 200 and body["results"][0]["status"] in ("applied", "duplicate"), body
        began = time.perf_counter()
        ids, registrations = [], []
        for n, data in enumerate(blobs):
            evidence_id = str(uuid7())
            ids.append(evidence_id)
            registrations.append(mutation("evidence.register", evidence_id, {
                "audit_id": audit["audit_id"], "item_key": audit["item_keys"][n % len(audit["item_keys"])],
                "media_type": "image/jpeg", "size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                "filename": f"photo-{n}.jpg"}))
        status, body = client.call("POST", "/sync/push", {"device_id": str(uuid7()), "mutations": registrations})
        assert status == 200 and all(r["status"] == "applied" for r in body["results"]), body
        registered = time.perf_counter()
        confirm_ms, target_s, put_s = [], 0.0, 0.0
        for evidence_id, data in zip(ids, blobs):
            t = time.perf_counter()
            status, target = client.call("POST", f"/evidence/{evidence_id}/upload-target")
            assert status == 200, target
            t1 = time.perf_counter()
            assert put(target["url"], target["headers"], data, base, client.headers) in (200, 201, 204)
            t2 = time.perf_counter()
            status, confirmed = client.call("POST", f"/evidence/{evidence_id}/confirm")
            confirm_ms.append((time.perf_counter() - t2) * 1000)
            target_s, put_s = target_s + t1 - t, put_s + t2 - t1
            assert status == 200 and confirmed["status"] == "verified", confirmed
        return {"total_s": time.perf_counter() - began, "confirm_ms": confirm_ms, "register_s": registered - began,
                "target_s": target_s, "put_s": put_s}
    finally:
        client.close()


def raw_puts(endpoint: str, blobs: list[bytes]) -> float:
    """The baseline: boto3 put_object of the same bytes, one after another."""
    import boto3
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-2")
    prefix = uuid.uuid4()
    began = time.perf_counter()
    for n, data in enumerate(blobs):
        s3.put_object(Bucket=BUCKET, Key=f"raw/{prefix}/{n}", Body=data, ContentType="image/jpeg")
    elapsed = time.perf_counter() - began
    s3.close()
    return elapsed


def workers_rss_kb(master_pid: int) -> int:
    """Resident memory of gunicorn's worker processes (children of the master), in kB."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(master_pid):
            total += int(fields.get("VmRSS", "0 kB").split()[0])
    return total


def audit_for_bench(url: str) -> dict:
    from sqlalchemy import select

    from auditapp.db import bind, session_scope
    from auditapp.models import User
    from auditapp.services.access import items_of
    from auditapp.services.audits import audit_id_for
    from auditapp.services.templates import latest_version
    from tests import world
    binding = bind(url)
    try:
        with session_scope(binding) as session:
            visit = world.visit_assigned_to(session, "auditor")
            assert session.scalar(select(User.email).where(User.email == AUDITOR))
            version = latest_version(session, "safeguarding")
            keys = [k for k, item in items_of(version.content).items() if item.get("answer", "rating") == "rating"]
            return {"audit_id": str(audit_id_for(visit.id, "safeguarding")), "visit_id": visit.id,
                    "template_version_id": version.id, "item_keys": keys}
    finally:
        binding.engine.dispose()


def serve(url: str, endpoint: str, workdir: Path):
    port = bench.free_port()
    env = {**os.environ, "AUDITAPP_DATABASE_URL": url, "AUDITAPP_SECRET_KEY": secrets.token_hex(32),
           "AUDITAPP_SESSION_COOKIE_SECURE": "false", "AUDITAPP_EVIDENCE_STORE": "s3", "AUDITAPP_S3_BUCKET": BUCKET,
           "AUDITAPP_S3_ENDPOINT_URL": endpoint, "AUDITAPP_INSTANCE_DIR": str(workdir)}
    with open(workdir / "gunicorn-evidence.log", "wb") as log:
        proc = subprocess.Popen([str(bench.GUNICORN), "-w", str(bench.WORKERS), "-k", "sync", "-b",
                                 f"127.0.0.1:{port}", "--chdir", str(ROOT), "wsgi:app"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while bench.http_status(base + "/sign-in") != 200:
        if time.monotonic() > deadline or proc.poll() is not None:
            bench.stop(proc)
            raise RuntimeError((workdir / "gunicorn-evidence.log").read_text(errors="replace")[-3000:])
        time.sleep(0.1)
    return proc, base


def run(url: str, endpoint: str) -> dict:
    import boto3
    bench.prepare_database(url)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-2")
    try:
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass  # a second run against the same endpoint
    s3.close()
    audit = audit_for_bench(url)
    big = [jpeg_bytes(FILE_BYTES) for _ in range(FILES)]
    small = [jpeg_bytes(SMALL_BYTES) for _ in range(SMALL_FILES)]
    with tempfile.TemporaryDirectory(prefix="auditapp-evidence-bench.") as tmp:
        proc, base = serve(url, endpoint, Path(tmp))
        try:
            cookie = bench.signed_in_cookie(base, AUDITOR)
            app_flow(base, cookie, audit, small[:5])  # warm both workers' imports and S3 clients
            rss_before = workers_rss_kb(proc.pid)
            raw_first = raw_puts(endpoint, big)
            flow = app_flow(base, cookie, audit, big)
            raw_second = raw_puts(endpoint, big)
            rss_after = workers_rss_kb(proc.pid)
            small_flow = app_flow(base, cookie, audit, small)
        finally:
            bench.stop(proc)
    raw = (raw_first + raw_second) / 2
    confirms = sorted(small_flow["confirm_ms"])
    big_confirms = sorted(flow["confirm_ms"])
    return {"files": FILES, "file_mb": FILE_BYTES / 2**20, "app_flow_s": flow["total_s"], "raw_put_s": raw,
            "raw_put_runs_s": [raw_first, raw_second], "flow_vs_raw": flow["total_s"] / raw,
            "workers_rss_growth_mb": (rss_after - rss_before) / 1024,
            "confirm_p50_ms": statistics.median(confirms), "confirm_p95_ms": confirms[int(0.95 * len(confirms)) - 1],
            "confirm_5mb_p50_ms": statistics.median(big_confirms),
            "confirm_5mb_p95_ms": big_confirms[int(0.95 * len(big_confirms)) - 1],
            "phases_s": {k: flow[k] for k in ("register_s", "target_s", "put_s")} | {"confirm_s": sum(big_confirms) / 1000}}


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], sys.argv[2])))
