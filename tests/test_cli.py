"""`audit-tools`: each command runs one transaction through the services, on a database of its own."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from audit_tools.cli import cli
from auditapp.db import bind, session_scope
from auditapp.models import AuditLogEntry, Organisation, Provider, TemplateVersion, User, Visit
from auditapp.services import demo

from .conftest import _fresh_database, _required_env

VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def cli_db():
    """An empty database just for these commands (they commit for real)."""
    url = _fresh_database(_required_env("TEST_DATABASE_URL"), "auditapp_cli")
    return url


@pytest.fixture
def run(cli_db, tmp_path):
    env = {"AUDITAPP_DATABASE_URL": cli_db, "AUDITAPP_INSTANCE_DIR": str(tmp_path)}

    def invoke(*args, input=None):
        return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)
    return invoke


def _count(url, model):
    binding = bind(url)
    with session_scope(binding) as session:
        n = session.scalar(select(func.count()).select_from(model))
    binding.engine.dispose()
    return n


def test_db_upgrade_then_seed_demo_is_idempotent(run, cli_db, tmp_path):
    assert run("db", "upgrade").exit_code == 0
    first = run("seed-demo")
    assert first.exit_code == 0, first.output
    assert "admin@county.example.org" in first.output and "demo-" in first.output
    counts = [_count(cli_db, m) for m in (Organisation, User, Provider, Visit, TemplateVersion)]
    assert counts[0] == 6 and counts[1] == len(demo.DEMO_USERS) and counts[2] >= 12 and counts[3] >= 8 and counts[4] == 3
    second = run("seed-demo")
    assert second.exit_code == 0
    assert [_count(cli_db, m) for m in (Organisation, User, Provider, Visit, TemplateVersion)] == counts
    # The same passwords are printed on the second run (kept in the instance folder).
    assert first.output.split("Demo sign-ins")[1] == second.output.split("Demo sign-ins")[1]


def test_templates_publish_is_a_no_op_the_second_time_and_list_shows_versions(run):
    run("db", "upgrade")
    run("templates", "publish")
    result = run("templates", "publish")
    assert result.exit_code == 0 and result.output.count("unchanged") == 3
    listed = run("templates", "list").output
    assert "safeguarding" in listed and "health_safety" in listed and "quality_education" in listed


def test_users_create_and_list(run, cli_db):
    run("db", "upgrade")
    run("seed-demo")
    created = run("users", "create", "--email", "Pat.Officer@City.example.org", "--name", "Pat Officer",
                  "--role", "maintainer", "--organisation", "Leicester City Council", "--password", "a strong password")
    assert created.exit_code == 0, created.output
    assert "pat.officer@city.example.org" in run("users", "list").output
    binding = bind(cli_db)
    with session_scope(binding) as session:
        user = session.scalar(select(User).where(User.email == "pat.officer@city.example.org"))
        assert session.scalar(select(func.count()).select_from(AuditLogEntry)
                              .where(AuditLogEntry.action == "user.create", AuditLogEntry.entity_id == str(user.id))) == 1
    binding.engine.dispose()


def test_users_create_with_an_unknown_organisation_fails_cleanly(run):
    run("db", "upgrade")
    result = run("users", "create", "--email", "a@b.example.org", "--name", "A", "--role", "auditor",
                 "--organisation", "Nowhere Ltd", "--password", "a strong password")
    assert result.exit_code == 2 and "No organisation called 'Nowhere Ltd'" in result.output


def test_a_broken_template_file_fails_with_a_message_and_exit_code_1(cli_db, tmp_path):
    from auditapp.audit_templates import TEMPLATE_DIR
    for name in ("header.yaml", "prompts.yaml"):
        (tmp_path / name).write_text((TEMPLATE_DIR / name).read_text())
    data = yaml.safe_load((TEMPLATE_DIR / "safeguarding.yaml").read_text())
    data["sections"][1]["items"][0]["evidence"] = []
    broken = tmp_path / "safeguarding.yaml"
    broken.write_text(yaml.safe_dump(data))
    env = {**os.environ, "AUDITAPP_DATABASE_URL": cli_db, "AUDITAPP_INSTANCE_DIR": str(tmp_path)}
    subprocess.run([VENV_BIN / "audit-tools", "db", "upgrade"], env=env, check=True, capture_output=True)
    result = subprocess.run([VENV_BIN / "audit-tools", "templates", "publish", str(broken)], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "Error: safeguarding.yaml: item SG-2.1, field 'evidence'" in result.stderr
    assert "Traceback" not in result.stderr
