"""Visits and the audits captured on them: answers, conversations, policy checks, evidence, actions.

Rows created on a device carry the device's UUID as primary key (the server never invents them)
and a server `version` that sync uses to detect stale edits.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (Boolean, BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, Uuid, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, JSONType, TZDateTime, one_of, utcnow
from .enums import (ACTION_PRIORITIES, ACTION_STATUSES, AUDIT_OUTCOMES, AUDIT_STATUSES, AUDIT_TYPES,
                    CONVERSATION_KINDS, EVIDENCE_STATUSES, RATINGS, VISIT_STATUSES)


class Visit(Base):
    __tablename__ = "visits"
    __table_args__ = (one_of("status", VISIT_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    visit_date: Mapped[date] = mapped_column(Date, index=True)
    announced: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    provider = relationship("Provider", lazy="joined")
    site = relationship("Site", lazy="joined")
    assignments: Mapped[list["VisitAssignment"]] = relationship(cascade="all, delete-orphan")
    audit_types: Mapped[list["VisitAuditType"]] = relationship(cascade="all, delete-orphan")
    audits: Mapped[list["Audit"]] = relationship(back_populates="visit")


class VisitAssignment(Base):
    __tablename__ = "visit_assignments"

    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)

    user = relationship("User", lazy="joined")


class VisitAuditType(Base):
    """An audit type planned for a visit (SG and HS usually go together; QE is a separate visit)."""

    __tablename__ = "visit_audit_types"
    __table_args__ = (one_of("audit_type", AUDIT_TYPES),)

    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True)
    audit_type: Mapped[str] = mapped_column(String(30), primary_key=True)


class Audit(Base):
    __tablename__ = "audits"
    __table_args__ = (
        one_of("audit_type", AUDIT_TYPES),
        one_of("status", AUDIT_STATUSES),
        one_of("outcome", AUDIT_OUTCOMES),  # NULL passes a CHECK: no outcome until scored
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("revision >= 1", name="revision_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)  # minted on the device
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    audit_type: Mapped[str] = mapped_column(String(30))
    template_version_id: Mapped[int] = mapped_column(ForeignKey("template_versions.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    outcome: Mapped[str | None] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(Integer, default=1)
    revision: Mapped[int] = mapped_column(Integer, default=1)  # correction number after finalisation
    corrects_audit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("audits.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    finalised_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    finalised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    returned_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    review_round: Mapped[int] = mapped_column(Integer, default=0)  # times returned to the auditor
    # Server-computed scores ({section key: green|amber|red|grey}); the device's figures are display only.
    section_rags: Mapped[dict | None] = mapped_column(JSONType)
    # Everything the reports need, frozen at finalisation: a later correction makes a new audit
    # revision with its own snapshot, so a report once issued never changes.
    snapshot: Mapped[dict | None] = mapped_column(JSONType)

    visit: Mapped[Visit] = relationship(back_populates="audits")
    template_version = relationship("TemplateVersion")



class Answer(Base):
    """One item's rating, or a header field's typed value, within an audit."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("audit_id", "item_key"),
        # The roll-up's newest registration check per provider (rollup.REGISTRATION_ITEM), migration 0007.
        Index("ix_answers_registration_check", "audit_id", postgresql_where=text("item_key = 'HDR-4.5'")),
        one_of("rating", RATINGS),
        CheckConstraint(
            "rating IS NULL OR rating <> 'not_applicable' OR (na_reason IS NOT NULL AND length(na_reason) > 0)", name="na_needs_reason"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    audit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("audits.id"))  # led by the UNIQUE index
    item_key: Mapped[str] = mapped_column(String(20))
    rating: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    na_reason: Mapped[str | None] = mapped_column(Text)
    value: Mapped[dict | None] = mapped_column(JSONType)  # typed header fields (counts, choices)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Per field: [row version when last changed, device id or null]; sync uses it to tell a stale
    # edit of an untouched field (apply) from a clash with someone else's edit (conflict).
    field_meta: Mapped[dict] = mapped_column(JSONType, default=dict)
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)



class Conversation(Base):
    """A pseudonymised learner or staff conversation: a reference (L1, S2), never a name."""

    __tablename__ = "conversations"
    __table_args__ = (
        one_of("kind", CONVERSATION_KINDS),
        UniqueConstraint("audit_id", "reference"),
        CheckConstraint("reference <> ''", name="reference_present"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    audit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("audits.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    reference: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str | None] = mapped_column(String(100))  # key stage for learners, role for staff
    setting: Mapped[str | None] = mapped_column(String(100))
    consent_given: Mapped[bool] = mapped_column(Boolean, default=False)
    responses: Mapped[dict | None] = mapped_column(JSONType)  # prompt key -> short summary
    notes: Mapped[str | None] = mapped_column(Text)
    ended_for_safeguarding: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Per field: [row version when last changed, device id or null]; sync uses it to tell a stale
    # edit of an untouched field (apply) from a clash with someone else's edit (conflict).
    field_meta: Mapped[dict] = mapped_column(JSONType, default=dict)
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class PolicyCheck(Base):
    __tablename__ = "policy_checks"
    __table_args__ = (UniqueConstraint("audit_id", "item_key"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    audit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("audits.id"))  # led by the UNIQUE index
    item_key: Mapped[str] = mapped_column(String(20))
    document_seen: Mapped[bool | None] = mapped_column(Boolean)
    document_version: Mapped[str | None] = mapped_column(String(100))
    review_date: Mapped[date | None] = mapped_column(Date)
    named_person: Mapped[str | None] = mapped_column(String(200))  # a business contact, e.g. the DSL
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Per field: [row version when last changed, device id or null]; sync uses it to tell a stale
    # edit of an untouched field (apply) from a clash with someone else's edit (conflict).
    field_meta: Mapped[dict] = mapped_column(JSONType, default=dict)
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class Evidence(Base):
    """A photo or document expected for an item; the bytes live in the BlobStore under `storage_key`.

    `filename` is a sanitised display name only: keys are always `evidence/<audit-id>/<evidence-id>`.
    """

    __tablename__ = "evidence"
    __table_args__ = (
        one_of("status", EVIDENCE_STATUSES),
        UniqueConstraint("storage_key"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
        CheckConstraint("length(sha256) = 64", name="sha256_hex"),
        CheckConstraint("status <> 'withdrawn' OR (withdrawal_reason IS NOT NULL AND length(withdrawal_reason) > 0)",
                        name="withdrawn_has_reason"),
        CheckConstraint("status <> 'rejected' OR (rejection_reason IS NOT NULL AND rejection_code IS NOT NULL)",
                        name="rejected_has_reason"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    audit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("audits.id"), index=True)
    item_key: Mapped[str] = mapped_column(String(20))
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(100), default="evidence")
    storage_key: Mapped[str] = mapped_column(String(200))  # evidence/<audit-id>/<evidence-id>, never a filename
    # Where confirm copied the verified bytes (evidence/final/<audit-id>/<evidence-id>): no upload URL reaches it,
    # and it is the only key served. None until verified (and for files verified before migration 0012).
    final_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="expected")
    rejection_code: Mapped[str | None] = mapped_column(String(60))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    field_meta: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    # The newest upload target's expiry: an object stored after it is refused at confirm.
    upload_expires_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    uploaded_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # Why the latest confirm could not verify (a stable code), for the reviewers' page.
    last_error: Mapped[str | None] = mapped_column(String(60))
    last_error_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(TZDateTime)


class Action(Base):
    """A corrective action for a Partially met or Not met item; closed only by verification."""

    __tablename__ = "actions"
    __table_args__ = (
        one_of("status", ACTION_STATUSES),
        one_of("priority", ACTION_PRIORITIES),
        CheckConstraint("description <> ''", name="description_present"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    audit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("audits.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    item_key: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    owner_role: Mapped[str] = mapped_column(String(100))
    due_date: Mapped[date] = mapped_column(Date)
    priority: Mapped[str] = mapped_column(String(20), default="normal")
    status: Mapped[str] = mapped_column(String(20), default="proposed")
    verification_note: Mapped[str | None] = mapped_column(Text)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    verification_evidence_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("evidence.id"))
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # the reviewer, at review
    confirmed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    provider_reported_at: Mapped[datetime | None] = mapped_column(TZDateTime)  # never closes an action
    version: Mapped[int] = mapped_column(Integer, default=1)
    field_meta: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
