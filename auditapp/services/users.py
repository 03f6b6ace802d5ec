"""Users: creation by admins, password sign-in with lockout by account and address, sign-out everywhere,
listing scoped to the caller."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import clock
from ..models import Organisation, SignInAddress, User
from ..models.people import Actor
from ..models.enums import ROLES
from . import audit_log
from .errors import AuthenticationFailed, Conflict, Invalid, NotFound

_hasher = PasswordHasher()
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 12
# Which organisation kinds each role may belong to: an auditor works for the contractor,
# a QoE teacher or maintainer for a council, school staff for a school.
ROLE_ORGANISATION_KINDS = {
    "auditor": {"contractor"},
    "qoe_teacher": {"council"},
    "maintainer": {"council"},
    "school": {"school"},
    "admin": {"council", "contractor"},
    "la_officer": {"council"},
}
# Checked against even when the email is unknown, so a wrong email and a wrong password take
# the same time and an attacker cannot enumerate accounts by timing.
_DUMMY_HASH = _hasher.hash("not-a-real-password-but-a-timing-shield")


@dataclass(frozen=True)
class NewUser:
    email: str
    full_name: str
    role: str
    organisation_id: int
    password: str
    is_lead_reviewer: bool = False


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher.hash(password)


def create_user(session: Session, actor: Actor | None, new: NewUser) -> User:
    """Create a user after checking every field.

    :raises user.invalid: a field is missing or malformed (details per field).
    :raises user.email_taken: another user has this email.
    """
    email = new.email.strip().lower()
    errors: dict[str, list[str]] = {}
    if not EMAIL_RE.match(email):
        errors["email"] = ["Enter an email address in the correct format, like name@example.org"]
    if not new.full_name.strip():
        errors["full_name"] = ["Enter the person's full name"]
    if new.role not in ROLES:
        errors["role"] = ["Choose a role"]
    if len(new.password) < MIN_PASSWORD_LENGTH:
        errors["password"] = [f"Password must be at least {MIN_PASSWORD_LENGTH} characters"]
    organisation = session.get(Organisation, new.organisation_id)
    if organisation is None:
        errors["organisation_id"] = ["Choose an organisation"]
    elif new.role in ROLES and organisation.kind not in ROLE_ORGANISATION_KINDS[new.role]:
        errors["organisation_id"] = [f"A {new.role.replace('_', ' ')} cannot belong to {organisation.name}"]
    if errors:
        raise Invalid("user.invalid", "Check the user's details", errors)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("user.email_taken", "A user with this email already exists", {"email": ["Already in use"]})
    user = User(email=email, full_name=new.full_name.strip(), role=new.role, organisation_id=new.organisation_id,
                password_hash=hash_password(new.password), is_lead_reviewer=new.is_lead_reviewer)
    session.add(user)
    try:
        with session.begin_nested():  # one row: the UNIQUE index is the final word on a race
            session.flush()
    except IntegrityError:
        raise Conflict("user.email_taken", "A user with this email already exists", {"email": ["Already in use"]}) from None
    audit_log.record(session, actor, "user.create", "user", user.id,
                     after={"email": email, "role": new.role, "organisation_id": new.organisation_id})
    return user


def authenticate(session: Session, email: str, password: str, *, address: str, max_failures: int,
                 lockout_minutes: int, now: datetime | None = None) -> User:
    """Return the user for a correct email and password, counting failures towards a lockout.

    Every refusal is the same `auth.invalid_credentials` after the same argon2 work (a dummy hash for an
    unknown email and for a locked one), so neither the answer nor its time tells an account exists or is
    locked. Locks are by account AND client `address`:
    - `max_failures` failures from one address lock that address out of that account for `lockout_minutes`;
    - every failure from any address counts for the account: past ACCOUNT_FREE_FAILURES of them (with no
      quiet spell of `lockout_minutes`) each one pauses the account for a short, doubling time capped at
      ACCOUNT_PAUSE_CAP. The pause does not apply to an address that has signed this user in before, so a
      stranger cycling addresses slows guessing to one a minute without locking the user out.

    :raises auth.invalid_credentials: unknown email, wrong password, or locked (one answer for all).
    """
    now = now or clock.now()
    address = (address or "unknown")[:64]
    if not (_plain(email) and _plain(password)):  # no account has it: the database and argon2 would refuse it
        _verify(_DUMMY_HASH, "not-a-real-password-but-a-timing-shield")
        raise _refused()
    user = session.scalar(select(User).where(User.email == email.strip().lower()).with_for_update(of=User))
    if user is None or not user.is_active:
        _verify(_DUMMY_HASH, password)
        raise _refused()
    seen = session.get(SignInAddress, (user.id, address)) or SignInAddress(user_id=user.id, address=address,
                                                                           failures=0)
    if _locked(user, seen, now):
        _verify(_DUMMY_HASH, password)  # the same work as a real check, whatever the password
        raise _refused()
    if not _verify(user.password_hash, password):
        _count_failure(session, user, seen, now, max_failures, lockout_minutes)
        raise _refused()
    user.failed_logins = 0
    user.locked_until = None
    seen.failures, seen.locked_until, seen.signed_in_at = 0, None, now
    session.add(seen)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit_log.record(session, user, "user.sign_in", "user", user.id)
    return user


ACCOUNT_FREE_FAILURES = 10  # failures across addresses before the account-wide pause starts
ACCOUNT_PAUSE_FIRST = timedelta(seconds=2)  # then 4, 8, 16, 32 s ... up to the cap
ACCOUNT_PAUSE_CAP = timedelta(seconds=60)


def _plain(text: str) -> bool:
    """Text PostgreSQL and argon2 take: no NUL, no lone surrogate (what JavaScript gives for a cut emoji)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _refused() -> AuthenticationFailed:
    return AuthenticationFailed("auth.invalid_credentials", "Enter a correct email address and password")


def _locked(user: User, seen: SignInAddress, now: datetime) -> bool:
    if seen.locked_until is not None and seen.locked_until > now:
        return True
    return seen.signed_in_at is None and user.locked_until is not None and user.locked_until > now


def _count_failure(session: Session, user: User, seen: SignInAddress, now: datetime, max_failures: int,
                   lockout_minutes: int) -> None:
    window = timedelta(minutes=lockout_minutes)
    if user.last_failed_login_at is None or user.last_failed_login_at < now - window:
        user.failed_logins = 0  # a quiet spell: the account's count starts again
    user.failed_logins += 1
    user.last_failed_login_at = now
    over = user.failed_logins - ACCOUNT_FREE_FAILURES
    if over >= 0:
        user.locked_until = now + min(ACCOUNT_PAUSE_FIRST * 2 ** min(over, 16), ACCOUNT_PAUSE_CAP)
    if seen.last_failed_at is None or seen.last_failed_at < now - window:
        seen.failures = 0
    seen.failures += 1
    seen.last_failed_at = now
    if seen.failures >= max_failures:
        seen.locked_until = now + window
        seen.failures = 0
        audit_log.record(session, None, "user.locked", "user", user.id,
                         after={"until": seen.locked_until.isoformat(), "address": seen.address})
    session.add(seen)
    # Addresses that only ever failed, long enough ago, are forgotten (a stranger's many addresses do not pile up).
    session.execute(delete(SignInAddress).where(
        SignInAddress.user_id == user.id, SignInAddress.signed_in_at.is_(None), SignInAddress.address != seen.address,
        SignInAddress.last_failed_at < now - window,
        (SignInAddress.locked_until.is_(None)) | (SignInAddress.locked_until < now)))


def set_password(session: Session, actor: Actor | None, user: User, password: str) -> None:
    """Replace a user's password and end their other sessions.

    :raises user.invalid: the password is too short.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid("user.invalid", "Check the password",
                      {"password": [f"Password must be at least {MIN_PASSWORD_LENGTH} characters"]})
    user.password_hash = hash_password(password)
    user.session_version += 1
    user.failed_logins = 0
    user.locked_until = None
    session.execute(update(SignInAddress).where(SignInAddress.user_id == user.id).values(failures=0, locked_until=None))
    audit_log.record(session, actor, "user.set_password", "user", user.id)


def end_sessions(session: Session, user: User) -> None:
    """Sign `user` out everywhere: every session cookie names a session version, and this one is no longer
    theirs (session_user.load refuses it on the next request, whoever replays it)."""
    user.session_version += 1
    audit_log.record(session, user, "user.sign_out", "user", user.id)


def change_own_password(session: Session, user: User, current: str, new: str, confirm: str) -> None:
    """The user replaces their own password (the temporary one an administrator gave, say); their other
    sessions end (set_password moves the session version on), and the change is logged as theirs.

    :raises user.invalid: per field: `current_password` wrong, `new_password` too short or unchanged,
        `confirm_password` not the same as the new one.
    """
    errors: dict[str, list[str]] = {}
    if not _verify(user.password_hash, current):
        errors["current_password"] = ["Your current password is not correct"]
    if len(new) < MIN_PASSWORD_LENGTH:
        errors["new_password"] = [f"Your new password must be at least {MIN_PASSWORD_LENGTH} characters"]
    elif new == current:
        errors["new_password"] = ["Your new password must be different from your current password"]
    if confirm != new:
        errors["confirm_password"] = ["The passwords do not match"]
    if errors:
        raise Invalid("user.invalid", "Check your passwords", errors)
    set_password(session, user, user, new)


def get_user(session: Session, user_id: int) -> User:
    """Return one user. :raises user.not_found:"""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user.not_found", "There is no such user")
    return user


def list_users(session: Session) -> list[User]:
    """All users, ordered by organisation then name (admins only: the edge checks the role)."""
    return list(session.scalars(select(User).join(User.organisation).order_by(Organisation.name, func.lower(User.full_name))))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False

