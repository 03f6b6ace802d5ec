"""What happens after the visit: reviewers' comments, QoE grades and moderation, share links.

Audits themselves (status, outcome, snapshot at finalisation) live in audits.py; this module holds
the review records that hang off them.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TZDateTime, one_of, utcnow
from .enums import MODERATION_DECISIONS, QOE_GRADES, SHARE_LINK_PURPOSES


class ReviewComment(Base):
    """A reviewer's comment when returning an audit: on one item, or on the audit as a whole."""

    __tablename__ = "review_comments"
    __table_args__ = (CheckConstraint("body <> ''", name="body_present"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("audits.id"), index=True)
    item_key: Mapped[str | None] = mapped_column(String(20))  # NULL: about the whole audit
    body: Mapped[str] = mapped_column(Text)
    review_round: Mapped[int] = mapped_column(Integer)  # 1 for the first return, 2 for the next…
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    addressed_at: Mapped[datetime | None] = mapped_column(TZDateTime)  # set when the audit is resubmitted


class QoeGrade(Base):
    """A QoE teacher's grade for one judgement area (or `overall`), and a second teacher's moderation.

    The moderated grade is the one that counts; until moderation the grade is provisional.
    """

    __tablename__ = "qoe_grades"
    __table_args__ = (
        UniqueConstraint("audit_id", "area"),
        one_of("grade", QOE_GRADES),
        one_of("moderated_grade", QOE_GRADES),
        one_of("moderation", MODERATION_DECISIONS),
        CheckConstraint("moderated_by_id IS NULL OR moderated_by_id <> graded_by_id", name="moderator_not_grader"),
        CheckConstraint("moderation IS NULL OR moderation <> 'changed' OR "
                        "(moderation_reason IS NOT NULL AND length(moderation_reason) > 0)",
                        name="changed_grade_has_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("audits.id"))  # led by the UNIQUE index
    area: Mapped[str] = mapped_column(String(40))  # a judgement area key, or "overall"
    grade: Mapped[str] = mapped_column(String(20))
    rationale: Mapped[str | None] = mapped_column(Text)
    graded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    graded_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    moderation: Mapped[str | None] = mapped_column(String(20))  # agreed | changed
    moderated_grade: Mapped[str | None] = mapped_column(String(20))
    moderation_reason: Mapped[str | None] = mapped_column(Text)
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    moderated_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)


class ShareLink(Base):
    """A read-only, expiring link for someone without an account (a provider's action plan).

    Only the SHA-256 of the token is stored, so a database reader cannot use the links.
    """

    __tablename__ = "share_links"
    __table_args__ = (UniqueConstraint("token_sha256"), one_of("purpose", SHARE_LINK_PURPOSES),
                      CheckConstraint("length(token_sha256) = 64", name="token_sha256_hex"))

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("audits.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(30))
    token_sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(TZDateTime)
