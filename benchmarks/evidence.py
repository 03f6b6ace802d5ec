"""Evidence upload through the app's flow against raw boto3 `put_object`, same run, same S3 endpoint.

The app's flow is what a tablet does (sync/PROTOCOL.md, "Evidence"; evidence-uploader.js): one push
registering the files, then per file POST upload-target -> PUT the bytes to the presigned URL -> POST
confirm, where the server checks size, SHA-256 and type. Since issue 14 confirm first copies the upload
inside the store to its final key (HEAD of the upload for its write time, CopyObject), checks the copy,
then deletes the upload: three more requests than the one GET it used to make, and the store copies
the bytes once (on moto, sequentially on an idle endpoint: 5 MB ~ +120 ms, 200 KB ~ +40 ms). One PUT at a time, as on the tablet, while
the previous file's confirm and the next file's upload target run beside it. The baseline puts the
same bytes with boto3, one by one.
Also measured: the gunicorn workers' memory before and after (in S3 mode no evidence bytes may pass
through Flask), and the latency of each confirm on its own (100 x 200 KB, one request at a time).

Two app servers run, one per way confirm can check a file. Each runs ROUNDS rounds, each round's flow
against the mean of the raw puts measured just before and after it; the median round is reported:
- "verify" (the top-level figures): what the app does against this endpoint, as against any S3
  endpoint but AWS (S3_TRUST_CHECKSUMS off). Confirm streams every final copy back and hashes it.
- "trusted": S3_TRUST_CHECKSUMS on, the AWS path. Confirm takes the SHA-256 the store computed for
  the copy (CopyObject with ChecksumAlgorithm, then HEAD) and reads 16 bytes. AWS checks that SHA-256 against the bytes on the PUT; moto only records what
  the PUT claims, so this row shows the app's side of the AWS path, not what AWS would cost: moto
  answers a 16-byte ranged GET by reading the whole object and slicing it (moto/s3/responses.py,
  _handle_range_header over key.value), so here each confirm reads 5 MB inside moto twice over.
The device's SHA-256s are computed before the clock starts: a tablet hashes each file when it is
captured, offline, not while uploading (that time is reported apart, as device_hash_s).

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import run as bench

FILES, FILE_BYTES, SMALL_FILES, SMALL_BYTES = 100, 5 * 1024 * 1024, 100, 200 * 1024
ROUNDS = 3  # per mode; the median round is reported (these machines are shared and noisy)
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


class Uploader:
    """PUTs to upload targets over one keep-alive connection per host, as a browser (and boto3) does."""

    def __init__(self, base: str, cookie_headers: dict) -> None:
        self.base, self.cookie_headers, self.conns = base, cookie_headers, {}

    def put(self, url: str, headers: dict, data: bytes) -> int:
        """PUT `data` to an absolute presigned URL (S3) or an app path (local)."""
        target = urllib.parse.urlsplit(url if "://" in url else self.base + url)
        conn = self.conns.get(target.netloc)
        if conn is None:
            conn = self.conns[target.netloc] = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        path = target.path + (f"?{target.query}" if target.query else "")
        extra = self.cookie_headers if "://" not in url else {}
        conn.request("PUT", path, body=data, headers={**headers, **extra, "Content-Length": str(len(data))})
        response = conn.getresponse()
        response.read()
        return response.status

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()


def app_flow(base: str, cookie: str, audit: dict, blobs: list[bytes], pipelined: bool = True) -> dict:
    """Register every file in one push, then upload-target, PUT and confirm each, as evidence-uploader.js does.

    Pipelined (the tablet's way): one PUT at a time, while the previous file is confirmed and the next
    file's target fetched, each on its own connection. Not pipelined: one request after another, which
    times each confirm on its own (the confirm latency figure).
    """
    client, confirmer = Client(base, cookie), Client(base, cookie)
    uploader = Uploader(base, client.headers)
    from sync.client import mutation, start, uuid7
    try:
        status, body = client.call("POST", "/sync/push", {"device_id": str(uuid7()), "mutations": [
            start(audit["audit_id"], audit["visit_id"], "safeguarding", audit["template_version_id"])]})
        assert status == 200 and body["results"][0]["status"] in ("applied", "duplicate"), body
        hashing = time.perf_counter()
        ids, registrations = [], []
        for n, data in enumerate(blobs):  # done at capture time on a tablet, so outside the clock
            evidence_id = str(uuid7())
            ids.append(evidence_id)
            registrations.append(mutation("evidence.register", evidence_id, {
                "audit_id": audit["audit_id"], "item_key": audit["item_keys"][n % len(audit["item_keys"])],
                "media_type": "image/jpeg", "size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                "filename": f"photo-{n}.jpg"}))
        began = time.perf_counter()
        status, body = client.call("POST", "/sync/push", {"device_id": str(uuid7()), "mutations": registrations})
        assert status == 200 and all(r["status"] == "applied" for r in body["results"]), body
        registered = time.perf_counter()
        phases = (_pipelined if pipelined else _one_by_one)(client, confirmer, uploader, ids, blobs)
        return {"total_s": time.perf_counter() - began, **phases,
                "register_s": registered - began, "device_hash_s": began - hashing, "pipelined": pipelined}
    finally:
        uploader.close()
        client.close()
        confirmer.close()


def _timed_call(client: Client, path: str) -> tuple[int, dict, float]:
    began = time.perf_counter()
    status, body = client.call("POST", path)
    return status, body, time.perf_counter() - began


def _one_by_one(client: Client, confirmer: Client, uploader: Uploader, ids: list[str], blobs: list[bytes]) -> dict:
    confirm_ms, target_s, put_s = [], 0.0, 0.0
    for evidence_id, data in zip(ids, blobs):
        status, target, took = _timed_call(client, f"/evidence/{evidence_id}/upload-target")
        assert status == 200, target
        put_began = time.perf_counter()
        assert uploader.put(target["url"], target["headers"], data) in (200, 201, 204)
        put_s, target_s = put_s + time.perf_counter() - put_began, target_s + took
        status, confirmed, took = _timed_call(confirmer, f"/evidence/{evidence_id}/confirm")
        assert status == 200 and confirmed["status"] == "verified", confirmed
        confirm_ms.append(took * 1000)
    return {"confirm_ms": confirm_ms, "target_s": target_s, "put_s": put_s}


def _pipelined(client: Client, confirmer: Client, uploader: Uploader, ids: list[str], blobs: list[bytes]) -> dict:
    """PUT n while confirm n-1 and target n+1 run beside it (one thread and connection each)."""
    confirm_ms, target_s, put_s = [], 0.0, 0.0

    def verified(future) -> None:
        status, confirmed, took = future.result()
        assert status == 200 and confirmed["status"] == "verified", confirmed
        confirm_ms.append(took * 1000)

    with ThreadPoolExecutor(1) as targets, ThreadPoolExecutor(1) as confirms:
        upcoming = targets.submit(_timed_call, client, f"/evidence/{ids[0]}/upload-target")
        confirming = None
        for n, (evidence_id, data) in enumerate(zip(ids, blobs)):
            status, target, took = upcoming.result()
            assert status == 200, target
            target_s += took
            if n + 1 < len(ids):
                upcoming = targets.submit(_timed_call, client, f"/evidence/{ids[n + 1]}/upload-target")
            put_began = time.perf_counter()
            assert uploader.put(target["url"], target["headers"], data) in (200, 201, 204)
            put_s += time.perf_counter() - put_began
            if confirming is not None:
                verified(confirming)
            confirming = confirms.submit(_timed_call, confirmer, f"/evidence/{evidence_id}/confirm")
        verified(confirming)
    return {"confirm_ms": confirm_ms, "target_s": target_s, "put_s": put_s}


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
    empty_bucket(endpoint)
    return elapsed


def empty_bucket(endpoint: str) -> None:
    import boto3
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-2")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=BUCKET, Delete={"Objects": keys, "Quiet": True})
    s3.close()


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


def serve(url: str, endpoint: str, workdir: Path, trust_checksums: bool):
    port = bench.free_port()
    env = {**os.environ, "AUDITAPP_DATABASE_URL": url, "AUDITAPP_SECRET_KEY": secrets.token_hex(32),
           "AUDITAPP_SESSION_COOKIE_SECURE": "false", "AUDITAPP_EVIDENCE_STORE": "s3", "AUDITAPP_S3_BUCKET": BUCKET,
           "AUDITAPP_S3_ENDPOINT_URL": endpoint, "AUDITAPP_INSTANCE_DIR": str(workdir),
           "AUDITAPP_S3_TRUST_CHECKSUMS": "true" if trust_checksums else "false"}
    workdir.mkdir(exist_ok=True)
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


def mode_figures(flows: list[dict], small_flow: dict, raw_runs: list[list[float]], rss_growth_kb: int) -> dict:
    """One mode's figures: each round's flow against the mean of the raw runs around it; the median round."""
    ratios = [flow["total_s"] / statistics.mean(raws) for flow, raws in zip(flows, raw_runs)]
    middle = sorted(range(len(ratios)), key=ratios.__getitem__)[len(ratios) // 2]
    flow, raw = flows[middle], statistics.mean(raw_runs[middle])
    confirms, big_confirms = sorted(small_flow["confirm_ms"]), sorted(flow["confirm_ms"])
    return {"app_flow_s": flow["total_s"], "raw_put_s": raw, "raw_put_runs_s": raw_runs, "rounds_flow_vs_raw": ratios,
            "flow_vs_raw": ratios[middle], "workers_rss_growth_mb": rss_growth_kb / 1024,
            "confirm_p50_ms": statistics.median(confirms), "confirm_p95_ms": confirms[int(0.95 * len(confirms)) - 1],
            "confirm_5mb_p50_ms": statistics.median(big_confirms),
            "confirm_5mb_p95_ms": big_confirms[int(0.95 * len(big_confirms)) - 1],
            "phases_s": {k: flow[k] for k in ("register_s", "target_s", "put_s")} | {"confirm_s": sum(big_confirms) / 1000},
            "device_hash_s": flow["device_hash_s"]}


def breakdown(name: str, figures: dict) -> str:
    phases = figures["phases_s"]
    return (f"evidence {name}: flow {figures['app_flow_s']:.2f} s = register {phases['register_s']:.2f} + PUTs "
            f"{phases['put_s']:.2f} one at a time, with upload targets ({phases['target_s']:.2f}) and confirms "
            f"({phases['confirm_s']:.2f}) running beside them; raw put_object {figures['raw_put_s']:.2f} s -> "
            f"{figures['flow_vs_raw']:.2f}x (median of rounds: {', '.join(f'{r:.2f}' for r in figures['rounds_flow_vs_raw'])}); 200 KB confirm alone p50/p95 {figures['confirm_p50_ms']:.1f}/"
            f"{figures['confirm_p95_ms']:.1f} ms; workers +{figures['workers_rss_growth_mb']:.1f} MB")


def measure_mode(proc, base: str, cookie: str, endpoint: str, audit: dict, big: list[bytes], small: list[bytes]) -> dict:
    """ROUNDS of raw puts and app flow in turn (raw, flow, raw, flow, raw), emptying the bucket between runs
    so moto's memory stays flat; memory growth is over all rounds."""
    raws, flows = [raw_puts(endpoint, big)], []
    rss_before = workers_rss_kb(proc.pid)
    for _ in range(ROUNDS):
        flows.append(app_flow(base, cookie, audit, big))
        empty_bucket(endpoint)
        raws.append(raw_puts(endpoint, big))
    rss_growth = workers_rss_kb(proc.pid) - rss_before
    small_flow = app_flow(base, cookie, audit, small, pipelined=False)
    empty_bucket(endpoint)
    return mode_figures(flows, small_flow, [raws[n:n + 2] for n in range(ROUNDS)], rss_growth)


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
    servers = []
    with tempfile.TemporaryDirectory(prefix="auditapp-evidence-bench.") as tmp:
        try:
            for trust in (True, False):
                servers.append(serve(url, endpoint, Path(tmp) / ("trusted" if trust else "verify"), trust))
            cookies = [bench.signed_in_cookie(base, AUDITOR) for _, base in servers]
            for (_, base), cookie in zip(servers, cookies):
                app_flow(base, cookie, audit, small[:5])  # warm both workers' imports and S3 clients
            modes = [measure_mode(proc, base, cookie, endpoint, audit, big, small) for (proc, base), cookie in zip(servers, cookies)]
        finally:
            for proc, _ in servers:
                bench.stop(proc)
    trusted, verify = modes
    print(breakdown("verify by reading back (this endpoint's mode, default off AWS)", verify), file=sys.stderr, flush=True)
    print(breakdown("trusted checksums (AWS path)", trusted), file=sys.stderr, flush=True)
    return {"files": FILES, "file_mb": FILE_BYTES / 2**20, "mode": "verify by reading back (default off AWS)", **verify,
            "trusted_mode": trusted}


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], sys.argv[2])))
