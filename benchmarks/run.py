"""`make bench`: auditapp pages and sign-in under load, as ratios to a bare Flask hello-world
measured in the same run on the same gunicorn settings (these machines are shared and noisy).

Run by .ci/bench.sh, which starts a throwaway PostgreSQL and exports DATABASE_URL. Phases, one
server at a time, loopback only:
  1. hello-world (benchmarks/hello.py)                      GET /          baseline, first
  2. auditapp (wsgi:app) on PostgreSQL                      GET /sign-in   anonymous page
                                                            GET /          school user's home (directory count)
                                                            GET /          maintainer's home (directory queue)
                                                            POST /sign-in  one user, correct password
                                                            POST /sign-in  the ten demo users in turn
  3. hello-world again                                      GET /          baseline, last (shows the noise)
Ratios are req/s divided by the mean of the two hello-world runs. Then the in-process and S3 phases, and
last the load-and-fault run (benchmarks/faults.py): lost or doubled acknowledged mutations fail the run.
Prints a Markdown table and writes benchmarks/results/latest.json. Exits 1 when a phase saw an
unexpected status or socket errors (its numbers would not measure what the row says).
"""
from __future__ import annotations

import html
import http.cookiejar
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"

WORKERS = 2
WRK_THREADS, WRK_CONNECTIONS, WRK_DURATION = 2, 20, "8s"
# --timeout 30s: wrk's default (2 s) counts slower answers as socket timeouts and leaves them out of the
# latency figures; sign-in under 20 connections queues for longer than that, and that queueing is the result.
WRK_ARGS = ["-t", str(WRK_THREADS), "-c", str(WRK_CONNECTIONS), "-d", WRK_DURATION, "--timeout", "30s", "--latency"]
USER_AGENT = "auditapp-bench"  # the same for urllib and wrk: Flask-Login's session protection hashes it
PASSWORD = "bench-password-not-secret-1"  # demo users in a throwaway database only
SCHOOL_USER = "staff@beaumontleys.example.org"
MAINTAINER = "maintainer@city.example.org"
COOKIE = "auditapp_session"
SCHOOL_SEARCH = "/directory/?district=Leicester+City&specialism=semh&key_stage=KS3"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- database -------------------------------------------------------------------------------

def prepare_database(url: str) -> list[str]:
    """Migrate and seed the demo world with PASSWORD for every demo user; return their emails."""
    from auditapp.db import bind, session_scope
    from auditapp.migrate import upgrade
    from auditapp.services import demo

    upgrade(url)
    binding = bind(url)
    try:
        with session_scope(binding) as session:
            demo.seed_demo(session, {row[0]: PASSWORD for row in demo.DEMO_USERS}, reset_passwords=True)
    finally:
        binding.engine.dispose()
    return [row[0] for row in demo.DEMO_USERS]


# --- gunicorn -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


@contextmanager
def gunicorn(app: str, env: dict[str, str], ready_path: str, workdir: Path) -> Iterator[str]:
    """Serve `app` with `-w 2` sync workers on a free loopback port; yield the base URL.

    Ready when `ready_path` answers 200; stopped by SIGTERM to the master, waiting for it to exit.
    The free-port pick can race (released before gunicorn binds it), so the start is tried twice.
    """
    for attempt in (1, 2):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        logfile = workdir / f"gunicorn-{app.replace(':', '_')}-{port}.log"
        with open(logfile, "wb") as out:
            proc = subprocess.Popen(
                [str(GUNICORN), "-w", str(WORKERS), "-k", "sync", "-b", f"127.0.0.1:{port}",
                 "--chdir", str(ROOT), "--graceful-timeout", "10", app],
                cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and proc.poll() is None:
                if http_status(base + ready_path) == 200:
                    break
                time.sleep(0.1)
            else:
                tail = logfile.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"gunicorn {app} did not become ready on port {port} "
                                   f"(exit code {proc.poll()}):\n{tail}")
            log(f"gunicorn {app} ready at {base} (pid {proc.pid})")
        except RuntimeError as exc:
            stop(proc)
            if attempt == 2:
                raise
            log(f"{exc}\nretrying on another port")
            continue
        try:
            yield base
        finally:
            stop(proc)
            log(f"gunicorn {app} stopped (pid {proc.pid})")
        return


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# --- signing in with urllib -----------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # urllib then raises HTTPError(302), which we read


def _opener(jar: http.cookiejar.CookieJar) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    opener.addheaders = [("User-Agent", USER_AGENT)]
    return opener


def _open(opener, url: str, data: bytes | None = None) -> tuple[int, str]:
    try:
        with opener.open(url, data=data, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _cookie(jar: http.cookiejar.CookieJar) -> str:
    for cookie in jar:
        if cookie.name == COOKIE:
            return cookie.value
    raise RuntimeError(f"no {COOKIE} cookie was set")


def pre_login_pair(base: str) -> tuple[str, str]:
    """GET /sign-in: the anonymous session cookie and the CSRF token bound to it."""
    jar = http.cookiejar.CookieJar()
    status, body = _open(_opener(jar), base + "/sign-in")
    match = re.search(r'name="csrf_token" value="([^"]+)"', body)
    if status != 200 or not match:
        raise RuntimeError(f"GET /sign-in answered {status} without a csrf_token field")
    return _cookie(jar), html.unescape(match.group(1))


def login_body(email: str, csrf_token: str) -> str:
    return urllib.parse.urlencode({"email": email, "password": PASSWORD, "csrf_token": csrf_token})


def signed_in_cookie(base: str, email: str) -> str:
    """Sign in as `email` and return the session cookie value; check it opens the home page."""
    jar = http.cookiejar.CookieJar()
    opener = _opener(jar)
    status, body = _open(opener, base + "/sign-in")
    match = re.search(r'name="csrf_token" value="([^"]+)"', body)
    if status != 200 or not match:
        raise RuntimeError(f"GET /sign-in answered {status} without a csrf_token field")
    data = login_body(email, html.unescape(match.group(1))).encode()
    status, _ = _open(opener, base + "/sign-in", data)
    if status != 302:
        raise RuntimeError(f"signing in as {email} answered {status}, not 302")
    status, _ = _open(opener, base + "/")
    if status != 200:
        raise RuntimeError(f"GET / as {email} answered {status}, not 200")
    return _cookie(jar)


# --- wrk ------------------------------------------------------------------------------------

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()
    return float(number) * _UNIT_MS[unit]


def parse_wrk(output: str) -> dict:
    """Requests/sec, p50/p99 latency, request count, socket errors and the Lua status check."""
    def find(pattern: str) -> re.Match:
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            raise RuntimeError(f"wrk output has no match for {pattern!r}:\n{output}")
        return match

    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx_3xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    status = find(r"^BENCH_STATUS expected=(\d+) unexpected=(\d+) first=(\d+)")
    return {
        "req_per_s": float(find(r"^Requests/sec:\s+([\d.]+)").group(1)),
        "p50_ms": _ms(find(r"^\s+50%\s+(\S+)").group(1)),
        "p99_ms": _ms(find(r"^\s+99%\s+(\S+)").group(1)),
        "requests": int(find(r"^\s+(\d+) requests in").group(1)),
        "socket_errors": dict(zip(("connect", "read", "write", "timeout"),
                                  map(int, socket_errors.groups()))) if socket_errors else {},
        "non_2xx_3xx": int(non_2xx_3xx.group(1)) if non_2xx_3xx else 0,
        "expected_status": int(status.group(1)),
        "unexpected_status": int(status.group(2)),
        "first_unexpected_status": int(status.group(3)) or None,
    }


def wrk(name: str, url: str, *, script: str, script_args: list[str], drain_url: str,
        cookie: str | None = None) -> dict:
    command = ["wrk", *WRK_ARGS, "-H", f"User-Agent: {USER_AGENT}"]
    if cookie:
        command += ["-H", f"Cookie: {COOKIE}={cookie}"]
    command += ["-s", str(BENCH / script), url, "--", *script_args]
    log(f"{name}: wrk {' '.join(WRK_ARGS)} {url}")
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed (exit code {done.returncode}):\n{done.stdout}\n{done.stderr}")
    result = {"name": name, "url": url, **parse_wrk(done.stdout)}
    drain(drain_url)
    log(f"{name}: {result['req_per_s']:.0f} req/s, p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms"
        + (f", {result['unexpected_status']} unexpected statuses" if result["unexpected_status"] else ""))
    return result


def drain(url: str) -> None:
    """Wait until the requests wrk left queued when it stopped have been served (the sync workers
    still serve them after wrk closes its connections), so they do not slow down the next phase.
    `url` is a cheap public page; its answer comes after the queue ahead of it."""
    t = time.monotonic()
    status = http_status(url, timeout=60)
    if time.monotonic() - t > 0.5:
        log(f"waited {time.monotonic() - t:.1f} s for the queue left by wrk to drain (status {status})")


def warm_up(url: str, expected: int, cookie: str | None = None, data: str | None = None, times: int = 10) -> None:
    """A few requests first, so template compilation and pool connects stay out of the numbers;
    each must answer `expected`, exactly as wrk will send it (same headers, cookie and body)."""
    headers = {"User-Agent": USER_AGENT}
    if cookie:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    opener = urllib.request.build_opener(_NoRedirect())
    for _ in range(times):
        request = urllib.request.Request(url, data=data.encode() if data else None, headers=headers)
        status, _ = _open(opener, request)
        if status != expected:
            raise RuntimeError(f"warm-up {'POST' if data else 'GET'} {url} answered {status}, not {expected}")


# --- the run --------------------------------------------------------------------------------

def hello_phase(name: str, workdir: Path) -> dict:
    with gunicorn("benchmarks.hello:app", {}, "/", workdir) as base:
        warm_up(base + "/", 200)
        return wrk(name, base + "/", script="status.lua", script_args=["200"], drain_url=base + "/")


def app_env(database_url: str, workdir: Path) -> dict[str, str]:
    """The environment auditapp's gunicorn runs with in every phase."""
    return {
        "AUDITAPP_DATABASE_URL": database_url,
        "AUDITAPP_SECRET_KEY": secrets.token_hex(32),
        "AUDITAPP_SESSION_COOKIE_SECURE": "false",
        "AUDITAPP_INSTANCE_DIR": str(workdir / "instance"),
    }


def app_phases(database_url: str, emails: list[str], workdir: Path) -> list[dict]:
    env = app_env(database_url, workdir)
    results = []
    with gunicorn("wsgi:app", env, "/sign-in", workdir) as base:
        def measure(name: str, path: str, **kwargs) -> None:
            results.append(wrk(name, base + path, drain_url=base + "/healthz", **kwargs))

        warm_up(base + "/sign-in", 200)
        measure("GET /sign-in (anonymous)", "/sign-in", script="status.lua", script_args=["200"])

        school = signed_in_cookie(base, SCHOOL_USER)
        warm_up(base + "/", 200, cookie=school)
        measure("GET / (school user)", "/", script="status.lua", script_args=["200"], cookie=school)

        maintainer = signed_in_cookie(base, MAINTAINER)
        warm_up(base + "/", 200, cookie=maintainer)
        measure("GET / (maintainer)", "/", script="status.lua", script_args=["200"], cookie=maintainer)

        # The schools' search page with three filters (the directory phase measures it on 5,000 providers).
        warm_up(base + SCHOOL_SEARCH, 200, cookie=school)
        measure("GET /directory/?... (school search)", SCHOOL_SEARCH, script="status.lua", script_args=["200"],
                cookie=school)

        # One anonymous cookie + CSRF token pair for every sign-in; the correct password, so no lockout.
        cookie, token = pre_login_pair(base)
        one = login_body(SCHOOL_USER, token)
        warm_up(base + "/sign-in", 302, cookie=cookie, data=one, times=2)
        measure("POST /sign-in (one user)", "/sign-in", script="login.lua", script_args=[one], cookie=cookie)
        measure(f"POST /sign-in ({len(emails)} users in turn)", "/sign-in", script="login.lua",
                script_args=[login_body(email, token) for email in emails], cookie=cookie)
    return results


def report(rows: list[dict], hello: list[dict], started: float) -> dict:
    baseline = statistics.mean(h["req_per_s"] for h in hello)
    spread = (max(h["req_per_s"] for h in hello) - min(h["req_per_s"] for h in hello)) / baseline
    for row in rows:
        row["ratio"] = row["req_per_s"] / baseline
        row["ok"] = not row["unexpected_status"] and not any(row["socket_errors"].values())

    now = datetime.now(timezone.utc).astimezone()
    nproc = len(os.sched_getaffinity(0))
    lines = [
        "## auditapp benchmark: pages and sign-in under load, relative to Flask hello-world",
        "",
        f"- date: {now:%Y-%m-%d %H:%M:%S %Z}",
        f"- nproc: {nproc}",
        f"- wrk: `wrk {' '.join(WRK_ARGS)}` (loopback, one server at a time)",
        f"- gunicorn: `-w {WORKERS}` sync workers; auditapp on PostgreSQL 15 (throwaway, fsync off)",
        f"- hello-world baseline: {baseline:,.0f} req/s (mean of {len(hello)} runs, spread {spread:.1%})",
        "",
        "| endpoint | req/s | p50 ms | p99 ms | ratio to hello-world | unexpected statuses |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        bad = row["unexpected_status"]
        flag = f"**{bad}** (first: {row['first_unexpected_status']})" if bad else "0"
        rate = f"{row['req_per_s']:,.0f}" if row["req_per_s"] >= 100 else f"{row['req_per_s']:.1f}"
        ratio = f"{row['ratio']:.3f}" if row["ratio"] >= 0.1 else f"{row['ratio']:.2g}"
        lines.append(f"| {row['name']} | {rate} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {ratio} | {flag} |")
    problems = [row for row in rows if not row["ok"]]
    lines.append("")
    for row in problems:
        lines.append(f"WARNING: {row['name']}: {row['unexpected_status']} of {row['requests']} responses were not "
                     f"{row['expected_status']} (first: {row['first_unexpected_status']}); socket errors "
                     f"{row['socket_errors']}. This row does not measure what it says.")
    lines.append(f"Total wall time: {time.monotonic() - started:.0f} s")
    print("\n".join(lines), flush=True)

    return {
        "date": now.isoformat(timespec="seconds"),
        "nproc": nproc,
        "wrk": f"wrk {' '.join(WRK_ARGS)}",
        "gunicorn_workers": WORKERS,
        "git_commit": _git_commit(),
        "hello_world_req_per_s_mean": baseline,
        "hello_world_spread": spread,
        "wall_time_s": round(time.monotonic() - started, 1),
        "ok": not problems,
        "results": rows,
    }


def ingest_phase(database_url: str) -> dict:
    """Push ingest of 10,000 mutations against a raw executemany of the same rows, same run."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from benchmarks import ingest

    admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS ingest_bench WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE ingest_bench"))
    admin.dispose()
    figures = ingest.run(make_url(database_url).set(database="ingest_bench").render_as_string(hide_password=False))
    print("\n".join([
        "",
        f"## sync push ingest on PostgreSQL (median of {figures['runs']} rounds; 125 audits x 80 answers)",
        "",
        "Ratios are taken within each round (baseline and push back to back) and the median is shown,",
        "with the lowest and highest round in parentheses.",
        "",
        "| measure | value | target |",
        "|---|---:|---:|",
        f"| mutations per push | {figures['mutations']:,} | 10,000 |",
        f"| push apply + commit | {figures['push_s'] * 1000:,.0f} ms | |",
        f"| mutations/s | {figures['push_per_s']:,.0f} | >= 8,000 |",
        f"| raw executemany of the same rows (5 columns, unlogged temp table) | {figures['raw_executemany_s'] * 1000:,.0f} ms | baseline |",
        f"| push time / raw executemany time | {figures['push_vs_raw']:.2f}x ({_span(figures['push_vs_raw_spread'], 'x')}) | <= 3x |",
        f"| executemany of full answer rows (table like answers) | {figures['full_rows_executemany_s'] * 1000:,.0f} ms | second baseline |",
        f"| push time / full-row executemany time | {figures['push_vs_full_rows']:.2f}x ({_span(figures['push_vs_full_rows_spread'], 'x')}) | <= 3x |",
        f"| replay of the same push | {figures['replay_s'] * 1000:,.0f} ms ({figures['replay_vs_push']:.1%} of the first; {_span(figures['replay_vs_push_spread'], '%')}) | <= 20% |",
    ]), flush=True)
    return figures


def _span(values: list[float], unit: str) -> str:
    """The lowest and highest per-round ratio, e.g. "1.8-2.4x" or "11.2-14.9%"."""
    if unit == "%":
        return f"{values[0] * 100:.1f}-{values[1] * 100:.1f}%"
    return f"{values[0]:.2f}-{values[1]:.2f}x"


def evidence_phase(database_url: str) -> dict | None:
    """100 x 5 MB through the app's evidence flow against raw boto3 puts, same run (benchmarks/evidence.py)."""
    endpoint = os.environ.get("TEST_S3_ENDPOINT_URL")
    if not endpoint:
        log("TEST_S3_ENDPOINT_URL is not set: the evidence phase needs `make bench` (.ci/bench.sh starts moto)")
        return None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from benchmarks import evidence
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS evidence_bench WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE evidence_bench"))
    admin.dispose()
    figures = evidence.run(make_url(database_url).set(database="evidence_bench").render_as_string(hide_password=False),
                           endpoint)
    verify, trusted = figures, figures["trusted_mode"]
    print("\n".join([
        "",
        f"## evidence upload to the S3 endpoint ({figures['files']} x {figures['file_mb']:.0f} MB, same run, median of "
        f"{len(figures['rounds_flow_vs_raw'])} rounds)",
        "",
        "Two app servers: one reads every object back to hash it (the default off AWS, the app's mode for",
        "this endpoint, and the only one that checks anything on moto), one trusts the store's SHA-256 (the",
        "AWS default; moto records the claimed checksum without checking it, and reads a whole object to",
        "answer a 16-byte ranged GET, so that column is the app's side of the AWS path, not AWS's cost).",
        "Both upload one file at a time, confirming the last file and fetching the next target meanwhile.",
        "",
        "| measure | read back (default) | trusted checksum (AWS) | target |",
        "|---|---:|---:|---:|",
        f"| app flow: register, upload target, PUT, confirm | {verify['app_flow_s']:.2f} s | {trusted['app_flow_s']:.2f} s | |",
        f"| raw boto3 put_object of the same bytes | {verify['raw_put_s']:.2f} s | {trusted['raw_put_s']:.2f} s | baseline |",
        f"| app flow / raw | {verify['flow_vs_raw']:.2f}x | {trusted['flow_vs_raw']:.2f}x | <= 1.2x |",
        f"| gunicorn workers' memory growth | {verify['workers_rss_growth_mb']:.1f} MB | {trusted['workers_rss_growth_mb']:.1f} MB | < 50 MB |",
        (f"| confirm of one 200 KB photo, p50 / p95 | {verify['confirm_p50_ms']:.1f} / {verify['confirm_p95_ms']:.1f} ms "
         f"| {trusted['confirm_p50_ms']:.1f} / {trusted['confirm_p95_ms']:.1f} ms | p95 < 30 ms |"),
        (f"| confirm of one 5 MB file beside the next PUT, p50 / p95 | {verify['confirm_5mb_p50_ms']:.1f} / {verify['confirm_5mb_p95_ms']:.1f} ms "
         f"| {trusted['confirm_5mb_p50_ms']:.1f} / {trusted['confirm_5mb_p95_ms']:.1f} ms | |"),
    ]), flush=True)
    return figures


def reports_phase(database_url: str, workdir: Path) -> dict:
    """A 120-item audit's report: the PDF in process, the HTML page through gunicorn (benchmarks/reports.py)."""
    from auditapp import create_app
    from auditapp.db import db as app_db
    from benchmarks import reports as report_bench

    audit_id, snapshot = report_bench.seed(database_url)
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": secrets.token_hex(32),
                      "INSTANCE_DIR": str(workdir / "instance")})
    try:
        figures = {"items": sum(len(s["items"]) for s in snapshot["sections"]), "pdf": report_bench.time_pdf(app, snapshot)}
    finally:
        app_db.binding(app).engine.dispose()
    with gunicorn("wsgi:app", app_env(database_url, workdir), "/sign-in", workdir) as base:
        cookie = signed_in_cookie(base, MAINTAINER)
        url = f"{base}/audits/{audit_id}/report"
        figures["page"] = report_bench.time_page(url, f"{COOKIE}={cookie}", USER_AGENT)
        figures["page_under_load"] = wrk(f"GET /audits/<id>/report (maintainer, {figures['items']} items)", url,
                                         script="status.lua", script_args=["200"], drain_url=base + "/healthz",
                                         cookie=cookie)
    pdf, page, load = figures["pdf"], figures["page"], figures["page_under_load"]
    figures["ok"] = not load["unexpected_status"] and not any(load["socket_errors"].values())
    print("\n".join([
        "",
        f"## audit report of {figures['items']} items ({pdf['pages']} PDF pages, {pdf['pdf_bytes'] / 1024:,.0f} KB)",
        "",
        "| measure | value | target |",
        "|---|---:|---:|",
        (f"| PDF render, in process (template + WeasyPrint), median of {pdf['runs']} | {pdf['median_s']:.2f} s "
         f"(CPU {pdf['median_cpu_s']:.2f} s) | < {report_bench.PDF_TARGET_S:.0f} s |"),
        f"| PDF render, slowest of {pdf['runs']} | {pdf['max_s']:.2f} s | |",
        f"| HTML report page, one client, {page['requests']} requests: p50 | {page['p50_ms']:.1f} ms | |",
        f"| HTML report page, one client: p95 | {page['p95_ms']:.1f} ms | < {report_bench.PAGE_P95_TARGET_MS:.0f} ms |",
        (f"| HTML report page under wrk ({WRK_CONNECTIONS} connections): req/s, p50, p99 | {load['req_per_s']:,.0f}, "
         f"{load['p50_ms']:.0f} ms, {load['p99_ms']:.0f} ms | |"),
    ]), flush=True)
    return figures


def directory_phase(database_url: str) -> dict:
    """5,000 providers / 60,000 audits: the roll-up in process, the schools' search page through
    gunicorn (benchmarks/directory.py). The page's req/s is a ratio to hello-world measured just
    before and after it (benchmarks.directory.search_under_load)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from benchmarks import directory as directory_bench

    admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS directory_bench WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE directory_bench"))
    admin.dispose()
    url = make_url(database_url).set(database="directory_bench").render_as_string(hide_password=False)
    prepare_database(url)
    started = time.monotonic()
    counts = directory_bench.generate(url)
    log(f"directory generated in {time.monotonic() - started:.0f} s: {counts}")
    figures = {"counts": counts, "rollup": directory_bench.time_rollup(url, counts["first_id"])}
    roll = figures["rollup"]
    figures["rollup_ok"] = (roll["steady_s"] < directory_bench.ROLLUP_TARGET_S
                            and roll["one_p95_ms"] < directory_bench.ONE_PROVIDER_TARGET_MS)
    if not figures["rollup_ok"]:
        figures["rollup_profile"] = directory_bench.profile_rollup(url)
        log("the roll-up missed its target; profile of one steady-state run:\n" + figures["rollup_profile"])
    pages = []
    with tempfile.TemporaryDirectory(prefix="auditapp-bench-directory.") as tmp:
        workdir = Path(tmp)
        env = {"AUDITAPP_DATABASE_URL": url, "AUDITAPP_SECRET_KEY": secrets.token_hex(32),
               "AUDITAPP_SESSION_COOKIE_SECURE": "false", "AUDITAPP_INSTANCE_DIR": str(workdir / "instance")}
        with gunicorn("wsgi:app", env, "/sign-in", workdir) as base, \
                gunicorn("benchmarks.hello:app", {}, "/", workdir) as hello_base:
            school = signed_in_cookie(base, SCHOOL_USER)
            for path in directory_bench.SEARCHES:
                warm_up(base + path, 200, cookie=school)
                pages.append({"path": path, **directory_bench.time_page(base + path, f"{COOKIE}={school}", USER_AGENT)})
            load = directory_bench.search_under_load(base, hello_base, school)
    figures.update(pages=pages, page_under_load=load)
    figures["ok"] = (not load["unexpected_status"] and not any(load["socket_errors"].values()))
    p95 = max(p["p95_ms"] for p in pages)
    lines = [
        "",
        f"## directory: {counts['providers']:,} providers, {counts['audits']:,} finalised audits, "
        f"{counts['answers']:,} answers, {counts['actions']:,} actions",
        "",
        "| measure | value | target |",
        "|---|---:|---:|",
        (f"| full roll-up, first run ({roll['first_changes']:,} status changes written, with history, audit log, "
         f"notifications) | {roll['first_s']:.2f} s | |"),
        (f"| full roll-up, steady state (nothing changed: the nightly cron) | {roll['steady_s']:.2f} s, again "
         f"{roll['steady_again_s']:.2f} s | < {directory_bench.ROLLUP_TARGET_S:.0f} s |"),
        (f"| one provider's recompute (per finalise), {roll['samples']} providers: p50 / p95 / max | "
         f"{roll['one_p50_ms']:.1f} / {roll['one_p95_ms']:.1f} / {roll['one_max_ms']:.1f} ms | "
         f"p95 < {directory_bench.ONE_PROVIDER_TARGET_MS:.0f} ms |"),
    ]
    for page in pages:
        lines.append(f"| school search `{page['path']}`, one client, {page['requests']} requests: p50 / p95 | "
                     f"{page['p50_ms']:.1f} / {page['p95_ms']:.1f} ms | p95 < {directory_bench.SEARCH_P95_TARGET_MS:.0f} ms |")
    lines.append(f"| school search under wrk ({WRK_CONNECTIONS} connections), median of {len(load['rounds'])} rounds: "
                 f"req/s, ratio to the hello-world runs beside it, p50, p99 | {load['req_per_s']:,.0f}, "
                 f"{load['ratio']:.3f} (rounds {', '.join(f'{r:.3f}' for r in load['rounds'])}), "
                 f"{load['p50_ms']:.0f} ms, {load['p99_ms']:.0f} ms | ratio >= 0.40 |")
    lines.append(f"Targets met: roll-up {'yes' if figures['rollup_ok'] else 'NO'}; search p95 "
                 f"{'yes' if p95 < directory_bench.SEARCH_P95_TARGET_MS else 'NO'}; search ratio "
                 f"{'yes' if load['ratio'] >= 0.40 else 'NO'}")
    print("\n".join(lines), flush=True)
    return figures


def placements_phase(database_url: str) -> dict:
    """The LA dashboard over 20,000 placements: server time per computation (benchmarks/placements.py)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from benchmarks import placements
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS placements_bench WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE placements_bench"))
    admin.dispose()
    figures = placements.run(make_url(database_url).set(database="placements_bench").render_as_string(hide_password=False))
    print("\n".join([
        "",
        f"## LA dashboard over {figures['placements']:,} placements ({figures['runs']} runs each, in process)",
        "",
        "| measure | p50 | p95 | target |",
        "|---|---:|---:|---:|",
        f"| last 12 months, all filters off | {figures['all_p50_ms']:.0f} ms | {figures['all_p95_ms']:.0f} ms | p95 < 200 ms |",
        f"| last 12 months, one district | {figures['district_p50_ms']:.0f} ms | {figures['district_p95_ms']:.0f} ms | |",
    ]), flush=True)
    return figures


def faults_phase(database_url: str) -> dict:
    """Tablets syncing through a worker kill, a PostgreSQL crash and a frozen S3 store (benchmarks/faults.py).

    On servers of its own (its PostgreSQL is crashed), starting from a copy of this run's demo world."""
    from benchmarks import faults
    figures = faults.run(database_url)
    faults.print_table(figures)
    return figures


def _git_commit() -> str | None:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or None


def main() -> int:
    started = time.monotonic()
    # SIGTERM/SIGHUP raise SystemExit, so the `finally` blocks stop gunicorn on the way out.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        log("DATABASE_URL is not set: run this through `make bench` (.ci/bench.sh starts PostgreSQL)")
        return 2
    sys.path.insert(0, str(ROOT))
    emails = prepare_database(database_url)
    log(f"database migrated and seeded ({len(emails)} demo users)")

    with tempfile.TemporaryDirectory(prefix="auditapp-bench.") as tmp:
        workdir = Path(tmp)
        hello = [hello_phase("GET / hello-world (first)", workdir)]
        rows = app_phases(database_url, emails, workdir)
        hello.append(hello_phase("GET / hello-world (last)", workdir))
        summary = report([hello[0], *rows, hello[1]], hello, started)
        summary["reports"] = report_figures = reports_phase(database_url, workdir)
        summary["ok"] = summary["ok"] and report_figures["ok"]

    summary["ingest"] = ingest_phase(database_url)
    summary["evidence"] = evidence_phase(database_url)
    summary["placements"] = placements_phase(database_url)
    summary["directory"] = directory_figures = directory_phase(database_url)
    summary["ok"] = summary["ok"] and directory_figures["ok"]
    summary["faults"] = faults_figures = faults_phase(database_url)
    summary["ok"] = summary["ok"] and faults_figures["ok"]  # lost or doubled acknowledged mutations fail make bench
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(summary, indent=2) + "\n")
    log(f"results written to {(RESULTS / 'latest.json').relative_to(ROOT)}")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
