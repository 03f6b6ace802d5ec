"""Organisations and users: who may sign in, in which role, on behalf of whom."""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, TZDateTime, one_of, utcnow
from .enums import ORGANISATION_KINDS, ROLES


class Organisation(Base):
    __tablename__ = "organisations"
    __table_args__ = (one_of("kind", ORGANISATION_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    users: Mapped[list["User"]] = relationship(back_populates="organisation")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        one_of("role", ROLES),
        UniqueConstraint("email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))  # stored lower-cased by services.users
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_lead_reviewer: Mapped[bool] = mapped_column(Boolean, default=False)
    # Failed sign-ins to this account from any address since the last success (or the last quiet spell),
    # and the short, growing pause they impose on addresses that never signed this user in (services.users).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_failed_login_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # Bumped on password change or deactivation so existing session cookies stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="users", lazy="joined")

    # Flask-Login protocol, kept minimal: the cookie carries id and session version. A signed-in request's
    # current_user is a session_user.SessionUser instead; this one serves the sign-in request itself.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


class SignInAddress(Base):
    """One client address's sign-in record for one account: its recent failures and lock (a stranger's address
    locks only itself out), and when it last signed the user in (a known address skips the account's pause)."""
    __tablename__ = "sign_in_addresses"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_failed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    signed_in_at: Mapped[datetime | None] = mapped_column(TZDateTime)


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class Actor(Protocol):
    """Whoever does something through a service: a request's signed-in user (session_user.SessionUser) or a
    User row (the CLI, the demo seed, tests). Services read these of an actor, and change users only as rows."""

    @property
    def id(self) -> int: ...

    @property
    def role(self) -> str: ...

    @property
    def organisation_id(self) -> int: ...

    @property
    def is_lead_reviewer(self) -> bool: ...

    @property
    def organisation(self) -> _Named: ...
