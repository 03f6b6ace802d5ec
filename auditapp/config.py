"""Configuration: defaults, then AUDITAPP_* environment variables, checked once at start-up.

The factory calls `load_config`; nothing else reads the environment. A missing or malformed
setting stops the app with a message naming the variable, rather than failing on first use.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from urllib.parse import urlparse

DEFAULTS: dict[str, object] = {
    "INSTANCE_DIR": None,  # local state for `make run`: embedded PostgreSQL, secret, evidence; default ./instance
    "DATABASE_URL": None,  # required: PostgreSQL 15+ (`make run` sets it to its embedded server)
    "SECRET_KEY": None,
    "EVIDENCE_STORE": "local",  # local | s3
    "EVIDENCE_DIR": None,  # local store folder; default instance/evidence
    "S3_BUCKET": None,
    "S3_REGION": "eu-west-2",
    "S3_ENDPOINT_URL": None,
    "S3_TRUST_CHECKSUMS": None,  # trust the store's own SHA-256 on confirm; None: yes on AWS, no on other endpoints
    # Every S3 call is bounded (storage/s3.py make_s3_client): a silent store answers 503 in ~7 s, never a hung worker.
    "S3_CONNECT_TIMEOUT_SECONDS": 2,
    "S3_READ_TIMEOUT_SECONDS": 3,  # each wait for the store's next bytes, not a whole transfer
    "S3_MAX_ATTEMPTS": 2,  # attempts per call in all (the first one included)
    "SESSION_COOKIE_SECURE": True,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCKOUT_MINUTES": 15,
    # Reverse proxies in front of the app that set X-Forwarded-For/-Proto (a load balancer: 1). Sign-in locks by
    # client address, which is then the one the nearest trusted proxy saw (werkzeug's ProxyFix).
    "PROXY_HOPS": 0,
    "EVIDENCE_MAX_BYTES": 20 * 1024 * 1024,
    "EVIDENCE_UPLOAD_TTL_SECONDS": 300,  # how long an upload target (presigned PUT) stays valid
    "EVIDENCE_RETENTION_DAYS": 2192,  # 6 years (with leap days) after the audit is finalised
    "SHARE_LINK_DAYS": 30,  # how long a provider's action-plan link works
    # Watchers' e-mails (services/notifications.py): SMTP when SMTP_HOST is set, else .eml files in instance/outbox.
    "SMTP_HOST": None,
    "SMTP_PORT": 587,
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": True,
    "MAIL_FROM": "AP directory <no-reply@localhost>",
    # Key for the keyed hash stored instead of a pupil's UPN (services/placements.py). Set it
    # separately from SECRET_KEY in production: rotating SECRET_KEY must not change the hashes.
    "UPN_HASH_KEY": None,
    "PLACEMENT_RETENTION_DAYS": 2557,  # 7 years after a placement ends, then the pupil's data is cleared
    # Held mutations (sync/held.py): a push holding more is answered `rejected` sync.held_limit, and
    # `audit-tools sync purge-held` settles older ones as `rejected` sync.held_expired.
    "HELD_MAX_PER_DEVICE": 5000,
    "HELD_MAX_PER_USER": 20000,
    "HELD_MAX_AGE_DAYS": 30,
}

_BOOL = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
_INT_KEYS = {"LOGIN_MAX_FAILURES", "LOGIN_LOCKOUT_MINUTES", "PROXY_HOPS", "EVIDENCE_MAX_BYTES", "EVIDENCE_UPLOAD_TTL_SECONDS",
             "EVIDENCE_RETENTION_DAYS", "SHARE_LINK_DAYS", "SMTP_PORT", "PLACEMENT_RETENTION_DAYS",
             "HELD_MAX_PER_DEVICE", "HELD_MAX_PER_USER", "HELD_MAX_AGE_DAYS",
             "S3_CONNECT_TIMEOUT_SECONDS", "S3_READ_TIMEOUT_SECONDS", "S3_MAX_ATTEMPTS"}
_ZERO_OK_KEYS = {"PROXY_HOPS"}
_BOOL_KEYS = {"SESSION_COOKIE_SECURE", "SMTP_STARTTLS", "S3_TRUST_CHECKSUMS"}


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the environment variable."""


def load_config(overrides: dict | None = None, environ: dict | None = None, *, require_secret: bool = True) -> dict:
    """Return the checked configuration from defaults, AUDITAPP_* variables and overrides.

    :raises ConfigError: when a setting is missing or malformed.
    """
    environ = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    for key in DEFAULTS:
        raw = environ.get(f"AUDITAPP_{key}")
        if raw is not None and raw != "":
            config[key] = _coerce(key, raw)
    config.update(overrides or {})
    instance = Path(config.get("INSTANCE_DIR") or Path.cwd() / "instance")
    config["INSTANCE_DIR"] = str(instance)
    if not config["EVIDENCE_DIR"]:
        config["EVIDENCE_DIR"] = str(instance / "evidence")
    _check(config, require_secret)
    if not config["UPN_HASH_KEY"] and config.get("SECRET_KEY"):
        config["UPN_HASH_KEY"] = hmac.new(str(config["SECRET_KEY"]).encode(), b"auditapp upn hash",
                                          hashlib.sha256).hexdigest()
    return config


def _coerce(key: str, raw: str) -> object:
    if key in _BOOL_KEYS:
        if raw.lower() not in _BOOL:
            raise ConfigError(f"AUDITAPP_{key} must be true or false, not {raw!r}")
        return _BOOL[raw.lower()]
    if key in _INT_KEYS:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"AUDITAPP_{key} must be a whole number, not {raw!r}") from None
        if value < 0 or (value == 0 and key not in _ZERO_OK_KEYS):
            raise ConfigError(f"AUDITAPP_{key} must be greater than zero" if key not in _ZERO_OK_KEYS
                              else f"AUDITAPP_{key} must be 0 or more")
        return value
    return raw


def _check(config: dict, require_secret: bool) -> None:
    secret = config.get("SECRET_KEY")
    if not secret and require_secret:
        raise ConfigError(
            "AUDITAPP_SECRET_KEY is not set. Generate one with "
            "`python -c 'import secrets; print(secrets.token_hex(32))'` and set it in the environment."
        )
    if secret and len(str(secret)) < 32:
        raise ConfigError("AUDITAPP_SECRET_KEY must be at least 32 characters long")
    config["DATABASE_URL"] = _database_url(config.get("DATABASE_URL"))
    if not 1 <= int(config["EVIDENCE_UPLOAD_TTL_SECONDS"]) <= 7 * 24 * 60 * 60:
        raise ConfigError("AUDITAPP_EVIDENCE_UPLOAD_TTL_SECONDS must be 1 to 604800 (S3's limit for a presigned URL)")
    if not 1 <= int(config["SHARE_LINK_DAYS"]) <= 366:
        raise ConfigError("AUDITAPP_SHARE_LINK_DAYS must be 1 to 366 (a provider's link should not outlive a year)")
    if not 1 <= int(config["SMTP_PORT"]) <= 65535:
        raise ConfigError("AUDITAPP_SMTP_PORT must be a port number, 1 to 65535")
    if "@" not in str(config["MAIL_FROM"]):
        raise ConfigError("AUDITAPP_MAIL_FROM must be an e-mail address, like \"AP directory <no-reply@example.org>\"")
    if config["EVIDENCE_STORE"] not in ("local", "s3"):
        raise ConfigError(f"AUDITAPP_EVIDENCE_STORE must be 'local' or 's3', not {config['EVIDENCE_STORE']!r}")
    if config["EVIDENCE_STORE"] == "s3":
        if not config.get("S3_BUCKET") or len(str(config["S3_BUCKET"])) < 3:
            raise ConfigError("AUDITAPP_S3_BUCKET must name a bucket (3 or more characters) when AUDITAPP_EVIDENCE_STORE=s3")
        endpoint = config.get("S3_ENDPOINT_URL")
        if endpoint and urlparse(str(endpoint)).scheme not in ("http", "https"):
            raise ConfigError("AUDITAPP_S3_ENDPOINT_URL must be an http:// or https:// URL")


def _database_url(url: object) -> str:
    """The PostgreSQL URL, with the psycopg driver named (postgresql:// and postgres:// get it)."""
    if not url:
        raise ConfigError(
            "AUDITAPP_DATABASE_URL is not set. Point it at PostgreSQL 15 or newer "
            "(postgresql+psycopg://user:password@host:5432/auditapp), or use `make run`, "
            "which starts an embedded PostgreSQL under instance/ and sets it."
        )
    scheme, sep, rest = str(url).partition("://")
    if scheme in ("postgresql", "postgres"):
        scheme = "postgresql+psycopg"
    if scheme != "postgresql+psycopg" or not sep:
        raise ConfigError(f"AUDITAPP_DATABASE_URL must be a postgresql+psycopg:// URL (PostgreSQL 15 or newer), "
                          f"not {scheme or 'empty'!r}")
    return f"{scheme}://{rest}"


def instance_dir(environ: dict | None = None) -> Path:
    """The folder of `make run`'s local state (AUDITAPP_INSTANCE_DIR, default ./instance), known before the
    database is: its embedded PostgreSQL lives there."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("AUDITAPP_INSTANCE_DIR") or Path.cwd() / "instance")


def read_or_create_dev_secret(instance_dir: Path) -> str:
    """Return the local development secret in instance/, creating it once (used by `make run`)."""
    import secrets

    path = Path(instance_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
