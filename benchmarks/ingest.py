"""Push ingest on PostgreSQL: a 10,000-mutation push (125 audits x 80 answers) against a raw
executemany INSERT of the same rows measured in the same run, and the replay of the same push.

Each of RUNS rounds times the baseline and the push back to back (the baseline first in even
rounds, last in odd ones, so a drift in machine load does not favour either side) and takes the
ratio within the round; the figures are the median of those per-round ratios, with their spread.
A ratio of two medians of 3 runs each read anywhere from 2.4x to 3.4x from one run to the next
on this shared 2-core machine.

Usage: python benchmarks/ingest.py DATABASE_URL   (an empty database; it is migrated and seeded)
Prints a JSON line of figures; benchmarks/run.py puts them in the table.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select, text

from auditapp.db import bind, session_scope
from auditapp.migrate import upgrade
from auditapp.models import User
from auditapp.services import demo, providers, templates
from auditapp.services.access import items_of
from auditapp.services.audits import audit_id_for
from sync import apply
from sync.client import answer, start, uuid7

AUDITS, PER_AUDIT, RUNS = 125, 80, 7
AUDITOR = "auditor@assure.example.org"


def prepare(url: str) -> tuple[list[dict], list[list[dict]]]:
    """Seed the demo world plus 125 visits for one auditor; return start mutations and answer batches."""
    upgrade(url)
    binding = bind(url)
    with session_scope(binding) as session:
        demo.seed_demo(session, {row[0]: "benchmark password" for row in demo.DEMO_USERS})
    with session_scope(binding) as session:
        auditor = session.scalar(select(User).where(User.email == AUDITOR))
        version = templates.latest_version(session, "safeguarding")
        keys = [k for k, item in items_of(version.content).items() if item.get("answer", "rating") == "rating"]
        provider = session.scalars(select(demo.Provider)).first()
        starts, batches = [], []
        for n in range(AUDITS * RUNS):
            visit = providers.schedule_visit(session, None, provider, provider.sites[0], date(2027, 1, 1) + timedelta(n),
                                             ["safeguarding"], [auditor.id])
            audit_id = str(audit_id_for(visit.id, "safeguarding"))
            starts.append(start(audit_id, visit.id, "safeguarding", version.id))
            batches.append([answer(audit_id, keys[i % len(keys)], {"rating": "met", "note": f"Seen on visit, note {i}"})
                            for i in range(PER_AUDIT)])
    binding.engine.dispose()
    return starts, batches


def run(url: str) -> dict:
    starts, audit_batches = prepare(url)
    binding = bind(url)
    with session_scope(binding) as session:  # start every audit up front: the timed push is answers only
        auditor = session.scalar(select(User).where(User.email == AUDITOR))
        apply.push(session, auditor, uuid7(), starts)
    rounds = []
    for r in range(RUNS):
        mutations = [m for batch in audit_batches[r * AUDITS:(r + 1) * AUDITS] for m in batch]
        device = uuid7()
        times = {}
        if r % 2 == 0:
            times["raw"] = _timed_raw(binding, mutations)
        times["push"] = _timed_push(binding, device, mutations)
        times["replay"] = _timed_push(binding, device, mutations)
        if r % 2 == 1:
            times["raw"] = _timed_raw(binding, mutations)
        times["full"] = _timed_full_rows(binding, mutations)
        rounds.append(times)
    binding.engine.dispose()
    n = AUDITS * PER_AUDIT
    median = {k: statistics.median(t[k] for t in rounds) for k in ("push", "replay", "raw", "full")}
    ratios = {"push_vs_raw": [t["push"] / t["raw"] for t in rounds],
              "push_vs_full_rows": [t["push"] / t["full"] for t in rounds],
              "replay_vs_push": [t["replay"] / t["push"] for t in rounds]}
    figures = {"mutations": n, "runs": RUNS, "push_s": median["push"], "push_per_s": n / median["push"],
               "raw_executemany_s": median["raw"], "full_rows_executemany_s": median["full"],
               "replay_s": median["replay"], "rounds": rounds}
    for name, values in ratios.items():
        figures[name] = statistics.median(values)
        figures[name + "_spread"] = [min(values), max(values)]
    return figures


def _timed_push(binding, device, mutations) -> float:
    session = binding.sessionmaker()
    auditor = session.scalar(select(User).where(User.email == AUDITOR))
    began = time.perf_counter()
    results = apply.push(session, auditor, device, mutations)
    session.commit()
    elapsed = time.perf_counter() - began
    session.close()
    bad = [r for r in results if r["status"] not in ("applied", "duplicate")]
    assert not bad, bad[:3]
    return elapsed


def _timed_raw(binding, mutations) -> float:
    """The baseline: a plain executemany INSERT of the same answer rows into a scratch table."""
    rows = [{"id": uuid.uuid4(), "audit_id": uuid.UUID(m["payload"]["audit_id"]), "item_key": m["payload"]["item_key"],
             "rating": "met", "note": m["payload"]["fields"]["note"]} for m in mutations]
    with binding.engine.begin() as conn:
        conn.execute(text("CREATE TEMP TABLE raw_answers (id uuid, audit_id uuid, item_key text, rating text, "
                          "note text, version int DEFAULT 1) ON COMMIT DROP"))
        began = time.perf_counter()
        conn.execute(text("INSERT INTO raw_answers (id, audit_id, item_key, rating, note) "
                          "VALUES (:id, :audit_id, :item_key, :rating, :note)"), rows)
        return time.perf_counter() - began


def _timed_full_rows(binding, mutations) -> float:
    """A second baseline: the rows the push really stores, executemany'd into a table like `answers`.

    The first baseline writes five columns into an unlogged, unindexed temp table. This one
    writes every column of an answer row (including its per-field JSON) into a logged scratch
    table with the answers table's checks, defaults and indexes, then drops it; both are reported.
    """
    now = datetime.now(timezone.utc)
    rows = [{"id": uuid.uuid4(), "audit_id": uuid.UUID(m["payload"]["audit_id"]), "item_key": m["payload"]["item_key"],
             "rating": "met", "note": m["payload"]["fields"]["note"], "version": 1, "updated_by_id": 1,
             "updated_at": now, "field_meta": json.dumps({"rating": [1, None, m["mutation_id"]],
                                                          "note": [1, None, m["mutation_id"]]})}
            for m in mutations]
    with binding.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_full_answers"))
        # The bench sends several edits per item, so (audit_id, item_key) is indexed but not unique here.
        conn.execute(text("CREATE TABLE bench_full_answers (LIKE answers INCLUDING ALL EXCLUDING INDEXES, "
                          "PRIMARY KEY (id))"))
        conn.execute(text("CREATE INDEX ON bench_full_answers (audit_id, item_key)"))
    try:
        with binding.engine.begin() as conn:
            began = time.perf_counter()
            conn.execute(text("INSERT INTO bench_full_answers (id, audit_id, item_key, rating, note, version, "
                              "updated_by_id, updated_at, field_meta) VALUES (:id, :audit_id, :item_key, :rating, "
                              ":note, :version, :updated_by_id, :updated_at, CAST(:field_meta AS jsonb))"), rows)
        return time.perf_counter() - began
    finally:
        with binding.engine.begin() as conn:
            conn.execute(text("DROP TABLE bench_full_answers"))


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1])))
