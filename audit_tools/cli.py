"""`audit-tools`: operators' commands. Each opens one transaction and calls services."""
from __future__ import annotations

import json
import os
import secrets
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from audit_tools import devserver
from auditapp import clock, migrate
from auditapp.config import ConfigError, instance_dir, load_config, read_or_create_dev_secret
from auditapp.db import bind, session_scope
from auditapp.models import Organisation
from auditapp.models.enums import DIRECTORY_STATUS_LABELS, ROLES
from auditapp.services import actions, demo, evidence_files, notifications, placements, rollup, templates, users
from auditapp.services.errors import DomainError
from auditapp.storage import BlobStoreUnavailable, build_blob_store
from sync import held as held_mutations


class Context:
    """Configuration and a database for one command, built on first use."""

    def __init__(self) -> None:
        self._config: dict | None = None

    @property
    def config(self) -> dict:
        if self._config is None:
            self._config = load_config(require_secret=False)
        return self._config

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction for the command: committed on success, rolled back on error."""
        binding = bind(self.config["DATABASE_URL"])
        try:
            with session_scope(binding) as session:
                yield session
        finally:
            binding.engine.dispose()  # a command is one unit of work: keep no pool behind


pass_context = click.make_pass_decorator(Context, ensure=True)


@click.group()
def cli() -> None:
    """Operate auditapp: database, templates, users, evidence, held sync mutations, the directory roll-up, e-mails
    and the demo world."""


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Migrate the database to the newest schema."""
    migrate.upgrade(ctx.config["DATABASE_URL"])
    click.echo("Database is at the newest schema.")


@cli.group("templates")
def templates_group() -> None:
    """Audit templates."""


@templates_group.command("publish")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def templates_publish(ctx: Context, files: tuple[Path, ...]) -> None:
    """Publish template YAML FILES (default: the three standard templates)."""
    with ctx.transaction() as session:
        results = ([templates.publish_template(session, None, f) for f in files] if files
                   else templates.publish_all(session, None))
    for r in results:
        click.echo(f"{r.audit_type:<20} version {r.version:<3} {r.status:<10} {r.content_hash[:12]}")


@templates_group.command("list")
@pass_context
def templates_list(ctx: Context) -> None:
    """List published template versions."""
    with ctx.transaction() as session:
        for v in templates.list_versions(session):
            click.echo(f"{v.template.audit_type:<20} version {v.version:<3} {v.published_at:%Y-%m-%d %H:%M} {v.content_hash[:12]}")


@cli.group("users")
def users_group() -> None:
    """User accounts."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--organisation", required=True, help="Organisation name, exactly as listed by `users list`.")
@click.option("--lead-reviewer", is_flag=True, help="May review and finalise other auditors' audits.")
@click.password_option(help="Prompted for when not given (at least 12 characters).")
@pass_context
def users_create(ctx: Context, email, full_name, role, organisation, lead_reviewer, password) -> None:
    """Create a user."""
    with ctx.transaction() as session:
        org = session.scalar(select(Organisation).where(Organisation.name == organisation))
        if org is None:
            raise click.UsageError(f"No organisation called {organisation!r}")
        user = users.create_user(session, None, users.NewUser(email=email, full_name=full_name, role=role,
                                 organisation_id=org.id, password=password, is_lead_reviewer=lead_reviewer))
        click.echo(f"Created {user.email} ({user.role}, {org.name}).")


@users_group.command("list")
@pass_context
def users_list(ctx: Context) -> None:
    """List users."""
    with ctx.transaction() as session:
        for u in users.list_users(session):
            click.echo(f"{u.email:<40} {u.role:<12} {u.organisation.name:<35} {'active' if u.is_active else 'inactive'}")


@cli.group("evidence")
def evidence_group() -> None:
    """Evidence files: retention and the S3 bucket."""


@evidence_group.command("purge")
@click.option("--older-than", "older_than", metavar="PERIOD",
              help="Delete evidence of audits finalised longer ago than this: 6y, 8w or 2192d "
                   "(default: AUDITAPP_EVIDENCE_RETENTION_DAYS days).")
@click.option("--dry-run", is_flag=True, help="List what would be deleted and delete nothing.")
@pass_context
def evidence_purge(ctx: Context, older_than: str | None, dry_run: bool) -> None:
    """Delete evidence past its retention period from the store and mark it purged (each one logged)."""
    period = older_than or f"{ctx.config['EVIDENCE_RETENTION_DAYS']}d"
    try:
        cutoff = evidence_files.retention_cutoff(period, clock.now())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    store = build_blob_store(ctx.config)
    try:
        with ctx.transaction() as session:
            report = evidence_files.purge_evidence(session, None, store, cutoff, dry_run=dry_run)
    finally:
        _close_store(store)
    verb = "Would purge" if dry_run else f"Purged {report.purged} of"
    click.echo(f"{verb} {len(report.items)} evidence files of audits finalised before {cutoff:%Y-%m-%d %H:%M} UTC.")
    for item in report.items:
        click.echo(f"  {item.evidence_id}  audit {item.audit_id}  {item.item_key:<8} {item.status:<9} "
                   f"finalised {item.finalised_at:%Y-%m-%d}")
    if report.error:
        click.echo(f"Error: stopped early, the store failed: {report.error}", err=True)
        sys.exit(1)


@evidence_group.command("setup-bucket")
@click.option("--origin", "origins", multiple=True, required=True, metavar="URL",
              help="The app's origin, like https://audits.example.org (repeat for several).")
@pass_context
def evidence_setup_bucket(ctx: Context, origins: tuple[str, ...]) -> None:
    """Create the S3 bucket if it is missing (in AUDITAPP_S3_REGION), then let browsers on the app's origin PUT
    and GET evidence in it (sets the bucket's CORS). Safe to run again."""
    if ctx.config["EVIDENCE_STORE"] != "s3":
        raise click.UsageError("AUDITAPP_EVIDENCE_STORE is not s3: the local store needs no bucket")
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
            raise click.BadParameter(f"{origin!r} is not an origin like https://audits.example.org",
                                     param_hint="--origin")
    store = build_blob_store(ctx.config)
    try:
        if store.ensure_bucket(ctx.config.get("S3_REGION")):
            click.echo(f"Created bucket {ctx.config['S3_BUCKET']} in {ctx.config.get('S3_REGION') or 'us-east-1'}.")
        store.allow_browser_uploads([origin.rstrip("/") for origin in origins])
    except BlobStoreUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        _close_store(store)
    click.echo(f"Bucket {ctx.config['S3_BUCKET']} now accepts PUT and GET from: {', '.join(origins)}")


def _close_store(store) -> None:
    client = getattr(store, "client", None)
    if client is not None:
        client.close()


@cli.command("rollup")
@click.option("--today", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Compute as of this date (default: today in the UK).")
@pass_context
def rollup_command(ctx: Context, as_of: datetime | None) -> None:
    """Mark actions past their due date overdue, then recompute every open provider's directory status
    for date-driven expiry; print what changed.

    Idempotent: a second run on the same day changes nothing. Meant for cron, once a day.
    """
    day = as_of.date() if as_of else clock.today()
    with ctx.transaction() as session:
        overdue = actions.mark_overdue(session, day)  # before the roll-up, which reads action statuses
        changes = rollup.recompute(session, None, day, "rollup")
    if overdue:
        click.echo(f"{len(overdue)} action{'' if len(overdue) == 1 else 's'} now overdue.")
    for change in changes:
        what = "published status" if change.kind == "published" else "the audits say"
        click.echo(f"{change.provider_name} (#{change.provider_id}): {what} "
                   f"{DIRECTORY_STATUS_LABELS[change.from_status]} -> {DIRECTORY_STATUS_LABELS[change.to_status]}")
    changed = len({c.provider_id for c in changes})
    click.echo(f"Roll-up as of {day:%Y-%m-%d}: {changed} provider{'' if changed == 1 else 's'} changed."
               if changed else f"Roll-up as of {day:%Y-%m-%d}: no changes.")


@cli.group("emails")
def emails_group() -> None:
    """E-mails to school users watching providers."""


@emails_group.command("send")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 10_000),
              help="Send at most this many in one run.")
@pass_context
def emails_send(ctx: Context, limit: int) -> None:
    """Deliver queued e-mails with the configured sender (SMTP, or .eml files in instance/outbox).

    Failures stay queued and are retried by the next run; the exit code is 1 when any failed.
    """
    sender = notifications.sender_from_config(ctx.config)
    with ctx.transaction() as session:
        sent, failed = notifications.deliver(session, sender, limit)
    smtp = ctx.config.get("SMTP_HOST")
    where = f"SMTP {smtp}" if smtp else str(Path(ctx.config["INSTANCE_DIR"]) / "outbox")
    click.echo(f"Sent {sent} e-mail{'' if sent == 1 else 's'} via {where}; {failed} failed.")
    if failed:
        click.echo("Failed e-mails stay queued and are retried on the next run.", err=True)
        sys.exit(1)


@cli.group("placements")
def placements_group() -> None:
    """Placement notifications: retention."""


@placements_group.command("purge")
@click.option("--older-than-days", "days", type=click.IntRange(1, 100_000), metavar="DAYS",
              help="Clear pupil data from placements that ended longer ago than this "
                   "(default: AUDITAPP_PLACEMENT_RETENTION_DAYS).")
@click.option("--dry-run", is_flag=True, help="List what would be cleared and change nothing.")
@pass_context
def placements_purge(ctx: Context, days: int | None, dry_run: bool) -> None:
    """Clear the pupil's data from placements past retention; the dashboard's counts stay (each logged)."""
    days = days or int(ctx.config["PLACEMENT_RETENTION_DAYS"])
    cutoff = clock.today() - timedelta(days=days)
    with ctx.transaction() as session:
        ids = placements.purge(session, None, cutoff, dry_run=dry_run)
    verb = "Would clear" if dry_run else "Cleared"
    click.echo(f"{verb} pupil data from {len(ids)} placement{'' if len(ids) == 1 else 's'} that ended before "
               f"{cutoff:%Y-%m-%d}.")
    for placement_id in ids:
        click.echo(f"  {placement_id}")


@cli.group("sync")
def sync_group() -> None:
    """Device sync: held mutations."""


@sync_group.command("purge-held")
@click.option("--older-than-days", "days", type=click.IntRange(1, 100_000), metavar="DAYS",
              help="Settle mutations held longer than this (default: AUDITAPP_HELD_MAX_AGE_DAYS).")
@click.option("--dry-run", is_flag=True, help="Count what would be settled and change nothing.")
@pass_context
def sync_purge_held(ctx: Context, days: int | None, dry_run: bool) -> None:
    """Settle mutations still waiting for their audit as rejected sync.held_expired (each device's pull says so)."""
    days = days or int(ctx.config["HELD_MAX_AGE_DAYS"])
    cutoff = clock.now() - timedelta(days=days)
    with ctx.transaction() as session:
        rows = held_mutations.purge_expired(session, cutoff, dry_run=dry_run)
        count, devices = len(rows), len({h.device_id for h in rows})
    verb = "Would settle" if dry_run else "Settled"
    click.echo(f"{verb} {count} held mutation{'' if count == 1 else 's'} from {devices} "
               f"device{'' if devices == 1 else 's'} waiting since before {cutoff:%Y-%m-%d %H:%M} UTC.")


@cli.command("seed-demo")
@click.option("--passwords-file", type=click.Path(dir_okay=False, path_type=Path),
              help="JSON file of demo passwords; created with fresh random passwords when missing.")
@pass_context
def seed_demo(ctx: Context, passwords_file: Path | None) -> None:
    """Create the demo world (idempotent) and print the demo sign-ins."""
    path = passwords_file or Path(ctx.config["INSTANCE_DIR"]) / "demo-passwords.json"
    passwords, fresh = _demo_passwords(path)
    with ctx.transaction() as session:
        key = ctx.config["UPN_HASH_KEY"]  # None without a secret: then no demo placements
        seeded = demo.seed_demo(session, passwords, reset_passwords=fresh, upn_key=str(key).encode() if key else None)
    click.echo("\nDemo sign-ins (demo data only; passwords are kept in %s):" % path)
    for s in seeded:
        click.echo(f"  {s.role:<12} {s.email:<38} {passwords[s.email]}   ({s.organisation})")


@cli.command("dev-run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to serve on.")
@click.option("--prepare-only", is_flag=True, help="Prepare the database and the demo, then stop (no web server).")
@click.pass_context
def dev_run(click_ctx: click.Context, host: str, port: int, prepare_only: bool) -> None:
    """`make run`: start the embedded PostgreSQL in instance/pgdata (unless AUDITAPP_DATABASE_URL is set),
    prepare the demo (dev-prepare), serve it with Flask's server; Ctrl-C stops both."""
    serve = None if prepare_only else [sys.executable, "-m", "flask", "--app", "wsgi:app", "run",
                                       "--host", host, "--port", str(port)]
    sys.exit(devserver.run(instance_dir(), lambda: click_ctx.invoke(dev_prepare), serve))


@cli.command("dev-prepare")
@click.pass_context
def dev_prepare(click_ctx: click.Context) -> None:
    """For `make run` (dev-run runs it): make the local secret, migrate, seed the demo world, roll its statuses
    up, in the database AUDITAPP_DATABASE_URL names."""
    ctx = click_ctx.ensure_object(Context)
    secret = read_or_create_dev_secret(Path(ctx.config["INSTANCE_DIR"]))
    ctx.config.update(load_config({"SECRET_KEY": secret}))  # the served app's keys: the demo placements' UPN hashes
    click_ctx.invoke(db_upgrade)
    click_ctx.invoke(seed_demo, passwords_file=None)
    click_ctx.invoke(rollup_command, as_of=None)  # the demo's directory statuses and maintainers' queue


def _demo_passwords(path: Path) -> tuple[dict[str, str], bool]:
    if path.exists():
        stored = json.loads(path.read_text())
        if all(row[0] in stored for row in demo.DEMO_USERS):
            return stored, False
    passwords = {row[0]: f"demo-{secrets.token_urlsafe(9)}" for row in demo.DEMO_USERS}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(passwords, indent=2))
    os.chmod(path, 0o600)
    return passwords, True


def main() -> None:
    """Entry point: turn known errors into a message and exit code 1 instead of a traceback."""
    try:
        cli(standalone_mode=True)
    except (ConfigError, DomainError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
