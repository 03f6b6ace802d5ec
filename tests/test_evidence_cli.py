"""`audit-tools evidence purge` and `audit-tools evidence setup-bucket`, on a database of their
own (the commands commit) and the real local folder or S3 endpoint."""
import socket
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import make_url

from audit_tools.cli import cli
from auditapp.db import bind, session_scope
from auditapp.models import Audit, AuditLogEntry, Evidence
from auditapp.storage.local import LocalBlobStore
from auditapp.storage.s3 import make_s3_client

from .conftest import evidence_bucket, world_database
from .evidence_helpers import JPEG, PDF, started_audit, verified


@pytest.fixture(scope="module")
def template_world(tmp_path_factory):
    """A world whose safeguarding audit was finalised 7 years ago and health and safety 1 year ago,
    each with one verified file; built once, copied for each test (the commands commit)."""
    url = world_database("auditapp_evidence_cli_template")
    store = LocalBlobStore(tmp_path_factory.mktemp("template-evidence"))
    binding = bind(url)
    now = datetime.now(timezone.utc)
    with session_scope(binding) as session:
        old_audit, recent_audit = started_audit(session), started_audit(session, "health_safety")
        old = verified(session, store, old_audit, PDF, "application/pdf", filename="Staff DBS list.pdf")
        recent = verified(session, store, recent_audit, JPEG, item_key="HS-1.1")
        for audit_id, age in ((old_audit, 7 * 365), (recent_audit, 365)):
            session.execute(update(Audit).where(Audit.id == audit_id)
                            .values(status="finalised", finalised_at=now - timedelta(days=age)))
        files = {"old": (old.id, old.final_key, PDF, "application/pdf"),  # where verified bytes are kept
                 "recent": (recent.id, recent.final_key, JPEG, "image/jpeg")}
    binding.engine.dispose()
    return url, files


@pytest.fixture
def world_with_old_evidence(template_world, tmp_path):
    template_url, files = template_world
    admin = create_engine(make_url(template_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    template = make_url(template_url).database  # carries the xdist worker's suffix, if any
    copy = template.replace("_template", "")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{copy}" TEMPLATE "{template}"'))
    admin.dispose()
    url = make_url(template_url).set(database=copy).render_as_string(hide_password=False)
    store = LocalBlobStore(tmp_path / "evidence")
    for _, key, data, media_type in files.values():
        store.put(key, data, media_type)
    binding = bind(url)
    yield url, store, {name: (f[0], f[1]) for name, f in files.items()}, binding
    binding.engine.dispose()


UNUSED_DATABASE = "postgresql+psycopg://localhost/unused"  # setup-bucket never connects


def _run(url, tmp_path, *args, **env):
    environ = {"AUDITAPP_DATABASE_URL": url, "AUDITAPP_INSTANCE_DIR": str(tmp_path),
               "AUDITAPP_EVIDENCE_DIR": str(tmp_path / "evidence"), **env}
    return CliRunner().invoke(cli, list(args), env=environ, catch_exceptions=False)


def _purged(binding, evidence_id):
    with session_scope(binding) as session:
        return session.get(Evidence, evidence_id).purged_at


def test_purge_dry_run_lists_what_would_go_and_deletes_nothing(world_with_old_evidence, tmp_path):
    url, store, keys, binding = world_with_old_evidence
    result = _run(url, tmp_path, "evidence", "purge", "--older-than", "6y", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Would purge 1 evidence files of audits finalised before ")
    assert str(keys["old"][0]) in result.output and str(keys["recent"][0]) not in result.output
    assert store.head(keys["old"][1]) is not None and _purged(binding, keys["old"][0]) is None


def test_purge_deletes_old_files_marks_the_rows_and_logs_each(world_with_old_evidence, tmp_path):
    url, store, keys, binding = world_with_old_evidence
    result = _run(url, tmp_path, "evidence", "purge", "--older-than", "6y")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Purged 1 of 1 evidence files")
    assert store.head(keys["old"][1]) is None and _purged(binding, keys["old"][0]) is not None
    assert store.head(keys["recent"][1]) is not None and _purged(binding, keys["recent"][0]) is None
    with session_scope(binding) as session:
        entry = session.scalars(select(AuditLogEntry).where(AuditLogEntry.action == "evidence.purge")).one()
        assert entry.entity_id == str(keys["old"][0]) and entry.actor_id is None
    again = _run(url, tmp_path, "evidence", "purge", "--older-than", "6y")
    assert again.output.startswith("Purged 0 of 0")


def test_purge_defaults_to_the_configured_retention_days(world_with_old_evidence, tmp_path):
    url, store, keys, binding = world_with_old_evidence
    result = _run(url, tmp_path, "evidence", "purge", AUDITAPP_EVIDENCE_RETENTION_DAYS="300")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Purged 2 of 2")
    assert store.head(keys["recent"][1]) is None


@pytest.mark.parametrize("period", ["six years", "0y", "6m"])
def test_purge_refuses_a_period_it_cannot_read(world_with_old_evidence, tmp_path, period):
    url, store, keys, binding = world_with_old_evidence
    result = _run(url, tmp_path, "evidence", "purge", "--older-than", period)
    assert result.exit_code == 2 and "--older-than" in result.output
    assert store.head(keys["old"][1]) is not None


def test_purge_stops_when_the_store_is_unreachable_and_marks_nothing(world_with_old_evidence, tmp_path):
    url, store, keys, binding = world_with_old_evidence
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = _run(url, tmp_path, "evidence", "purge", "--older-than", "6y", AUDITAPP_EVIDENCE_STORE="s3",
                  AUDITAPP_S3_BUCKET="evidence-bucket", AUDITAPP_S3_ENDPOINT_URL=f"http://127.0.0.1:{port}")
    assert result.exit_code == 1 and "stopped early" in result.output
    assert result.output.startswith("Purged 0 of 1")
    assert _purged(binding, keys["old"][0]) is None


def test_setup_bucket_sets_cors_for_the_apps_origin(s3_endpoint_url, tmp_path):
    bucket = evidence_bucket(s3_endpoint_url)
    s3 = {"AUDITAPP_EVIDENCE_STORE": "s3", "AUDITAPP_S3_BUCKET": bucket, "AUDITAPP_S3_ENDPOINT_URL": s3_endpoint_url}
    result = _run(UNUSED_DATABASE, tmp_path, "evidence", "setup-bucket", "--origin", "https://audits.example.org", **s3)
    assert result.exit_code == 0, result.output
    client = make_s3_client({"S3_REGION": "eu-west-2", "S3_ENDPOINT_URL": s3_endpoint_url})
    try:
        rule = client.get_bucket_cors(Bucket=bucket)["CORSRules"][0]
    finally:
        client.close()
    assert rule["AllowedOrigins"] == ["https://audits.example.org"] and sorted(rule["AllowedMethods"]) == ["GET", "PUT"]
    bad = _run(UNUSED_DATABASE, tmp_path, "evidence", "setup-bucket", "--origin", "https://audits.example.org/app", **s3)
    assert bad.exit_code == 2 and "not an origin" in bad.output


def test_setup_bucket_creates_a_missing_bucket_then_sets_its_cors(s3_endpoint_url, tmp_path):
    # Given a bucket name nobody has created
    bucket = f"auditapp-evidence-new-{uuid.uuid4().hex[:12]}"
    s3 = {"AUDITAPP_EVIDENCE_STORE": "s3", "AUDITAPP_S3_BUCKET": bucket, "AUDITAPP_S3_ENDPOINT_URL": s3_endpoint_url}
    # When setup-bucket runs, then it creates the bucket in the configured region and sets its CORS
    result = _run(UNUSED_DATABASE, tmp_path, "evidence", "setup-bucket", "--origin", "https://audits.example.org", **s3)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"Created bucket {bucket} in eu-west-2.",
                                          f"Bucket {bucket} now accepts PUT and GET from: https://audits.example.org"]
    client = make_s3_client({"S3_REGION": "eu-west-2", "S3_ENDPOINT_URL": s3_endpoint_url})
    try:
        assert client.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eu-west-2"
        assert client.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["AllowedOrigins"] == ["https://audits.example.org"]
        # And a second run keeps the bucket (and what is in it) and only sets CORS again
        client.put_object(Bucket=bucket, Key="evidence/kept", Body=b"x")
        again = _run(UNUSED_DATABASE, tmp_path, "evidence", "setup-bucket", "--origin", "https://other.example.org", **s3)
        assert again.exit_code == 0 and "Created" not in again.output, again.output
        assert client.get_object(Bucket=bucket, Key="evidence/kept")["Body"].read() == b"x"
        assert client.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["AllowedOrigins"] == ["https://other.example.org"]
    finally:
        client.close()


def test_setup_bucket_needs_the_s3_store(tmp_path):
    result = _run(UNUSED_DATABASE, tmp_path, "evidence", "setup-bucket", "--origin", "https://audits.example.org")
    assert result.exit_code == 2 and "not s3" in result.output
