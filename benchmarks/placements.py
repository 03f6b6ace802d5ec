"""The LA dashboard over 20,000 placement notifications: server time of one dashboard computation.

Usage: python benchmarks/placements.py DATABASE_URL   (an empty database; it is migrated and seeded)
Prints one JSON line; benchmarks/run.py puts it in the table. The placements are spread over three
years, the demo's providers and schools, with a realistic mix of part-time timetables, missing
plans and re-referrals; they are COPYed in, then the dashboard for the last 12 months (all
filters off, then one district) is computed RUNS times each, in process, timing each call.
"""
from __future__ import annotations

import json
import random
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from auditapp.db import bind, session_scope  # noqa: E402
from auditapp.migrate import upgrade  # noqa: E402
from auditapp.models import Organisation, Placement, Provider, User  # noqa: E402
from auditapp.services import demo  # noqa: E402
from auditapp.services.bulk import insert_rows  # noqa: E402
from auditapp.services.placement_stats import StatsFilter, dashboard  # noqa: E402

PLACEMENTS, RUNS = 20_000, 30
TODAY = date(2026, 11, 28)


def seed(url: str) -> None:
    upgrade(url)
    binding = bind(url)
    rng = random.Random(7)
    with session_scope(binding) as session:
        demo.seed_demo(session, {row[0]: "benchmark password" for row in demo.DEMO_USERS})
    with session_scope(binding) as session:
        schools = session.scalars(select(Organisation).where(Organisation.kind == "school")).all()
        creator = {u.organisation_id: u.id for u in session.scalars(select(User).where(User.role == "school"))}
        providers = session.scalars(select(Provider.id)).all()
        rows = []
        for n in range(PLACEMENTS):
            start = TODAY - timedelta(days=rng.randrange(0, 3 * 365))
            school = rng.choice(schools)
            rows.append({"id": uuid.uuid4(), "school_id": school.id, "created_by_id": creator[school.id],
                         "status": "ended" if rng.random() < 0.5 else "submitted", "pupil_initials": "AB",
                         "upn_sha256": f"{rng.randrange(16**12):012x}".rjust(64, "0"), "provider_id": rng.choice(providers),
                         "start_date": start, "end_date": start + timedelta(days=rng.randrange(30, 200)),
                         "part_time": rng.random() < 0.3, "learning_outcomes": "Maths" if rng.random() < 0.8 else None,
                         "exit_strategy": "Return" if rng.random() < 0.7 else None,
                         "child_voice": "Said yes" if rng.random() < 0.75 else None,
                         "family_voice": "Agreed" if rng.random() < 0.7 else None, "hours_per_week": 15,
                         "send_support": False, "has_ehcp": False, "health_needs": False, "version": 1})
        insert_rows(session, Placement, rows)
    binding.engine.dispose()


def timed(binding, filters: StatsFilter) -> list[float]:
    times = []
    for _ in range(RUNS):
        with session_scope(binding) as session:
            began = time.perf_counter()
            dashboard(session, filters)
            times.append((time.perf_counter() - began) * 1000)
    return sorted(times)


def run(url: str) -> dict:
    seed(url)
    binding = bind(url)
    try:
        everything = timed(binding, StatsFilter(date(2025, 12, 1), date(2026, 11, 1)))
        district = timed(binding, StatsFilter(date(2025, 12, 1), date(2026, 11, 1), district="Blaby"))
    finally:
        binding.engine.dispose()
    p95 = lambda times: times[int(0.95 * len(times)) - 1]  # noqa: E731
    return {"placements": PLACEMENTS, "runs": RUNS, "all_p50_ms": statistics.median(everything),
            "all_p95_ms": p95(everything), "district_p50_ms": statistics.median(district), "district_p95_ms": p95(district)}


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1])))
