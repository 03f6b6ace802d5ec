"""Load and faults (issue 14): simulated tablets sync through gunicorn while a worker is killed, PostgreSQL
is stopped at once and restarted, and the S3 store freezes; then every acknowledged mutation is looked up.

Everything runs on servers of its own: a PostgreSQL 15 cluster (benchmarks/pgcluster.py) with the test
settings (fsync, synchronous_commit and full_page_writes off: the app must make its acks durable itself;
wal_writer_delay 10 s, see `run`),
a moto S3 server (.ci/s3_up.sh) and `gunicorn -w 2` sync workers. TABLETS simulated tablets
(benchmarks/fault_tablets.py), each on a visit of its own, behave like the device: an outbox resent with
backoff until acknowledged and dropped once acknowledged, pulls, and evidence uploads beside the sync.

Faults, at fixed times after the start: SIGKILL of one gunicorn worker; an immediate stop of PostgreSQL
(SIGQUIT, as `pg_ctl stop -m immediate`) right after the next acknowledged push, and a restart; SIGSTOP
of the moto server for FREEZE_SECONDS, then SIGCONT. After DURATION the tablets stop editing and drain
their outboxes and uploads (at most DRAIN_LIMIT). Then, in the database: every acknowledged mutation has its
processed_mutations row (else lost), every answer's version and change-log rows equal the number of
acknowledged edits applied to it (more: doubled; fewer: lost), every acknowledged registration and
verified confirm is there. Lost or doubled > 0, a tablet that could not drain, or no acks at all: not ok.

Alone: `.venv/bin/python -m benchmarks.faults [SOURCE_DATABASE_URL]` (the source is a database holding the
bench's demo world, as benchmarks/run.py seeds it; without one the demo world is seeded here, ~30 s more).
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.fault_tablets import PASSWORD, TIMEOUT, Run, Tablet  # noqa: E402
from benchmarks.pgcluster import Cluster  # noqa: E402

TABLETS = int(os.environ.get("FAULTS_TABLETS", "20"))
DURATION = float(os.environ.get("FAULTS_SECONDS", "40"))
KILL_AT, RESTART_AT, FREEZE_AT, FREEZE_SECONDS = 8.0, 17.0, 27.0, 8.0
MIN_PHASE = 8.0  # seconds each fault's phase lasts at least, however late the previous fault came
DRAIN_LIMIT = 90.0  # seconds the tablets get to empty their outboxes after DURATION
AUDITORS = ("auditor@assure.example.org", "lead.auditor@assure.example.org", "auditor2@assure.example.org")
BUCKET = "auditapp-faults"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
RESULTS = ROOT / "benchmarks" / "results"


def log(message: str) -> None:
    print(f"[faults] {message}", file=sys.stderr, flush=True)


# --- set-up -----------------------------------------------------------------------------------

def prepare(url: str, source_url: str | None, tablets: int, cluster: Cluster) -> list[dict]:
    """The demo world (copied from `source_url`, or seeded), plus one visit per tablet; their audits."""
    from sqlalchemy import select
    from sqlalchemy.engine import make_url

    from auditapp import clock
    from auditapp.db import bind, session_scope
    from auditapp.migrate import upgrade
    from auditapp.models import Provider, User
    from auditapp.services import demo
    from auditapp.services.access import items_of
    from auditapp.services.audits import audit_id_for
    from auditapp.services.providers import schedule_visit
    from auditapp.services.templates import latest_version

    if source_url:
        cluster.restore_from(make_url(source_url).set(drivername="postgresql").render_as_string(hide_password=False))
        upgrade(url)  # a no-op unless the source is behind
    else:
        cluster.create_database()
        upgrade(url)
    binding = bind(url)
    try:
        with session_scope(binding) as session:
            if not source_url:
                demo.seed_demo(session, {row[0]: PASSWORD for row in demo.DEMO_USERS}, reset_passwords=True)
            users = {u.email: u for u in session.scalars(select(User).where(User.email.in_(AUDITORS)))}
            providers = list(session.scalars(select(Provider).order_by(Provider.id)))
            version = latest_version(session, "safeguarding")
            keys = [k for k, item in items_of(version.content).items() if item.get("answer", "rating") == "rating"]
            audits = []
            for n in range(tablets):
                email = AUDITORS[n % len(AUDITORS)]
                provider = providers[n % len(providers)]
                visit = schedule_visit(session, None, provider, provider.sites[0],
                                       clock.today() + timedelta(days=1 + n % 5), ["safeguarding"], [users[email].id])
                audits.append({"email": email, "visit_id": visit.id, "audit_id": str(audit_id_for(visit.id, "safeguarding")),
                               "template_version_id": version.id, "keys": keys})
    finally:
        binding.engine.dispose()
    return audits


def start_s3() -> dict[str, str]:
    """moto on a free port (.ci/s3_up.sh); its exports as a dict."""
    done = subprocess.run(["bash", str(ROOT / ".ci" / "s3_up.sh")], cwd=ROOT, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"s3_up.sh failed: {done.stderr[-2000:]}")
    return dict(pair.split("=", 1) for pair in done.stdout.strip().removeprefix("export ").split())


def stop_s3(s3: dict[str, str]) -> None:
    os.kill(int(s3["S3PID"]), signal.SIGCONT)  # a frozen server cannot take its SIGTERM
    subprocess.run(["bash", str(ROOT / ".ci" / "s3_down.sh")], cwd=ROOT, env={**os.environ, **s3},
                   stdin=subprocess.DEVNULL, capture_output=True)


def serve(url: str, s3: dict[str, str], workdir: Path) -> tuple[subprocess.Popen, str]:
    from benchmarks.run import free_port, http_status
    port = free_port()
    env = {**os.environ, "AUDITAPP_DATABASE_URL": url, "AUDITAPP_SECRET_KEY": secrets.token_hex(32),
           "AUDITAPP_SESSION_COOKIE_SECURE": "false", "AUDITAPP_INSTANCE_DIR": str(workdir / "instance"),
           "AUDITAPP_EVIDENCE_STORE": "s3", "AUDITAPP_S3_BUCKET": BUCKET,
           "AUDITAPP_S3_ENDPOINT_URL": s3["TEST_S3_ENDPOINT_URL"], "AUDITAPP_S3_REGION": "eu-west-2",
           "AWS_ACCESS_KEY_ID": s3["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": s3["AWS_SECRET_ACCESS_KEY"],
           "AWS_DEFAULT_REGION": s3["AWS_DEFAULT_REGION"]}
    with open(workdir / "gunicorn-faults.log", "wb") as out:
        proc = subprocess.Popen([str(GUNICORN), "-w", "2", "-k", "sync", "-b", f"127.0.0.1:{port}", "--chdir", str(ROOT),
                                 "--graceful-timeout", "10", "wsgi:app"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while http_status(base + "/sign-in") != 200:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("gunicorn did not start:\n" + (workdir / "gunicorn-faults.log").read_text()[-3000:])
        time.sleep(0.2)
    return proc, base


def workers(master_pid: int) -> list[int]:
    """gunicorn's worker processes: the master's children."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(master_pid) and fields.get("State", "").strip()[:1] != "Z":
            found.append(int(status.parent.name))
    return sorted(found)


# --- faults -----------------------------------------------------------------------------------

def inject(run: Run, proc: subprocess.Popen, cluster: Cluster, s3pid: int, duration: float) -> list[dict]:
    """The fault schedule, in this thread; returns the phases with what each fault took."""
    def wait_until(at: float) -> None:
        time.sleep(max(at - run.now(), 0))

    phases = [{"name": "steady load", "at": 0.0}]
    wait_until(KILL_AT)
    before = workers(proc.pid)
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    phase = {"name": f"worker kill (SIGKILL 1 of {len(before)} gunicorn workers)", "at": run.now()}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # gunicorn's master starts a new worker
        now_workers = workers(proc.pid)
        if len(now_workers) >= len(before) and victim not in now_workers:
            phase["fault_note"] = f"new worker in {run.now() - phase['at']:.1f} s"
            break
        time.sleep(0.05)
    phases.append(phase)
    wait_until(max(RESTART_AT, phases[-1]["at"] + MIN_PHASE))  # a slow machine may have run late
    run.crash_armed.set()
    run.ack_seen.wait(15)  # right after a push was acknowledged: its commit is the one most at risk
    phase = {"name": "PostgreSQL immediate stop (right after an ack) + restart", "at": run.now()}
    cluster.crash()
    cluster.start()
    phase["fault_note"] = f"database down {run.now() - phase['at']:.1f} s"
    phases.append(phase)
    wait_until(max(FREEZE_AT, phases[-1]["at"] + MIN_PHASE))
    phase = {"name": f"S3 store frozen {FREEZE_SECONDS:.0f} s (SIGSTOP moto)", "at": run.now()}
    os.kill(s3pid, signal.SIGSTOP)
    time.sleep(FREEZE_SECONDS)
    os.kill(s3pid, signal.SIGCONT)
    phase["thawed"] = run.now()
    phase["fault_note"] = f"SIGCONT at {phase['thawed']:.1f} s"
    phases.append(phase)
    wait_until(max(duration, phases[-1]["thawed"] + MIN_PHASE / 2))
    run.stop_new.set()
    phases.append({"name": "drain (no new edits; outboxes and uploads emptied)", "at": run.now()})
    return phases


def recovery(events: list[tuple], ops: tuple[str, ...], start: float, end: float, since: float) -> float | str | None:
    """Seconds from `since` until the first success (of `ops`) begun after the last failure in [start, end)."""
    failures = [e for e in events if e[0] in ops and e[1] != "ok" and start <= e[3] < end]
    if not failures:
        return None
    last = max(e[3] for e in failures)
    after = [e[3] for e in events if e[0] in ops and e[1] == "ok" and e[2] >= last]
    return (min(after) - since) if after else "not recovered"


# --- checking the database --------------------------------------------------------------------

def check(run: Run, tablets: list[Tablet], cluster: Cluster) -> dict:
    import psycopg
    devices = [t.device_id for t in tablets]
    audits = [t.audit["audit_id"] for t in tablets]
    unacked = {(t.device_id, m["mutation_id"]): m for t in tablets for m in t.outbox}
    with psycopg.connect(cluster.libpq_url()) as conn:
        processed = {(str(d), str(m)) for d, m in conn.execute(
            "SELECT device_id, mutation_id FROM processed_mutations WHERE device_id = ANY(%s::uuid[])", (devices,))}
        answers = {str(i): (v, note) for i, v, note in conn.execute(
            "SELECT id, version, note FROM answers WHERE audit_id = ANY(%s::uuid[])", (audits,))}
        logged = dict(conn.execute("SELECT entity_id, count(*) FROM change_log WHERE entity = 'answer' "
                                   "AND audit_id = ANY(%s::uuid[]) GROUP BY entity_id", (audits,)).fetchall())
        evidence = {str(i): status for i, status in conn.execute(
            "SELECT id, status FROM evidence WHERE audit_id = ANY(%s::uuid[])", (audits,))}
    lost = [key for key in run.acked if key not in processed]
    expected: dict[str, int] = {}
    last_note: dict[str, tuple[float, str]] = {}
    for ack in run.acked.values():
        if ack["kind"] == "answer.set" and ack["status"] == "applied":
            expected[ack["entity_id"]] = expected.get(ack["entity_id"], 0) + 1
    for (device_id, mutation_id), ack in sorted(run.acked.items(), key=lambda kv: kv[0][1]):  # ids are time-ordered
        if ack["kind"] == "answer.set" and ack["status"] == "applied":
            last_note[ack["entity_id"]] = ack["note"]
    in_doubt: dict[str, int] = {}  # unacknowledged edits may or may not have been applied
    for sent in unacked.values():
        if sent["kind"] == "answer.set":
            in_doubt[sent["entity_id"]] = in_doubt.get(sent["entity_id"], 0) + 1
    doubled = entity_lost = 0
    for entity_id, count in expected.items():
        version, note = answers.get(entity_id, (0, None))
        applied = max(version, logged.get(entity_id, 0))
        doubled += max(applied - count - in_doubt.get(entity_id, 0), 0)
        entity_lost += max(count - min(version, logged.get(entity_id, 0)), 0)
        if not in_doubt.get(entity_id) and note != last_note[entity_id] and version == count:
            entity_lost += 1  # the newest acknowledged note was overwritten by an older one
    registered = [a["entity_id"] for a in run.acked.values() if a["kind"] == "evidence.register" and a["status"] == "applied"]
    evidence_lost = sum(1 for e in registered if e not in evidence) + sum(
        1 for e in run.verified if evidence.get(e) != "verified")
    return {"acked": len(run.acked), "lost": len(lost) + entity_lost + evidence_lost, "doubled": doubled,
            "lost_processed": len(lost), "lost_in_entities": entity_lost, "lost_evidence": evidence_lost,
            "unacked_at_end": len(unacked), "pending_uploads_at_end": sum(len(t.uploads) for t in tablets),
            "answers_checked": len(expected), "evidence_registered": len(registered), "evidence_verified": len(run.verified),
            "rejected": len(run.rejected), "rejected_samples": run.rejected[:3]}


# --- the run ----------------------------------------------------------------------------------

def run(source_url: str | None = None, tablets: int = TABLETS, duration: float = DURATION) -> dict:
    import boto3
    # The test servers' settings, and wal_writer_delay at its 10 s maximum (200 ms by default): an asynchronous
    # commit then waits that long for its WAL to be written, so the crash right after an ack finds that push
    # unwritten unless the app asked for a synchronous commit. Without the app's SET LOCAL, one run lost the
    # whole acknowledged push (21 mutations); with the 200 ms default, two runs lost nothing (it is chance).
    cluster = Cluster({"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "wal_writer_delay": "10s"})
    s3 = {}
    proc = None
    try:
        cluster.start()
        audits = prepare(cluster.url(), source_url, tablets, cluster)
        s3 = start_s3()
        client = boto3.client("s3", endpoint_url=s3["TEST_S3_ENDPOINT_URL"], region_name="eu-west-2",
                              aws_access_key_id=s3["AWS_ACCESS_KEY_ID"], aws_secret_access_key=s3["AWS_SECRET_ACCESS_KEY"])
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
        client.close()
        with tempfile.TemporaryDirectory(prefix="auditapp-faults.") as tmp:
            proc, base = serve(cluster.url(), s3, Path(tmp))
            log(f"{tablets} tablets signing in to {base} (gunicorn pid {proc.pid})")
            run_ = Run()
            ready = threading.Barrier(tablets + 1)
            fleet = [Tablet(n, base, audit, run_, ready) for n, audit in enumerate(audits)]
            for tablet in fleet:
                tablet.start()
            ready.wait()
            import psycopg
            with psycopg.connect(cluster.libpq_url(), autocommit=True) as conn:
                conn.execute("CHECKPOINT")  # the sign-ins are on disk: only the sync traffic is at stake
            run_.t0 = time.monotonic()
            run_.events.clear()
            run_.go.set()
            log(f"load for {duration:.0f} s or more: worker kill at {KILL_AT:.0f} s, PostgreSQL restart from "
                f"{RESTART_AT:.0f} s, S3 frozen from {FREEZE_AT:.0f} s for {FREEZE_SECONDS:.0f} s, then drain")
            phases = inject(run_, proc, cluster, int(s3["S3PID"]), duration)
            deadline = time.monotonic() + DRAIN_LIMIT
            for tablet in fleet:
                tablet.join(max(deadline - time.monotonic(), 0.1))
            drained = not any(t.is_alive() for t in fleet)
            run_.hard_stop.set()
            for tablet in fleet:
                tablet.join(TIMEOUT + 5)
            ended = run_.now()
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            server_log = (Path(tmp) / "gunicorn-faults.log").read_text(errors="replace")
        server_errors = server_log.count("Traceback")
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "faults-gunicorn.log").write_text(server_log)  # what the workers said (results are not committed)
        figures = check(run_, fleet, cluster)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        if s3:
            stop_s3(s3)
        cluster.remove()
    return summarise(run_, fleet, phases, figures, drained, ended, server_errors)


def summarise(run_: Run, fleet: list[Tablet], phases: list[dict], figures: dict, drained: bool, ended: float,
              server_errors: int) -> dict:
    rows = []
    bounds = [p["at"] for p in phases[1:]] + [ended + 1]
    for phase, end in zip(phases, bounds):
        start = phase["at"]
        acked = sum(1 for a in run_.acked.values() if start <= a["at"] < end)
        errors = {}
        for op in ("push", "pull", "evidence", "s3-put"):
            counts: dict[str, int] = {}
            for e in run_.events:
                if e[0] == op and e[1] != "ok" and start <= e[3] < end:
                    counts[e[1]] = counts.get(e[1], 0) + 1
            errors[op] = dict(sorted(counts.items()))
        requests_ = sum(1 for e in run_.events if start <= e[3] < end)
        latencies = sorted(e[3] - e[2] for e in run_.events if e[0] == "push" and e[1] == "ok" and start <= e[3] < end)
        slowest_evidence = max((e[3] - e[2] for e in run_.events if e[0] == "evidence" and start <= e[3] < end), default=None)
        push_back = recovery(run_.events, ("push",), start, end, start)
        evidence_back = recovery(run_.events, ("evidence", "s3-put"), start, end, phase.get("thawed", start))
        rows.append({"phase": phase["name"], "from_s": round(start, 1), "acked": acked, "requests": requests_,
                     "errors": errors, "fault": phase.get("fault_note", ""),
                     "push_p50_s": latencies[len(latencies) // 2] if latencies else None,
                     "push_max_s": latencies[-1] if latencies else None, "evidence_max_s": slowest_evidence,
                     "push_recovered_s": push_back, "evidence_recovered_s": evidence_back})
    ok = figures["lost"] == 0 and figures["doubled"] == 0 and figures["acked"] > 0 and drained \
        and not any(t.error for t in fleet)
    return {"tablets": len(fleet), "duration_s": round(phases[-1]["at"], 1), "ended_s": round(ended, 1), "drained": drained,
            "tablet_errors": [t.error for t in fleet if t.error], "server_tracebacks": server_errors,
            "phases": rows, **figures, "ok": ok}


def _errors(errors: dict) -> str:
    parts = [f"{op} " + ", ".join(f"{n}× {kind}" for kind, n in counts.items()) for op, counts in errors.items() if counts]
    return "; ".join(parts) or "none"


def _seconds(value: float | str | None, after: str = "", none: str = "no failures") -> str:
    if value is None:
        return none
    return value if isinstance(value, str) else f"{value:.1f} s{after}"


def print_table(f: dict) -> None:
    lines = ["", f"## load and faults ({f['tablets']} tablets, {f['duration_s']:.0f} s of edits, then drain; "
             "gunicorn -w 2; PostgreSQL with synchronous_commit=off; moto S3)", "",
             "| phase | from | fault | acked mutations | requests | push p50 / max | evidence call max "
             "| errors (by request and kind) | pushes OK again | evidence OK again |",
             "|---|---:|---|---:|---:|---:|---:|---|---|---|"]
    for row in f["phases"]:
        latency = (f"{row['push_p50_s']:.2f} / {row['push_max_s']:.1f} s" if row["push_p50_s"] is not None else "-")
        lines.append(f"| {row['phase']} | {row['from_s']:.1f} s | {row['fault'] or '-'} | {row['acked']} | {row['requests']} "
                     f"| {latency} | {_seconds(row['evidence_max_s'], none='-')} | {_errors(row['errors'])} | {_seconds(row['push_recovered_s'], ' after the fault')} "
                     f"| {_seconds(row['evidence_recovered_s'], ' after the fault' if 'frozen' not in row['phase'] else ' after SIGCONT')} |")
    lines += ["", (f"acknowledged mutations: {f['acked']}; lost: {f['lost']} (processed rows {f['lost_processed']}, "
                   f"answers {f['lost_in_entities']}, evidence {f['lost_evidence']}); doubled: {f['doubled']}; "
                   f"answers checked: {f['answers_checked']}; files registered {f['evidence_registered']}, verified "
                   f"{f['evidence_verified']}; rejected results: {f['rejected']}; drained: {'yes' if f['drained'] else 'NO'} "
                   f"in {f['ended_s'] - f['duration_s']:.1f} s; tracebacks in the server log: {f['server_tracebacks']}")]
    if not f["ok"]:
        lines.append(f"WARNING: load and faults not ok (lost {f['lost']}, doubled {f['doubled']}, drained {f['drained']}, "
                     f"tablet errors {f['tablet_errors']}, rejected samples {f['rejected_samples']})")
    print("\n".join(lines), flush=True)


def main() -> int:
    figures = run(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("FAULTS_SOURCE_URL"))
    print_table(figures)
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
