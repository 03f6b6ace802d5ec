"""Time: one clock (auditapp/clock.py) that nothing else reads the system clock around; every timestamp
timezone-aware UTC, in the models and in the live schema; the dates people see and choose are Europe/London
calendar dates; and the pages that once mixed naive and aware datetimes answer."""
from __future__ import annotations

import ast
import io
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import DateTime, create_engine, select, text

from auditapp import clock
from auditapp.models import Audit, AuditLogEntry, Base, Notification
from auditapp.services import audit_log, csv_export, reports, users
from auditapp.storage.local import LocalBlobStore

from . import report_helpers as rh
from . import world

ROOT = Path(__file__).resolve().parent.parent
APP_PACKAGES = ("auditapp", "sync", "audit_tools")
# A summer evening: 23:30 UTC on 30 June is 00:30 on 1 July in Leicester (British Summer Time).
SUMMER_NIGHT = datetime(2026, 6, 30, 23, 30, tzinfo=timezone.utc)


# ---- one clock -------------------------------------------------------------------------------

def _clock_reads(path: Path, base: Path = ROOT) -> list[str]:
    """Calls in `path` that read the system clock: datetime.now/utcnow/today, date.today, time.time."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        if call and isinstance(node.func.value, ast.Name):
            owner, name = node.func.value.id, node.func.attr
            if (owner, name) in {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"),
                                 ("date", "today"), ("time", "time")}:
                found.append(f"{path.relative_to(base)}:{node.lineno}: {owner}.{name}()")
    return found


def test_nothing_but_the_clock_reads_the_system_clock():
    reads = [hit for package in APP_PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
             if path != ROOT / "auditapp" / "clock.py" for hit in _clock_reads(path)]
    assert reads == []


def test_the_check_finds_every_kind_of_clock_read(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import time\nfrom datetime import date, datetime, timezone\n\n"
                      "A = (date.today(), datetime.now(timezone.utc), datetime.utcnow(), time.time())\n")
    assert _clock_reads(sample, tmp_path) == [f"sample.py:4: {call}" for call in (
        "date.today()", "datetime.now()", "datetime.utcnow()", "time.time()")]


def test_today_is_the_date_in_london_not_in_utc():
    with clock.frozen(SUMMER_NIGHT):
        assert clock.now() == SUMMER_NIGHT and clock.now().tzinfo is not None
        assert clock.today() == date(2026, 7, 1)
    with clock.frozen(datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc)):  # GMT: London is UTC
        assert clock.today() == date(2026, 12, 31)


def test_a_london_day_starts_at_its_local_midnight():
    assert clock.day_start(date(2026, 7, 1)) == datetime(2026, 6, 30, 23, 0, tzinfo=timezone.utc)
    assert clock.day_start(date(2026, 12, 1)) == datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc)


def test_naive_datetimes_are_refused():
    naive = datetime(2026, 7, 1, 12, 0)
    for call in (clock.local_date, clock.local):
        with pytest.raises(ValueError, match="naive"):
            call(naive)


def test_a_models_default_timestamp_comes_from_the_clock(db_session):
    moment = datetime(2026, 3, 4, 10, 30, tzinfo=timezone.utc)
    with clock.frozen(moment):
        audit_log.record(db_session, None, "time.check", "user", 1)
        db_session.flush()
    entry = db_session.scalars(select(AuditLogEntry).where(AuditLogEntry.action == "time.check")).one()
    db_session.expire(entry)
    assert entry.at == moment and entry.at.tzinfo is not None


def test_the_local_store_stamps_its_files_with_the_apps_clock(tmp_path):
    """Confirm compares a file's write time with its upload expiry: both must come from the one clock."""
    store = LocalBlobStore(tmp_path / "evidence")
    moment = datetime(2026, 3, 4, 10, 30, 15, tzinfo=timezone.utc)
    whole, streamed = (f"evidence/{uuid.uuid4()}/{uuid.uuid4()}" for _ in range(2))
    with clock.frozen(moment):
        store.put(whole, b"x" * 10, "image/jpeg")
        store.put_stream(streamed, io.BytesIO(b"y" * 10), "image/jpeg", max_bytes=100)
    for key in (whole, streamed):
        assert abs(store.head(key).modified_at - moment) < timedelta(milliseconds=1)
        assert abs(store.scan(key).modified_at - moment) < timedelta(milliseconds=1)


# ---- timestamps aware UTC, end to end ----------------------------------------------------------

def test_every_model_timestamp_is_timezone_aware_and_set_by_the_app():
    naive, server_set = [], []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, DateTime) and not column.type.timezone:
                naive.append(f"{table.name}.{column.name}")
            if column.server_default is not None and "now" in str(getattr(column.server_default, "arg", "")).lower():
                server_set.append(f"{table.name}.{column.name}")  # PostgreSQL's now() is not the app's clock
    assert naive == [] and server_set == []


def test_the_live_schema_has_no_timestamp_without_time_zone(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        naive = conn.execute(text(
            "SELECT table_name || '.' || column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type = 'timestamp without time zone'")).scalars().all()
        defaults = conn.execute(text(
            "SELECT table_name || '.' || column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_default ILIKE ANY (ARRAY['%now()%', '%current_timestamp%'])"
        )).scalars().all()
        timestamps = conn.execute(text(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type = 'timestamp with time zone'")).scalar()
    engine.dispose()
    assert naive == [] and defaults == [] and timestamps > 40


def test_timestamps_come_back_from_the_database_aware(db_session):
    stamps = db_session.execute(select(Audit.created_at, Audit.submitted_at, Audit.finalised_at)).all()
    values = [v for row in stamps for v in row if v is not None]
    assert values and all(v.tzinfo is not None and v.utcoffset() == timedelta(0) for v in values)


@pytest.mark.parametrize("role", ["admin", "qoe_teacher", "maintainer", "la_officer", "auditor", "school"])
def test_every_roles_home_page_answers(client, auth, role):
    auth.login(role)
    assert client.get("/").status_code == 200


def test_the_lead_reviewers_home_and_review_queue_answer(client, auth, db_session):
    lead = next(u for u in users.list_users(db_session) if u.is_lead_reviewer)
    response = client.post("/sign-in", data={"email": lead.email, "password": world.PASSWORD,
                                             "csrf_token": auth.csrf()})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/review/").status_code == 200


def test_the_queues_that_count_days_and_weeks_answer(client, auth):
    auth.login("qoe_teacher")
    assert client.get("/grading/").status_code == 200
    auth.logout()
    auth.login("maintainer")
    assert client.get("/finalised-this-week").status_code == 200


# ---- the dates people see and choose are London dates -------------------------------------------

def test_a_report_says_the_london_date_it_was_finalised():
    snapshot = {"audit": {"finalised_at": SUMMER_NIGHT.isoformat()}, "visit": {"date": "2026-06-29"}}
    view = reports.report_view(snapshot, "la")
    assert view["stamp"]["finalised"] == "1 July 2026" and view["visit_date"] == "29 June 2026"


def test_the_csv_export_filters_and_shows_london_dates(app, db_session):
    audit = rh.finalised_with_actions(db_session, app)
    audit.finalised_at = SUMMER_NIGHT
    audit.snapshot = {**audit.snapshot, "audit": {**audit.snapshot["audit"], "finalised_at": SUMMER_NIGHT.isoformat()}}
    db_session.flush()
    column = {name: i for i, name in enumerate(csv_export.COLUMNS)}

    def rows(day_from: date, day_to: date) -> list[tuple]:
        found = csv_export.item_rows(db_session, csv_export.ExportFilters(day_from, day_to))
        return [r for r in found if r[column["audit_id"]] == str(audit.id)]

    first_of_july = rows(date(2026, 7, 1), date(2026, 7, 1))
    assert first_of_july and {r[column["finalised_date"]] for r in first_of_july} == {"2026-07-01"}
    assert rows(date(2026, 6, 30), date(2026, 6, 30)) == []


def test_the_reports_list_filters_by_london_dates(client, auth, app, db_session):
    audit = rh.finalised_with_actions(db_session, app)
    audit.finalised_at = SUMMER_NIGHT
    db_session.flush()
    auth.login("maintainer")
    provider = audit.visit.provider.display_name

    def listed(day: str) -> bool:
        response = client.get("/reports/", query_string={"finalised_from": day, "finalised_to": day,
                                                         "q": provider}, headers={"HX-Request": "true"})
        assert response.status_code == 200
        return str(audit.id) in response.get_data(as_text=True)

    assert listed("2026-07-01") and not listed("2026-06-30")


def test_pages_show_timestamps_in_london_time(client, auth, db_session):
    school = world.user(db_session, "school")
    provider = world.provider(db_session, "eligible")
    provider.status_changed_at = SUMMER_NIGHT
    db_session.add(Notification(user_id=school.id, provider_id=provider.id, kind="status_changed",
                                title="A notice from a summer night", body="Body", created_at=SUMMER_NIGHT))
    db_session.flush()
    auth.login("school")
    assert "1 July 2026 at 00:30" in client.get("/notifications/").get_data(as_text=True)
    assert "since 1 July 2026" in client.get(f"/directory/providers/{provider.id}").get_data(as_text=True)
