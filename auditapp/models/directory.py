"""Safeguarding concerns (kept outside the audit record) and maintainers' directory decisions."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, TZDateTime, one_of, utcnow
from .enums import CONCERN_STATUSES, DECISIONS, DIRECTORY_STATUSES


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
