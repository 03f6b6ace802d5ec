"""Audit templates and their immutable published versions (checklists as data)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, JSONType, TZDateTime, one_of, utcnow
from .enums import AUDIT_TYPES


class AuditTemplate(Base):
    __tablename__ = "audit_templates"
    __table_args__ = (one_of("audit_type", AUDIT_TYPES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_type: Mapped[str] = mapped_column(String(30), unique=True)
    title: Mapped[str] = mapped_column(String(200))

    versions: Mapped[list["TemplateVersion"]] = relationship(
        back_populates="template", order_by="TemplateVersion.version"
    )


class TemplateVersion(Base):
    """One published version. Rows are never updated: a change is a new version."""

    __tablename__ = "template_versions"
    __table_args__ = (
        UniqueConstraint("template_id", "version"),
        UniqueConstraint("template_id", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("audit_templates.id"))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict] = mapped_column(JSONType)
    content_hash: Mapped[str] = mapped_column(String(64))
    source_file: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    template: Mapped[AuditTemplate] = relationship(back_populates="versions")
