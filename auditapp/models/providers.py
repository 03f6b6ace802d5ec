"""Providers in the joint directory and the sites where learners attend."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, JSONType, TZDateTime, one_of, utcnow
from .enums import DELIVERY_MODES, DIRECTORY_STATUSES, DISTRICTS, KEY_STAGES, PROVISION_TYPES, REGISTRATION_STATUSES, TIME_BASES


class Provider(Base):
    __tablename__ = "providers"
    __table_args__ = (
        one_of("registration_status", REGISTRATION_STATUSES),
        one_of("directory_status", DIRECTORY_STATUSES),
        one_of("computed_status", DIRECTORY_STATUSES),
        one_of("time_basis", TIME_BASES),
        one_of("delivery_mode", DELIVERY_MODES),
        one_of("district", DISTRICTS),
        CheckConstraint("age_min >= 4 AND age_max <= 19 AND age_min <= age_max", name="age_range_valid"),
        CheckConstraint("cost_per_day_pence IS NULL OR cost_per_day_pence >= 0", name="cost_not_negative"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200), unique=True)
    trading_name: Mapped[str | None] = mapped_column(String(200))
    company_number: Mapped[str | None] = mapped_column(String(20))
    charity_number: Mapped[str | None] = mapped_column(String(20))
    registration_status: Mapped[str] = mapped_column(String(20), default="not_checked")
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    offer_summary: Mapped[str | None] = mapped_column(Text)
    age_min: Mapped[int] = mapped_column(Integer)
    age_max: Mapped[int] = mapped_column(Integer)
    send_specialism: Mapped[bool] = mapped_column(Boolean, default=False)
    semh_specialism: Mapped[bool] = mapped_column(Boolean, default=False)
    district: Mapped[str] = mapped_column(String(40), index=True)
    time_basis: Mapped[str] = mapped_column(String(20))
    delivery_mode: Mapped[str] = mapped_column(String(20))
    cost_per_day_pence: Mapped[int | None] = mapped_column(Integer)
    capacity: Mapped[int | None] = mapped_column(Integer)
    # The published status: what schools see. Only the roll-up (within the rules of
    # services/directory.py) and maintainers' decisions change it.
    directory_status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    first_listed_on: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    # The computed eligibility (services/eligibility.py) and why, as of computed_at.
    computed_status: Mapped[str] = mapped_column(String(20), default="pending")
    computed_rule: Mapped[str | None] = mapped_column(String(4))
    computed_reasons: Mapped[list] = mapped_column(JSONType, default=list)
    computed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    valid_until: Mapped[date | None] = mapped_column(Date)
    reaudit_due: Mapped[date | None] = mapped_column(Date, index=True)
    status_changed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # True while the computed status asks for a maintainer's decision; urgency orders the queue
    # (safeguarding first).
    needs_decision: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    queue_urgency: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # Bumped on every change schools can see: the API's ETag, and stale-form detection.
    version: Mapped[int] = mapped_column(Integer, default=1)

    sites: Mapped[list["Site"]] = relationship(back_populates="provider", order_by="Site.id")
    provision_types: Mapped[list["ProviderProvisionType"]] = relationship(cascade="all, delete-orphan")
    key_stages: Mapped[list["ProviderKeyStage"]] = relationship(cascade="all, delete-orphan")
    councils: Mapped[list["ProviderCouncil"]] = relationship(cascade="all, delete-orphan")

    @property
    def display_name(self) -> str:
        return self.trading_name or self.legal_name


class ProviderProvisionType(Base):
    __tablename__ = "provider_provision_types"
    __table_args__ = (one_of("provision_type", PROVISION_TYPES),)

    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True)
    provision_type: Mapped[str] = mapped_column(String(20), primary_key=True)


class ProviderKeyStage(Base):
    __tablename__ = "provider_key_stages"
    __table_args__ = (one_of("key_stage", KEY_STAGES),)

    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True)
    key_stage: Mapped[str] = mapped_column(String(4), primary_key=True)


class ProviderCouncil(Base):
    """Which council(s) commission from and list the provider."""

    __tablename__ = "provider_councils"

    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)

    organisation = relationship("Organisation", lazy="joined")


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address_line1: Mapped[str] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    town: Mapped[str] = mapped_column(String(100))
    postcode: Mapped[str] = mapped_column(String(10))
    is_main: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    provider: Mapped[Provider] = relationship(back_populates="sites")


class DirectoryStamp(Base):
    """One row whose value moves in every committed change to providers, their types or key stages.

    Kept by database triggers (migration 0008), never by the app: the search reads it to know whether
    results it rendered earlier still hold, in any worker process (web/directory_cache.py).
    """

    __tablename__ = "directory_stamp"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
