"""Placement notifications (the strategy's Appendix A placement sheet) and their reviews.

Kept apart from audits with their own access rules (shared/domain/README.md §11): only the placing
school and LA roles read them; audits and the directory only ever see counts. Pupil data is
minimised: initials, year group, date of birth, and the UPN only as a keyed hash for spotting
duplicates. Purging (retention) clears the pupil columns and keeps the placement facts the
dashboard counts.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, Numeric, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TZDateTime, one_of, utcnow
from .enums import ATTENDANCE_CODES, PLACEMENT_OUTCOMES, PLACEMENT_STATUSES


class Placement(Base):
    __tablename__ = "placements"
    __table_args__ = (
        one_of("status", PLACEMENT_STATUSES),
        one_of("outcome", PLACEMENT_OUTCOMES),
        one_of("attendance_code", ATTENDANCE_CODES),
        CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date", name="ends_after_start"),
        CheckConstraint("hours_per_week IS NULL OR (hours_per_week > 0 AND hours_per_week <= 40)",
                        name="hours_in_range"),
        CheckConstraint("year_group IS NULL OR (year_group >= 0 AND year_group <= 14)", name="year_group_in_range"),
        CheckConstraint("attendance_at_referral IS NULL OR (attendance_at_referral >= 0 "
                        "AND attendance_at_referral <= 100)", name="attendance_is_a_percentage"),
        CheckConstraint("upn_sha256 IS NULL OR length(upn_sha256) = 64", name="upn_hash_hex"),
        # One notification per pupil, provider and dates: a second submission of the same is refused.
        Index("uq_placements_pupil_provider_dates", "upn_sha256", "provider_id", "start_date", "end_date",
              unique=True, postgresql_where=text("status <> 'draft'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)  # the placing school
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | submitted | ended
    # The pupil, minimised (cleared by a purge).
    pupil_initials: Mapped[str | None] = mapped_column(String(4))
    year_group: Mapped[int | None] = mapped_column(Integer)
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    upn_sha256: Mapped[str | None] = mapped_column(String(64))  # HMAC-SHA256 of the UPN with a server key
    send_support: Mapped[bool] = mapped_column(Boolean, default=False)
    has_ehcp: Mapped[bool] = mapped_column(Boolean, default=False)
    health_needs: Mapped[bool] = mapped_column(Boolean, default=False)
    sensitive_notes: Mapped[str | None] = mapped_column(String(500))  # short, marked sensitive on every page
    # The school's key contact.
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_role: Mapped[str | None] = mapped_column(String(100))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    # Referral.
    attendance_at_referral: Mapped[float | None] = mapped_column(Numeric(5, 1))
    interventions: Mapped[str | None] = mapped_column(Text)
    family_support: Mapped[str | None] = mapped_column(Text)
    safety_information: Mapped[str | None] = mapped_column(Text)
    risk_assessment_ref: Mapped[str | None] = mapped_column(String(100))
    # The placement.
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    conditions_acknowledged_at: Mapped[datetime | None] = mapped_column(TZDateTime)  # a Conditional provider
    hours_per_week: Mapped[float | None] = mapped_column(Numeric(4, 1))
    part_time: Mapped[bool] = mapped_column(Boolean, default=False)
    start_date: Mapped[date | None] = mapped_column(Date, index=True)
    end_date: Mapped[date | None] = mapped_column(Date)
    learning_outcomes: Mapped[str | None] = mapped_column(Text)
    success_measures: Mapped[str | None] = mapped_column(Text)
    exit_strategy: Mapped[str | None] = mapped_column(Text)
    child_voice: Mapped[str | None] = mapped_column(Text)
    family_voice: Mapped[str | None] = mapped_column(Text)
    other_ap: Mapped[str | None] = mapped_column(Text)
    attendance_code: Mapped[str | None] = mapped_column(String(1))  # B (school-arranged) or K (council-arranged)
    re_referral_of_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("placements.id"))
    # The end.
    outcome: Mapped[str | None] = mapped_column(String(30))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    ended_on: Mapped[date | None] = mapped_column(Date)
    submitted_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class PlacementReview(Base):
    """A review of a placement (at least half-termly) with a short progress record."""

    __tablename__ = "placement_reviews"
    __table_args__ = (CheckConstraint("progress <> ''", name="progress_present"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    placement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("placements.id"), index=True)
    review_date: Mapped[date] = mapped_column(Date)
    progress: Mapped[str] = mapped_column(Text)
    next_review_date: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
