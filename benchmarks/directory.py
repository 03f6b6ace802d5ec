"""Directory benchmark (`make bench`, run.py's directory phase): a generated directory of 5,000
providers with 60,000 finalised audits, the roll-up over it, and the schools' search page on it.

The world: the demo world (for its users and templates) plus PROVIDERS providers, each with a
main site, four years of yearly SG+HS visits and QE visits (12 finalised audits a provider),
ANSWERS_PER_AUDIT answers per audit (the registration check HDR-4.5 among them, which the roll-up
reads), a moderated overall QoE grade per QE audit, open, overdue and closed actions on one
provider in five, an open safeguarding concern on one in a hundred, and a notified change on one
in two hundred. Rows go in with COPY, so generating takes seconds, not minutes.

Figures (targets from issue 6):
- full roll-up `rollup.recompute(session, None, ...)` over every provider: < 1 s — measured the
  first time (every provider's status is computed for the first time: history, audit log,
  notifications for each) and then in the steady state a nightly cron sees (nothing changed);
- the per-finalise recompute of one provider, `recompute(session, [id], ...)`: < 10 ms (p50/p95
  over 200 providers);
- the schools' search page on this directory, one client, 200 requests: p95 < 50 ms;
- the same page under wrk: >= 0.40 of a bare Flask hello-world's req/s on the same gunicorn settings,
  hello-world measured right before and after each of three search runs (search_under_load).
run.py holds the first steady-state run and the worst search p95 of the three searches to the targets.

Alone (no other phases): `DATABASE_URL=... .venv/bin/python -m benchmarks.directory [--reuse]`
prints the same figures, with the median of several steady-state runs and each run's SQL statement
count (steadier than wall time on a shared machine), and the search under wrk (--no-load skips it).
"""
from __future__ import annotations

import io
import random
import statistics
import time
import urllib.request
import uuid
from datetime import date, datetime, timedelta, timezone

PROVIDERS = 5_000
YEARS = 4  # yearly visits: 4 x (SG + HS + QE) = 12 audits a provider
ANSWERS_PER_AUDIT = 10
TODAY = date(2026, 11, 28)
ROLLUP_TARGET_S = 1.0
ONE_PROVIDER_TARGET_MS = 10.0
SEARCH_P95_TARGET_MS = 50.0
PAGE_REQUESTS = 200
LOAD_ROUNDS = 3  # search runs under wrk, each between two hello-world runs
DISTRICTS = ("Leicester City", "Blaby", "Charnwood", "Harborough", "Hinckley and Bosworth", "Melton",
             "North West Leicestershire", "Oadby and Wigston")
TYPES = ("vocational", "therapeutic", "outdoor", "tutoring", "online", "creative", "sport")
STAGES = ("KS1", "KS2", "KS3", "KS4")
OUTCOMES = ("compliant",) * 6 + ("compliant_with_actions",) * 3 + ("non_compliant",)
GRADES = ("strong", "secure", "secure", "developing", "weak")
ITEM_KEYS = ("SG-1.1", "SG-2.1", "HS-2.2", "HS-3.1", "QE-2.2")
SEARCHES = ("/directory/", "/directory/?district=Blaby&specialism=semh&key_stage=KS3",
            "/directory/?q=learning+7&delivery=online")


def _copy(conn, table: str, columns: tuple[str, ...], rows) -> int:
    """COPY rows (tuples; None is NULL) into `table` through psycopg; return how many."""
    count = 0
    with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def generate(database_url: str, providers: int = PROVIDERS, seed: int = 6) -> dict:
    """Build the directory in a migrated, demo-seeded database; return row counts."""
    import psycopg
    from sqlalchemy.engine import make_url

    rng = random.Random(seed)
    url = make_url(database_url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    counts: dict[str, int] = {}
    with psycopg.connect(dsn) as conn:
        auditor, teacher, moderator = (conn.execute("SELECT id FROM users WHERE email = %s", (email,)).fetchone()[0]
                                       for email in ("auditor@assure.example.org", "teacher@city.example.org",
                                                     "teacher@county.example.org"))
        versions = dict(conn.execute("SELECT t.audit_type, max(v.id) FROM template_versions v JOIN audit_templates t "
                                     "ON t.id = v.template_id GROUP BY t.audit_type").fetchall())
        first_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM providers").fetchone()[0]
        now = datetime.now(timezone.utc)
        ids = range(first_id, first_id + providers)
        profiles = []
        for pid in ids:
            age_min = rng.choice((5, 7, 11, 14))
            profiles.append((pid, f"Bench Provider {pid} Ltd", f"Learning {pid}", "Office manager",
                             f"office{pid}@bench.example.org", age_min, 16, rng.random() < 0.4, rng.random() < 0.6,
                             rng.choice(DISTRICTS), rng.choice(("part_time", "full_time", "both")),
                             rng.choice(("in_person", "online", "hybrid")), "not_required",
                             rng.choice(("eligible",) * 7 + ("conditional",) * 2 + ("under_review",)),
                             "pending", "[]", datetime(2023, 1, 9, tzinfo=timezone.utc), now, 1, False, 0))
        counts["providers"] = _copy(conn, "providers", (
            "id", "legal_name", "trading_name", "contact_name", "contact_email", "age_min", "age_max",
            "send_specialism", "semh_specialism", "district", "time_basis", "delivery_mode", "registration_status",
            "directory_status", "computed_status", "computed_reasons", "first_listed_on", "created_at", "version",
            "needs_decision", "queue_urgency"), profiles)
        conn.execute("SELECT setval(pg_get_serial_sequence('providers', 'id'), (SELECT max(id) FROM providers))")
        counts["provider_provision_types"] = _copy(conn, "provider_provision_types", ("provider_id", "provision_type"),
                                                   ((pid, t) for pid in ids for t in rng.sample(TYPES, 2)))
        counts["provider_key_stages"] = _copy(conn, "provider_key_stages", ("provider_id", "key_stage"),
                                              ((pid, k) for pid in ids for k in rng.sample(STAGES, 2)))
        site_start = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM sites").fetchone()[0]
        counts["sites"] = _copy(conn, "sites", ("id", "provider_id", "name", "address_line1", "town", "postcode",
                                                "is_main", "created_at"),
                                ((site_start + n, pid, "Main site", f"{n} High Street", "Leicester", "LE1 1AA", True,
                                  now) for n, pid in enumerate(ids)))
        conn.execute("SELECT setval(pg_get_serial_sequence('sites', 'id'), (SELECT max(id) FROM sites))")
        visits, audits, answers, grades, actions = [], [], [], [], []
        visit_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM visits").fetchone()[0]
        for n, pid in enumerate(ids):
            for year in range(YEARS):
                day = TODAY - timedelta(days=365 * year + rng.randrange(20, 300))
                for types, who in ((("safeguarding", "health_safety"), auditor), (("quality_education",), teacher)):
                    visits.append((visit_id, pid, site_start + n, day, "completed", True, now))
                    for audit_type in types:
                        audit_id = uuid.uuid4()
                        outcome = rng.choice(OUTCOMES)
                        audits.append((audit_id, visit_id, audit_type, versions[audit_type], "finalised", outcome,
                                       1, 1, 0, who, now, now))
                        answers.append((uuid.uuid4(), audit_id, "HDR-4.5", None, '"not_required"', 1, who, now))
                        answers += [(uuid.uuid4(), audit_id, f"X-{audit_type[:2]}-{k}", "met", None, 1, who, now)
                                    for k in range(ANSWERS_PER_AUDIT - 1)]
                        if audit_type == "quality_education":
                            grades.append((audit_id, "overall", rng.choice(GRADES), who, now, "agreed", moderator, 1))
                        if year == 0 and outcome == "compliant_with_actions" and n % 5 == 0:
                            for k in range(rng.randint(1, 3)):
                                due = TODAY + timedelta(days=rng.randrange(-40, 40))
                                actions.append((uuid.uuid4(), audit_id, pid, rng.choice(ITEM_KEYS), "Update the policy",
                                                "Proprietor", due, rng.choice(("open", "open", "verified_closed")),
                                                who, now, 1, "normal"))
                    visit_id += 1
        counts["visits"] = _copy(conn, "visits", ("id", "provider_id", "site_id", "visit_date", "status", "announced",
                                                  "created_at"),
                                 visits)
        conn.execute("SELECT setval(pg_get_serial_sequence('visits', 'id'), (SELECT max(id) FROM visits))")
        counts["audits"] = _copy(conn, "audits", ("id", "visit_id", "audit_type", "template_version_id", "status",
                                                  "outcome", "version", "revision", "review_round", "created_by_id", "created_at",
                                                  "finalised_at"), audits)
        counts["answers"] = _copy(conn, "answers", ("id", "audit_id", "item_key", "rating", "value", "version",
                                                    "updated_by_id", "updated_at"), answers)
        counts["qoe_grades"] = _copy(conn, "qoe_grades", ("audit_id", "area", "grade", "graded_by_id", "graded_at",
                                                          "moderation", "moderated_by_id", "version"), grades)
        counts["actions"] = _copy(conn, "actions", ("id", "audit_id", "provider_id", "item_key", "description",
                                                    "owner_role", "due_date", "status", "created_by_id", "created_at",
                                                    "version", "priority"),
                                  actions)
        counts["safeguarding_concerns"] = _copy(conn, "safeguarding_concerns", (
            "id", "provider_id", "raised_by_id", "occurred_at", "received_at", "referred_to_role",
            "about_provider_or_staff", "status", "version"),
            ((uuid.uuid4(), pid, auditor, now, now, "LADO", True, "open", 1) for pid in ids if pid % 100 == 0))
        counts["provider_triggers"] = _copy(conn, "provider_triggers", ("provider_id", "kind", "reported_by_id",
                                                                        "reported_at"),
                                            ((pid, "new_proprietor", auditor, now) for pid in ids if pid % 200 == 7))
        conn.execute("ANALYZE")
        conn.commit()
    counts["first_id"] = first_id
    return counts


class _StatementCounter:
    """Counts the SQL statements an engine sends: query counts are steadier than wall time on a busy machine."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args) -> None:
        self.count += 1


def time_rollup(database_url: str, first_id: int, providers: int = PROVIDERS, samples: int = 200,
                steady_runs: int = 2) -> dict:
    """The full roll-up (first time, then `steady_runs` times in the steady state) and the one-provider
    recompute, in process. Each timing includes the flush (the writes), not the commit (timed apart)."""
    from sqlalchemy import func, select

    from auditapp.db import bind
    from auditapp.models import Provider
    from auditapp.services import rollup

    binding = bind(database_url)
    statements = _StatementCounter(binding.engine)
    figures: dict = {}
    try:
        with binding.sessionmaker() as session:
            figures["providers"] = session.scalar(select(func.count()).select_from(Provider)
                                                  .where(Provider.closed_at.is_(None)))
            labels = ["first", "steady", "steady_again"] + [f"steady_{n}" for n in range(3, steady_runs + 1)]
            for label in labels:
                statements.count = 0
                started = time.perf_counter()
                changes = rollup.recompute(session, None, TODAY, "rollup")
                session.flush()
                figures[f"{label}_s"] = time.perf_counter() - started
                figures[f"{label}_changes"] = len(changes)
                figures[f"{label}_statements"] = statements.count
                started = time.perf_counter()
                session.commit()
                figures[f"{label}_commit_s"] = time.perf_counter() - started
            # `steady_s` (the first steady run) is what run.py holds to the target; the median shows the noise.
            figures["steady_runs_s"] = [figures[f"{label}_s"] for label in labels[1:]]
            figures["steady_median_s"] = statistics.median(figures["steady_runs_s"])
            ids = random.Random(1).sample(range(first_id, first_id + providers), samples)
            times, counts = [], []
            for pid in ids:
                statements.count = 0
                started = time.perf_counter()
                rollup.recompute(session, [pid], TODAY, "finalise")
                session.flush()
                times.append((time.perf_counter() - started) * 1000)
                counts.append(statements.count)
            session.rollback()
            figures["one_p50_ms"] = statistics.median(times)
            figures["one_p95_ms"] = statistics.quantiles(times, n=20)[18]
            figures["one_max_ms"] = max(times)
            figures["one_statements_max"] = max(counts)
            figures["samples"] = samples
    finally:
        binding.engine.dispose()
    return figures


def profile_rollup(database_url: str, top: int = 15) -> str:
    """cProfile of one steady-state full roll-up: the lines to send the lead when it misses its target."""
    import cProfile
    import pstats

    from auditapp.db import bind
    from auditapp.services import rollup

    binding = bind(database_url)
    try:
        with binding.sessionmaker() as session:
            profiler = cProfile.Profile()
            profiler.enable()
            rollup.recompute(session, None, TODAY, "rollup")
            session.flush()
            profiler.disable()
            session.rollback()
    finally:
        binding.engine.dispose()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def time_page(url: str, cookie: str, user_agent: str, requests: int = PAGE_REQUESTS) -> dict:
    """One client, `requests` GETs in a row: per-request time with no queueing (the server's time plus loopback)."""
    opener = urllib.request.build_opener()
    opener.addheaders = [("Cookie", cookie), ("User-Agent", user_agent)]
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        with opener.open(url, timeout=30) as response:
            response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {url} answered {response.status}")
        times.append((time.perf_counter() - started) * 1000)
    return {"requests": requests, "p50_ms": statistics.median(times),
            "p95_ms": statistics.quantiles(times, n=20)[18], "max_ms": max(times)}


def search_under_load(base: str, hello_base: str, school_cookie: str, rounds: int = LOAD_ROUNDS) -> dict:
    """The schools' search under wrk as a ratio to a bare Flask hello-world on the same gunicorn settings.

    The machine is shared and its speed drifts over minutes, so hello-world is measured right beside the
    search: hello, search, hello, search, ... hello. Each round's ratio is its search over the mean of the
    hello-world runs either side; the round with the median ratio is reported, with every round's ratio.
    """
    from benchmarks import run as bench

    def hello() -> float:
        return bench.wrk("GET / hello-world (beside the search)", hello_base + "/", script="status.lua",
                         script_args=["200"], drain_url=hello_base + "/")["req_per_s"]

    bench.warm_up(hello_base + "/", 200)
    before, results = hello(), []
    for _ in range(rounds):
        load = bench.wrk("GET /directory/?... (school search, 5,000 providers)", base + SEARCHES[1],
                         script="status.lua", script_args=["200"], drain_url=base + "/healthz", cookie=school_cookie)
        after = hello()
        results.append({**load, "hello_req_per_s": (before, after), "ratio": load["req_per_s"] / ((before + after) / 2)})
        before = after
    ordered = sorted(results, key=lambda r: r["ratio"])
    median = ordered[len(ordered) // 2]
    return {**median, "rounds": [r["ratio"] for r in results],
            "unexpected_status": sum(r["unexpected_status"] for r in results),
            "socket_errors": {k: sum(r["socket_errors"].get(k, 0) for r in results)
                              for k in ("connect", "read", "write", "timeout")}}


def _database(database_url: str, name: str, reuse: bool) -> tuple[str, int | None]:
    """The bench database's URL, and the first generated provider id when it already holds a directory
    (`reuse`), else None after creating it afresh."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name})
            if not (reuse and exists):
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                conn.execute(text(f"CREATE DATABASE {name}"))
                return url, None
    finally:
        admin.dispose()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            first = conn.scalar(text("SELECT min(id) FROM providers WHERE legal_name LIKE 'Bench Provider %'"))
    finally:
        engine.dispose()
    return url, first


def main(argv: list[str] | None = None) -> int:
    """Run this phase alone: `DATABASE_URL=... .venv/bin/python -m benchmarks.directory [--reuse]`.

    --reuse keeps an existing directory_bench database (migrated up to head again), so its "first" roll-up
    is a steady one too; without it the directory is generated afresh.
    """
    import argparse
    import os
    import sys
    import tempfile
    from pathlib import Path

    from benchmarks import run as bench
    from auditapp.migrate import upgrade

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--steady-runs", type=int, default=5)
    parser.add_argument("--no-pages", action="store_true")
    parser.add_argument("--no-load", action="store_true", help="skip the search under wrk")
    args = parser.parse_args(argv)
    url, first_id = _database(os.environ["DATABASE_URL"], "directory_bench", args.reuse)
    if first_id is None:
        bench.prepare_database(url)
        first_id = generate(url)["first_id"]
    else:
        upgrade(url)
    roll = time_rollup(url, first_id, steady_runs=args.steady_runs)
    print(f"providers: {roll['providers']:,}")
    first = "first run of this process (the directory was rolled up before)" if args.reuse else "first"
    print(f"full roll-up, {first}: {roll['first_s']:.3f} s ({roll['first_changes']} changes, "
          f"{roll['first_statements']} statements)")
    print(f"full roll-up, steady state: median {roll['steady_median_s']:.3f} s of "
          f"{', '.join(f'{s:.3f}' for s in roll['steady_runs_s'])} s ({roll['steady_statements']} statements, "
          f"{roll['steady_changes']} changes); target < {ROLLUP_TARGET_S:.0f} s: "
          f"{'met' if roll['steady_median_s'] < ROLLUP_TARGET_S else 'NOT met'}")
    print(f"one provider's recompute: p50 {roll['one_p50_ms']:.1f} ms, p95 {roll['one_p95_ms']:.1f} ms, "
          f"max {roll['one_max_ms']:.1f} ms (at most {roll['one_statements_max']} statements); target p95 < "
          f"{ONE_PROVIDER_TARGET_MS:.0f} ms: {'met' if roll['one_p95_ms'] < ONE_PROVIDER_TARGET_MS else 'NOT met'}")
    if args.no_pages:
        return 0
    with tempfile.TemporaryDirectory(prefix="auditapp-bench-directory.") as tmp:
        with bench.gunicorn("wsgi:app", bench.app_env(url, Path(tmp)), "/sign-in", Path(tmp)) as base, \
                bench.gunicorn("benchmarks.hello:app", {}, "/", Path(tmp)) as hello_base:
            school = bench.signed_in_cookie(base, bench.SCHOOL_USER)
            for path in SEARCHES:
                bench.warm_up(base + path, 200, cookie=school)
                page = time_page(base + path, f"{bench.COOKIE}={school}", bench.USER_AGENT)
                print(f"school search {path}: p50 {page['p50_ms']:.1f} ms, p95 {page['p95_ms']:.1f} ms, "
                      f"max {page['max_ms']:.1f} ms; target p95 < {SEARCH_P95_TARGET_MS:.0f} ms: "
                      f"{'met' if page['p95_ms'] < SEARCH_P95_TARGET_MS else 'NOT met'}", flush=True)
            if not args.no_load:
                load = search_under_load(base, hello_base, school)
                print(f"school search under wrk: {load['req_per_s']:,.0f} req/s, ratio to hello-world {load['ratio']:.3f} "
                      f"(rounds {', '.join(f'{r:.3f}' for r in load['rounds'])}); target >= 0.40: "
                      f"{'met' if load['ratio'] >= 0.40 else 'NOT met'}", flush=True)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
