"""The evidence mutation kinds of a push (`evidence.register`, `evidence.withdraw`), applied
through the same evidence services a web view would call.

Part of the sync edge: it reads the app's evidence limits, so services stay free of app state.
"""
from __future__ import annotations

from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from auditapp.models import User
from auditapp.services import evidence
from auditapp.services.capture import Outcome

KINDS = ("evidence.register", "evidence.withdraw")


def limits() -> evidence.Limits:
    """The configured limits inside an app (push, admin import); the defaults outside one (tools, tests)."""
    if not has_app_context():
        return evidence.Limits()
    return evidence.Limits(max_bytes=int(current_app.config["EVIDENCE_MAX_BYTES"]))


def apply_kind(session: Session, actor: User, kind: str, mutations: list[dict]) -> list[Outcome]:
    """Apply checked mutations of one evidence kind; one outcome per mutation, in order."""
    if kind == "evidence.register":
        return evidence.register_evidence(session, actor, [
            evidence.Registration(m["mutation_id"], m["entity_id"], **m["payload"]) for m in mutations], limits())
    return evidence.withdraw_evidence(session, actor, [
        evidence.Withdrawal(m["mutation_id"], m["entity_id"], **m["payload"]) for m in mutations])
