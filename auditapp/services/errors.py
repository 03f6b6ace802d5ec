"""The error catalogue: every failure a service reports has a stable dotted code.

Edges map these once (auditapp/errors.py): a page, an HTMX fragment, or
`{"code", "message", "details"}` JSON. Codes never change meaning once released.
"""
from __future__ import annotations


class DomainError(Exception):
    """A failure the user can understand: a stable `code`, a human `message`, optional `details`."""

    status = 400

    def __init__(self, code: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message, "details": self.details}


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class Gone(DomainError):
    """Something that existed and no longer works (an expired or revoked share link)."""

    status = 410


class Invalid(DomainError):
    """Input that fails validation; `details` maps field names to lists of messages."""

    status = 422


class AuthenticationFailed(DomainError):
    status = 401
