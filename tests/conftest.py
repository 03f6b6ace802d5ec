"""Shared fixtures: real PostgreSQL (migrated once, each test rolled back), the app, a client
that signs in through the real route, and Playwright on Debian's Chromium.

`make test` (.ci/test.sh) starts PostgreSQL and an S3 endpoint and exports TEST_DATABASE_URL and
TEST_S3_ENDPOINT_URL; without them the suite stops with a message rather than skipping.
"""
from __future__ import annotations

import os
import re
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from auditapp import create_app
from auditapp.config import load_config
from auditapp.db import bind, db as app_db, session_scope
from auditapp.migrate import upgrade

from . import world
from .live_server import serving

TEST_SECRET = "test-secret-" + "x" * 40
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the suite with `make test`, which starts PostgreSQL and S3.", returncode=2)
    return value


# Under pytest-xdist (`make test` runs two workers) each worker is a process with databases of its own:
# every name made here carries the worker's id, so one worker never drops another's database.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _per_worker(name: str) -> str:
    return f"{name}_{_WORKER}" if _WORKER else name


def _fresh_database(base_url: str, name: str, template: str | None = None) -> str:
    """Create database `name` (per worker) on the test server (empty, or a copy of `template`); its URL."""
    name = _per_worker(name)
    admin = create_engine(make_url(base_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def make_test_app(database_url: str, **overrides):
    config = {"DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET, "SESSION_COOKIE_SECURE": False,
              "TESTING": True, "INSTANCE_DIR": "/tmp/auditapp-test-instance" + (f"-{_WORKER}" if _WORKER else ""), **overrides}
    return create_app(config)


WORLD_TEMPLATE = "auditapp_world_template"
_world_template_built = False


def world_upn_key() -> bytes:
    """The UPN hash key of every test app (derived from TEST_SECRET, as in production from the secret key)."""
    config = load_config({"SECRET_KEY": TEST_SECRET, "DATABASE_URL": "postgresql+psycopg://localhost/unused"},
                         environ={})
    return str(config["UPN_HASH_KEY"]).encode()


def world_database(name: str) -> str:
    """A fresh, migrated database called `name` holding the known world (committed); its URL.

    The world is migrated and seeded once per test run into a template database; each caller gets a copy
    (CREATE DATABASE ... TEMPLATE), a fraction of a second instead of seeding the world's history again."""
    global _world_template_built
    base_url = _required_env("TEST_DATABASE_URL")
    if not _world_template_built:
        url = _fresh_database(base_url, WORLD_TEMPLATE)
        upgrade(url)
        binding = bind(url)
        with session_scope(binding) as session:
            world.build(session, upn_key=world_upn_key())
        binding.engine.dispose()
        _world_template_built = True
    return _fresh_database(base_url, name, template=_per_worker(WORLD_TEMPLATE))


@pytest.fixture(scope="session")
def database_url():
    """The HTTP tests' database: the known world, each test rolled back on top of it."""
    return world_database("auditapp_http")


@pytest.fixture(scope="session")
def app(database_url):
    app = make_test_app(database_url)
    yield app
    app_db.binding(app).engine.dispose()


@pytest.fixture
def db_session(app):
    """Bind the app's sessions to one outer transaction that is rolled back after the test."""
    binding = app_db.binding(app)
    connection = binding.engine.connect()
    outer = connection.begin()
    binding.sessionmaker.configure(bind=connection, join_transaction_mode="create_savepoint")
    session = binding.sessionmaker()
    yield session
    session.close()
    binding.sessionmaker.configure(bind=binding.engine, join_transaction_mode="conservative_savepoint")
    outer.rollback()
    connection.close()


@pytest.fixture
def client(app, db_session):
    return app.test_client()


@contextmanager
def rolled_back_session(app):
    """Like `db_session`, for another app on the same database (an S3-mode app, say)."""
    binding = app_db.binding(app)
    connection = binding.engine.connect()
    outer = connection.begin()
    binding.sessionmaker.configure(bind=connection, join_transaction_mode="create_savepoint")
    session = binding.sessionmaker()
    try:
        yield session
    finally:
        session.close()
        binding.sessionmaker.configure(bind=binding.engine, join_transaction_mode="conservative_savepoint")
        outer.rollback()
        connection.close()


# ---- S3 endpoint (moto server started by `make test`) -------------------------------------

@pytest.fixture(scope="session")
def s3_endpoint_url() -> str:
    return _required_env("TEST_S3_ENDPOINT_URL")


def evidence_bucket(endpoint_url: str, cors_origins=()) -> str:
    """A fresh, randomly named bucket; with CORS for `cors_origins` set the way
    `audit-tools evidence setup-bucket` sets it, since moto (like S3) then enforces it for browsers."""
    from auditapp.storage.s3 import S3BlobStore, make_s3_client
    client = make_s3_client({"S3_REGION": "eu-west-2", "S3_ENDPOINT_URL": endpoint_url})
    bucket = f"auditapp-evidence-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    if cors_origins:
        S3BlobStore(client, bucket).allow_browser_uploads(list(cors_origins))
    client.close()
    return bucket


def s3_config(endpoint_url: str, bucket: str) -> dict:
    """Overrides that put an app's evidence in `bucket` on the test S3 endpoint."""
    return {"EVIDENCE_STORE": "s3", "S3_BUCKET": bucket, "S3_ENDPOINT_URL": endpoint_url, "S3_REGION": "eu-west-2"}


class Auth:
    """Sign in and out through the real routes, CSRF token included."""

    def __init__(self, client):
        self.client = client

    def csrf(self, path: str = "/sign-in") -> str:
        return CSRF_RE.search(self.client.get(path).get_data(as_text=True)).group(1)

    def login(self, role: str, password: str = world.PASSWORD):
        return self.client.post("/sign-in", data={"email": world.EMAIL[role], "password": password,
                                                  "csrf_token": self.csrf()})

    def logout(self):
        return self.client.post("/sign-out", data={"csrf_token": self.csrf("/")})


@pytest.fixture
def auth(client):
    return Auth(client)


# ---- browser ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1024, "height": 768}, "has_touch": True}


@pytest.fixture(scope="session")
def live_url():
    """The app on a real port, over its own committed database (threads cannot share a test transaction)."""
    live_app = make_test_app(world_database(f"auditapp_browser_{uuid.uuid4().hex[:8]}"))
    with serving(live_app) as url:
        yield url
