"""Declarative base, naming convention and column helpers shared by every model module."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

from .. import clock

# The largest value of a PostgreSQL `integer` column (every integer id): larger ids in input are not found.
MAX_INT_ID = 2**31 - 1

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB: indexable and compact.
JSONType = JSONB()
# The one timestamp type: timestamptz, aware UTC in Python (tests/test_time.py checks every model and the schema).
TZDateTime = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The app's clock (aware UTC): every model's default timestamp, set by the app, never by the database."""
    return clock.now()


def one_of(column: str, values: tuple[str, ...], name: str | None = None) -> CheckConstraint:
    """A CHECK constraint that keeps `column` inside an enumerated set."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=name or f"{column}_valid")


def new_uuid() -> uuid.UUID:
    """A fresh UUID for server-created rows (device rows always bring their own)."""
    return uuid.uuid4()
