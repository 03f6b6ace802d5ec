"""`audit-tools placements purge` on a world database of its own (the command commits)."""
import uuid
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from audit_tools.cli import cli
from auditapp.db import bind, session_scope
from auditapp.models import AuditLogEntry, Placement

from . import world
from .conftest import world_database


@pytest.fixture(scope="module")
def placements_db():
    url = world_database("auditapp_cli_placements")
    binding = bind(url)
    with session_scope(binding) as session:
        school, provider = world.user(session, "school"), world.provider(session, "eligible")
        for initials, ended in (("OL", date(2015, 7, 20)), ("NW", date(2026, 7, 20))):
            session.add(Placement(id=uuid.uuid4(), school_id=school.organisation_id, created_by_id=school.id,
                                  status="ended", pupil_initials=initials, provider_id=provider.id, start_date=date(ended.year, 1, 5),
                                  end_date=ended, ended_on=ended, outcome="returned_full_time",
                                  child_voice="Happy to go back", learning_outcomes="Maths"))
    binding.engine.dispose()
    return url


def _initials(url):
    binding = bind(url)
    with session_scope(binding) as session:
        rows = session.execute(select(Placement.ended_on, Placement.pupil_initials, Placement.child_voice,
                                      Placement.purged_at).where(Placement.status == "ended")  # the demo's run on
                               .order_by(Placement.ended_on)).all()
        logged = session.scalar(select(AuditLogEntry.id).where(AuditLogEntry.action == "placement.purge").limit(1))
    binding.engine.dispose()
    return rows, logged


def test_purge_dry_run_lists_then_purge_clears_only_past_retention(placements_db, tmp_path):
    env = {"AUDITAPP_DATABASE_URL": placements_db, "AUDITAPP_INSTANCE_DIR": str(tmp_path)}
    dry = CliRunner().invoke(cli, ["placements", "purge", "--dry-run"], env=env, catch_exceptions=False)
    assert dry.exit_code == 0 and "Would clear pupil data from 1 placement that ended before" in dry.output
    rows, logged = _initials(placements_db)
    assert [r.pupil_initials for r in rows] == ["OL", "NW"] and logged is None  # a dry run changes nothing
    done = CliRunner().invoke(cli, ["placements", "purge"], env=env, catch_exceptions=False)
    assert done.exit_code == 0 and "Cleared pupil data from 1 placement" in done.output
    rows, logged = _initials(placements_db)
    old, recent = rows
    assert old.pupil_initials is None and old.purged_at is not None and old.child_voice.startswith("[recorded")
    assert recent.pupil_initials == "NW" and recent.purged_at is None and logged is not None
