"""Safeguarding concerns (kept outside the audit record), maintainers' directory decisions, the
providers' status history and re-audit triggers, and school users' watches and notifications."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, TZDateTime, one_of, utcnow
from .enums import (CONCERN_STATUSES, DECISIONS, DIRECTORY_STATUSES, NOTIFICATION_KINDS, STATUS_CHANGE_CAUSES,
                    TRIGGER_KINDS)


class SafeguardingConcern(Base):
    """A concern raised during a visit. Only maintainers and named safeguarding staff see it."""

    __tablename__ = "safeguarding_concerns"
    __table_args__ = (one_of("status", CONCERN_STATUSES),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)  # minted on the device
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    occurred_at: Mapped[datetime] = mapped_column(TZDateTime)  # device time, for display only
    received_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    referred_to_role: Mapped[str] = mapped_column(String(100))
    reference_number: Mapped[str | None] = mapped_column(String(100))
    about_provider_or_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")
    triaged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    triaged_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    triage_note: Mapped[str | None] = mapped_column(Text)  # what the maintainer did; maintainers only, never logged
    version: Mapped[int] = mapped_column(default=1)


class DirectoryDecision(Base):
    """A maintainer's decision on a provider's published status, always with a reason."""

    __tablename__ = "directory_decisions"
    __table_args__ = (
        one_of("decision", DECISIONS),
        one_of("from_status", DIRECTORY_STATUSES),
        one_of("to_status", DIRECTORY_STATUSES),
        CheckConstraint("reason_text <> ''", name="reason_present"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    decision: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason_codes: Mapped[list] = mapped_column(JSONType, default=list)
    reason_text: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    # A reinstatement after a safeguarding suspension is confirmed by a second maintainer.
    confirms_decision_id: Mapped[int | None] = mapped_column(ForeignKey("directory_decisions.id"))
    audit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("audits.id"))
    concern_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("safeguarding_concerns.id"))


class ProviderStatusChange(Base):
    """One entry of a provider's history timeline: a computed or published status change."""

    __tablename__ = "provider_status_changes"
    __table_args__ = (
        one_of("kind", ("computed", "published")),
        one_of("from_status", DIRECTORY_STATUSES),
        one_of("to_status", DIRECTORY_STATUSES),
        one_of("cause", STATUS_CHANGE_CAUSES),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[list] = mapped_column(JSONType, default=list)  # [{code, text, category, safeguarding}]
    cause: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # NULL: the roll-up
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("directory_decisions.id"))
    audit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("audits.id"))
    changed_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, index=True)


class ProviderTrigger(Base):
    """A notified change that calls for a re-audit (audit-templates.md §1.6), until a visit covers it."""

    __tablename__ = "provider_triggers"
    __table_args__ = (one_of("kind", TRIGGER_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    reported_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reported_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))  # the visit scheduled for it
    resolved_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Watch(Base):
    """A school user who wants to hear when a provider's published status changes."""

    __tablename__ = "watches"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class Notification(Base):
    """An in-app notification; e-mail copies go through OutboundEmail."""

    __tablename__ = "notifications"
    __table_args__ = (one_of("kind", NOTIFICATION_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(TZDateTime)


class OutboundEmail(Base):
    """An e-mail waiting for the configured sender (SMTP, or a file outbox in `make run`).

    Written in the same transaction as the change it reports, so a rollback sends nothing.
    """

    __tablename__ = "outbound_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(TZDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
