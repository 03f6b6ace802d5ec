"""Tell school users about providers they watch, or where they have pupils placed: in-app notifications
and queued e-mails.

Notifications and e-mails are written in the transaction of the change they report, so a rolled
back change tells nobody. E-mails wait in `outbound_emails` until `deliver` hands them to the
configured sender: SMTP when AUDITAPP_SMTP_HOST is set, otherwise a folder of .eml files (the
`make run` default), so nothing is lost when the mail server is down — delivery is retried.
Schools only ever read the plain reason categories, never safeguarding detail.
"""
from __future__ import annotations

import secrets
import smtplib
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from .. import clock
from ..models import Notification, OutboundEmail, Placement, Provider, User, Watch
from ..models.enums import DIRECTORY_STATUS_LABELS
from .placements import running_on

# What a school may read about why a status changed (audit-templates.md §1.5: never safeguarding detail).
CATEGORY_LABELS = {
    "safeguarding": "a safeguarding matter the council is looking into",
    "safety": "health and safety findings or overdue actions",
    "education": "the quality of education audit",
    "registration": "whether the provider needs to register as a school",
    "dates": "an audit that is out of date",
    "listing": "the provider's listing",
}
MAX_ATTEMPTS = 10


def plain_reasons(reasons: list[dict]) -> list[str]:
    """The reason categories a school may see, in order, without repeats."""
    seen: list[str] = []
    for reason in reasons:
        label = CATEGORY_LABELS.get(reason.get("category", ""), CATEGORY_LABELS["listing"])
        if label not in seen:
            seen.append(label)
    return seen


def active_watchers(session: Session, provider_ids: list[int]) -> dict[int, list[User]]:
    """The active users watching each of these providers, in one query (a roll-up publishes many at once)."""
    watchers: dict[int, list[User]] = {}
    rows = session.execute(select(Watch.provider_id, User).join(User, Watch.user_id == User.id)
                           .where(Watch.provider_id.in_(provider_ids), User.is_active.is_(True))
                           .order_by(Watch.provider_id, User.id))
    for provider_id, user in rows:
        watchers.setdefault(provider_id, []).append(user)
    return watchers


def status_changed(session: Session, provider: Provider, before: str, after: str, reasons: list[dict],
                   watchers: list[User] | None = None) -> int:
    """Notify every active watcher of `provider` (`watchers`, when read already); return how many were told."""
    if watchers is None:
        watchers = active_watchers(session, [provider.id]).get(provider.id, [])
    name = provider.display_name
    title = f"{name} is now {DIRECTORY_STATUS_LABELS[after]}"
    why = plain_reasons(reasons)
    body = (f"The directory status of {name} changed from {DIRECTORY_STATUS_LABELS[before]} to "
            f"{DIRECTORY_STATUS_LABELS[after]}." + (f" This relates to {'; '.join(why)}." if why else "")
            + " Check the provider's page before placing a child, and contact the AP team with any questions.")
    for user in watchers:
        session.add(Notification(user_id=user.id, provider_id=provider.id, kind="status_changed", title=title, body=body))
        session.add(OutboundEmail(to_address=user.email, subject=title, body=body))
    return len(watchers)


# ---- schools with pupils placed where a status drops ---------------------------------------------

@dataclass
class SchoolsToTell:
    """Who has pupils at which providers today, read once for many providers (a roll-up publishes many)."""
    schools_at: dict[int, set[int]]       # provider id -> schools with a running placement there
    users_of: dict[int, list[User]]       # school organisation id -> its active school users


def schools_to_tell(session: Session, provider_ids: list[int], today: date) -> SchoolsToTell:
    """The schools with a placement running at each provider, and their active school users (two queries)."""
    schools_at: dict[int, set[int]] = {}
    for provider_id, school_id in session.execute(
            select(Placement.provider_id, Placement.school_id).where(Placement.provider_id.in_(provider_ids),
                                                                     *running_on(today))):
        schools_at.setdefault(provider_id, set()).add(school_id)
    schools = set().union(*schools_at.values()) if schools_at else set()
    users_of: dict[int, list[User]] = {}
    if schools:
        for user in session.scalars(select(User).where(User.organisation_id.in_(schools), User.role == "school",
                                                       User.is_active.is_(True)).order_by(User.id)):
            users_of.setdefault(user.organisation_id, []).append(user)
    return SchoolsToTell(schools_at, users_of)


def notify_affected_schools(session: Session, provider: Provider, status: str, today: date,
                            known: SchoolsToTell | None = None) -> int:
    """Tell each school with a running placement at `provider` that its status dropped; return how many users.
    `known`: the same facts read already for many providers (schools_to_tell)."""
    known = known or schools_to_tell(session, [provider.id], today)
    users = [user for school in sorted(known.schools_at.get(provider.id, ())) for user in known.users_of.get(school, [])]
    label = DIRECTORY_STATUS_LABELS[status]
    for user in users:
        session.add(Notification(user_id=user.id, provider_id=provider.id, kind="placement_affected",
                                 title=f"{provider.display_name} is now {label}: review your placement",
                                 body=f"Your school has a pupil placed at {provider.display_name}, which is now {label} "
                                      "in the AP directory. Review the placement now and contact the AP team."))
    return len(users)


# Built once: the layout counts on every school page, and building the statement cost more than running it.
_UNREAD = (select(func.count()).select_from(Notification)
           .where(Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None)))


def unread_count(session: Session, user: User) -> int:
    """How many of the user's notifications are unread."""
    return session.scalar(_UNREAD, {"user_id": user.id})


class EmailSender(Protocol):
    def send(self, to_address: str, subject: str, body: str) -> None:
        """Send one message. :raises OSError: when it could not be handed over."""


@dataclass
class SmtpSender:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    use_tls: bool = True

    def send(self, to_address: str, subject: str, body: str) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=20) as smtp:
            if self.use_tls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(_message(self.sender, to_address, subject, body))


@dataclass
class FolderSender:
    """Writes each message as an .eml file: the `make run` outbox, readable with any mail client."""

    folder: Path
    sender: str

    def send(self, to_address: str, subject: str, body: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # Time first so the folder lists in order; the random part and exclusive create ("x") mean two
        # messages written in the same microsecond never overwrite each other.
        stamp = clock.now().strftime("%Y%m%dT%H%M%S%f")
        with open(self.folder / f"{stamp}-{secrets.token_hex(4)}.eml", "xb") as out:
            out.write(bytes(_message(self.sender, to_address, subject, body)))


def sender_from_config(config: dict) -> EmailSender:
    if config.get("SMTP_HOST"):
        return SmtpSender(config["SMTP_HOST"], int(config.get("SMTP_PORT") or 587), config["MAIL_FROM"],
                          config.get("SMTP_USERNAME"), config.get("SMTP_PASSWORD"),
                          bool(config.get("SMTP_STARTTLS", True)))
    return FolderSender(Path(config["INSTANCE_DIR"]) / "outbox", config["MAIL_FROM"])


def deliver(session: Session, sender: EmailSender, limit: int = 200) -> tuple[int, int]:
    """Hand waiting e-mails to `sender`; return (sent, failed). Failures stay queued for a retry."""
    waiting = session.scalars(select(OutboundEmail).where(OutboundEmail.sent_at.is_(None),
                                                          OutboundEmail.attempts < MAX_ATTEMPTS)
                              .order_by(OutboundEmail.id).limit(limit).with_for_update(skip_locked=True)).all()
    sent = failed = 0
    for email in waiting:
        email.attempts += 1
        try:
            sender.send(email.to_address, email.subject, email.body)
        except (OSError, smtplib.SMTPException) as exc:
            email.last_error = f"{exc.__class__.__name__}: {exc}"[:500]
            failed += 1
            continue
        email.sent_at, email.last_error = clock.now(), None
        sent += 1
    return sent, failed


def _message(sender: str, to_address: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to_address, subject
    message.set_content(body)
    return message
