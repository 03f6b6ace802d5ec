"""`audit-tools rollup` and `audit-tools emails send` on a world database of their own (they commit)."""
import socket
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from audit_tools.cli import cli
from auditapp.db import bind, session_scope
from auditapp.models import Action, AuditLogEntry, OutboundEmail, Provider, ProviderStatusChange, Watch
from auditapp.services import rollup
from auditapp.services.eligibility import add_months

from . import world
from .conftest import world_database
from .directory_helpers import action, in_date, new_provider

VENV_BIN = Path(sys.executable).parent
# The test provider's audits are valid until a week before the world's today (the world's own dates
# change nothing between then and the day after), so expired the next day and beyond the 28 days' grace
# a month later. Dates are passed to `rollup --today` as ISO strings.
EXPIRES = world.TODAY - timedelta(days=7)
VISITED = add_months(EXPIRES, -12)
EXPIRED = (EXPIRES + timedelta(days=1)).isoformat()


@pytest.fixture(scope="module")
def directory_template():
    """The known world plus one Eligible provider whose audits expire on EXPIRES, watched by a school."""
    url = world_database("auditapp_cli_directory")
    binding = bind(url)
    with session_scope(binding) as session:
        provider = new_provider(session)
        in_date(session, provider, visit_date=VISITED)
        rollup.recompute(session, [provider.id], EXPIRES - timedelta(days=30), "rollup")
        session.add(Watch(user_id=world.user(session, "school").id, provider_id=provider.id))
    binding.engine.dispose()
    return url


@pytest.fixture
def directory_db(directory_template):
    """A copy of the template for each test: the commands commit, and the roll-up reads every provider."""
    name = f"auditapp_cli_directory_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(directory_template).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(directory_template).database}"'))
    yield make_url(directory_template).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def run(directory_db, tmp_path):
    env = {"AUDITAPP_DATABASE_URL": directory_db, "AUDITAPP_INSTANCE_DIR": str(tmp_path)}

    def invoke(*args, **extra_env):
        return CliRunner().invoke(cli, list(args), env={**env, **extra_env}, catch_exceptions=False)
    return invoke


def _read(url, query):
    binding = bind(url)
    with session_scope(binding) as session:
        rows = session.execute(query).all()
    binding.engine.dispose()
    return rows


def test_rollup_prints_what_changed_and_a_second_run_changes_nothing(run, directory_db):
    assert run("rollup", "--today", EXPIRES.isoformat()).output.strip() == f"Roll-up as of {EXPIRES}: no changes."
    before = _read(directory_db, select(ProviderStatusChange.id))
    expired = run("rollup", "--today", EXPIRED)
    assert expired.exit_code == 0, expired.output
    assert "published status Eligible -> Under review" in expired.output
    assert "the audits say Eligible -> Under review" in expired.output
    assert f"Roll-up as of {EXPIRED}: 1 provider changed." in expired.output
    again = run("rollup", "--today", EXPIRED)
    assert again.exit_code == 0 and again.output.strip() == f"Roll-up as of {EXPIRED}: no changes."
    after = _read(directory_db, select(ProviderStatusChange.cause).where(ProviderStatusChange.id.not_in(
        [r.id for r in before])))
    assert {r.cause for r in after} == {"rollup"} and len(after) == 2


def test_rollup_past_the_grace_period_computes_suspended_but_only_a_maintainer_suspends(run, directory_db):
    run("rollup", "--today", EXPIRED)
    result = run("rollup", "--today", (EXPIRES + timedelta(days=32)).isoformat())
    assert result.exit_code == 0
    assert "the audits say Under review -> Suspended" in result.output
    (status, computed, urgency), = _read(directory_db, select(Provider.directory_status, Provider.computed_status,
                                                              Provider.queue_urgency)
                                         .where(Provider.legal_name.like("Roll-up Test Provider%")))
    assert (status, computed, urgency) == ("under_review", "suspended", 2)


def test_rollup_marks_actions_past_their_due_date_overdue_first(run, directory_db):
    # Given a listed provider whose finalised audit has an action due 18 days before the world's today
    due_on = world.TODAY - timedelta(days=18)
    binding = bind(directory_db)
    with session_scope(binding) as session:
        provider = new_provider(session)
        audits = in_date(session, provider, visit_date=due_on - timedelta(days=50), sg="compliant_with_actions")
        due = action(session, audits["safeguarding"], due=due_on)
        rollup.recompute(session, [provider.id], due_on, "rollup")
        assert provider.directory_status == "conditional"
        due_id = due.id
    binding.engine.dispose()
    # When the daily roll-up runs the next day
    result = run("rollup", "--today", (due_on + timedelta(days=1)).isoformat())
    # Then the action is stored as overdue (and logged), and a second run changes nothing more
    assert result.exit_code == 0 and "1 action now overdue." in result.output
    assert _read(directory_db, select(Action.status).where(Action.id == due_id)) == [("overdue",)]
    assert _read(directory_db, select(AuditLogEntry.action).where(AuditLogEntry.entity_id == str(due_id))) == [("action.overdue",)]
    assert "overdue" not in run("rollup", "--today", (due_on + timedelta(days=1)).isoformat()).output


def test_rollup_refuses_a_malformed_date(run):
    result = run("rollup", "--today", "2026-13-01")
    assert result.exit_code == 2 and "'2026-13-01' does not match the format '%Y-%m-%d'" in result.output


def test_emails_send_writes_the_queued_emails_to_the_outbox_once(run, directory_db, tmp_path):
    run("rollup", "--today", EXPIRED)  # the watching school is told (queued in the same transaction)
    waiting = _read(directory_db, select(OutboundEmail.id).where(OutboundEmail.sent_at.is_(None)))
    assert waiting
    result = run("emails", "send")
    assert result.exit_code == 0, result.output
    assert f"Sent {len(waiting)} e-mail" in result.output and "0 failed" in result.output
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == len(waiting)
    message = files[0].read_text()
    assert "To: staff@beaumontleys.example.org" in message and "From: AP directory <no-reply@localhost>" in message
    assert "is now Under review" in message
    assert not _read(directory_db, select(OutboundEmail.id).where(OutboundEmail.sent_at.is_(None)))
    assert run("emails", "send").output.startswith("Sent 0 e-mails")


def test_emails_send_keeps_failures_queued_and_exits_1(run, directory_db):
    binding = bind(directory_db)
    with session_scope(binding) as session:
        session.add(OutboundEmail(to_address="staff@beaumontleys.example.org", subject="Test", body="Body"))
    binding.engine.dispose()
    with socket.socket() as probe:  # a port nobody listens on: the SMTP connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run("emails", "send", AUDITAPP_SMTP_HOST="127.0.0.1", AUDITAPP_SMTP_PORT=str(port))
    assert result.exit_code == 1
    assert "via SMTP 127.0.0.1" in result.output and "retried on the next run" in result.output
    (attempts, error, sent), = _read(directory_db, select(OutboundEmail.attempts, OutboundEmail.last_error,
                                                          OutboundEmail.sent_at).where(OutboundEmail.subject == "Test"))
    assert attempts == 1 and "ConnectionRefusedError" in error and sent is None


def test_rollup_runs_from_the_installed_command_for_cron(directory_db, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "AUDITAPP_DATABASE_URL": directory_db, "AUDITAPP_INSTANCE_DIR": str(tmp_path)}
    result = subprocess.run([VENV_BIN / "audit-tools", "rollup", "--today", EXPIRED], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "published status Eligible -> Under review" in result.stdout
    assert result.stdout.strip().endswith(f"Roll-up as of {EXPIRED}: 1 provider changed.")
