"""The append-only audit log and sync bookkeeping (devices, processed mutations, change log)."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, TZDateTime, one_of, utcnow
from .enums import CHANGE_OPS, MUTATION_STATUSES

class AuditLogEntry(Base):
    """Who did what, when, with before/after. PostgreSQL refuses UPDATE and DELETE on it (trigger)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JSONType)
    after: Mapped[dict | None] = mapped_column(JSONType)

    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)  # minted by the browser
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    label: Mapped[str | None] = mapped_column(String(200))
    registered_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class ProcessedMutation(Base):
    """Idempotency record: a replayed (device, mutation) returns the stored result."""

    __tablename__ = "processed_mutations"
    __table_args__ = (one_of("status", MUTATION_STATUSES),)

    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    mutation_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    payload_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int | None] = mapped_column(Integer)
    # Null for an applied mutation: status, entity_id and version say it all, and a replay of
    # 10,000 mutations then reads no JSON. Other outcomes keep their full result.
    result: Mapped[dict | None] = mapped_column(JSONType)
    processed_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class ChangeLogEntry(Base):
    """Server-ordered feed of changes for /sync/pull; tombstones are rows with op 'delete'."""

    __tablename__ = "change_log"
    __table_args__ = (one_of("op", CHANGE_OPS),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    op: Mapped[str] = mapped_column(String(10), default="upsert")
    audit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    changed_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    # Set on entries meant for one user only (a held mutation's final outcome, `entity` "mutation"):
    # pulled by that user whatever their audits, by nobody else. Such entries have no audit_id.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The entry's payload when it is an event rather than an entity's current state: a mutation's
    # final result never changes, so pull sends this snapshot and reads no other table for it.
    data: Mapped[dict | None] = mapped_column(JSONType)


class SyncConflict(Base):
    """Two devices changed one field from the same base: both values kept, the reviewer picks."""

    __tablename__ = "sync_conflicts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    audit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("audits.id"), index=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    field: Mapped[str] = mapped_column(String(60))
    base_version: Mapped[int] = mapped_column(Integer)
    server_value: Mapped[dict | None] = mapped_column(JSONType)  # {"value": …} so null is representable
    device_value: Mapped[dict | None] = mapped_column(JSONType)
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    mutation_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    chosen_value: Mapped[dict | None] = mapped_column(JSONType)  # {"value": …}: what the reviewer kept
    resolution_note: Mapped[str | None] = mapped_column(Text)


class HeldMutation(Base):
    """A mutation whose parent audit is not on the server yet; applied when the parent arrives.

    Capped per device and per user, and settled as rejected `sync.held_expired` by
    `audit-tools sync purge-held` after AUDITAPP_HELD_MAX_AGE_DAYS (sync/held.py).
    """

    __tablename__ = "held_mutations"

    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    mutation_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    parent_audit_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)  # indexed: the per-user cap counts
    mutation: Mapped[dict] = mapped_column(JSONType)  # the mutation exactly as received
    held_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
