"""Configuration: defaults, AUDITAPP_* variables, and a clear stop on bad settings."""
import pytest

from auditapp.config import ConfigError, load_config

SECRET = "s" * 40
DB = "postgresql+psycopg://u@db/auditapp"


def test_defaults_keep_local_evidence_under_instance(tmp_path):
    config = load_config({"INSTANCE_DIR": str(tmp_path)}, environ={"AUDITAPP_SECRET_KEY": SECRET,
                                                                    "AUDITAPP_DATABASE_URL": DB})
    assert config["DATABASE_URL"] == DB
    assert config["EVIDENCE_STORE"] == "local"
    assert config["EVIDENCE_DIR"] == str(tmp_path / "evidence")
    assert config["SESSION_COOKIE_SECURE"] is True
    assert (config["EVIDENCE_UPLOAD_TTL_SECONDS"], config["EVIDENCE_RETENTION_DAYS"]) == (300, 2192)


def test_environment_variables_override_defaults():
    config = load_config(environ={"AUDITAPP_SECRET_KEY": SECRET, "AUDITAPP_LOGIN_MAX_FAILURES": "3",
                                  "AUDITAPP_SESSION_COOKIE_SECURE": "false", "AUDITAPP_DATABASE_URL": DB})
    assert config["LOGIN_MAX_FAILURES"] == 3
    assert config["SESSION_COOKIE_SECURE"] is False


def test_the_database_url_is_required(tmp_path):
    with pytest.raises(ConfigError, match="AUDITAPP_DATABASE_URL is not set.*make run"):
        load_config({"INSTANCE_DIR": str(tmp_path)}, environ={"AUDITAPP_SECRET_KEY": SECRET})


@pytest.mark.parametrize("url", ["postgresql://postgres:@/postgres?host=/tmp/pg", "postgres://postgres:@/postgres?host=/tmp/pg"])
def test_a_plain_postgresql_url_gets_the_psycopg_driver(url):
    config = load_config(environ={"AUDITAPP_SECRET_KEY": SECRET, "AUDITAPP_DATABASE_URL": url})
    assert config["DATABASE_URL"] == "postgresql+psycopg://postgres:@/postgres?host=/tmp/pg"


@pytest.mark.parametrize("environ, names", [
    ({}, "AUDITAPP_SECRET_KEY is not set"),
    ({"AUDITAPP_SECRET_KEY": "short"}, "AUDITAPP_SECRET_KEY must be at least 32"),
    ({"AUDITAPP_SECRET_KEY": SECRET, "AUDITAPP_LOGIN_MAX_FAILURES": "five"}, "AUDITAPP_LOGIN_MAX_FAILURES must be a whole number"),
    ({"AUDITAPP_SECRET_KEY": SECRET, "AUDITAPP_SESSION_COOKIE_SECURE": "maybe"}, "AUDITAPP_SESSION_COOKIE_SECURE must be true or false"),
    ({"AUDITAPP_SECRET_KEY": SECRET, "AUDITAPP_DATABASE_URL": "mysql://x/y"}, "AUDITAPP_DATABASE_URL must be a postgresql"),
    ({"AUDITAPP_SECRET_KEY": SECRET, "AUDITAPP_DATABASE_URL": "postgresql+psycopg2://u@db/x"},
     "AUDITAPP_DATABASE_URL must be a postgresql"),
    ({"AUDITAPP_SECRET_KEY": SECRET, "AUDITAPP_EVIDENCE_STORE": "ftp"}, "AUDITAPP_EVIDENCE_STORE must be"),
    ({"AUDITAPP_SECRET_KEY": SECRET, "AUDITAPP_EVIDENCE_STORE": "s3"}, "AUDITAPP_S3_BUCKET must name a bucket"),
    ({"AUDITAPP_SECRET_KEY": SECRET, "AUDITAPP_EVIDENCE_STORE": "s3", "AUDITAPP_S3_BUCKET": "evidence",
      "AUDITAPP_S3_ENDPOINT_URL": "s3.example"}, "AUDITAPP_S3_ENDPOINT_URL must be"),
    ({"AUDITAPP_SECRET_KEY": SECRET, "AUDITAPP_EVIDENCE_UPLOAD_TTL_SECONDS": "604801"},
     "AUDITAPP_EVIDENCE_UPLOAD_TTL_SECONDS must be 1 to 604800"),
    ({"AUDITAPP_SECRET_KEY": SECRET, "AUDITAPP_EVIDENCE_RETENTION_DAYS": "0"},
     "AUDITAPP_EVIDENCE_RETENTION_DAYS must be greater than zero"),
    ({"AUDITAPP_SECRET_KEY": SECRET, "AUDITAPP_EVIDENCE_RETENTION_DAYS": "6y"},
     "AUDITAPP_EVIDENCE_RETENTION_DAYS must be a whole number"),
])
def test_bad_settings_stop_start_up_naming_the_variable(environ, names):
    with pytest.raises(ConfigError, match=names):
        load_config(environ={"AUDITAPP_DATABASE_URL": DB, **environ})


def test_create_app_refuses_to_start_without_a_secret(monkeypatch):
    from auditapp import create_app
    monkeypatch.delenv("AUDITAPP_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="AUDITAPP_SECRET_KEY"):
        create_app()


def test_create_app_refuses_to_start_without_a_database(monkeypatch):
    from auditapp import create_app
    monkeypatch.setenv("AUDITAPP_SECRET_KEY", SECRET)
    monkeypatch.delenv("AUDITAPP_DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="AUDITAPP_DATABASE_URL is not set"):
        create_app()
