"""Maintainers' decisions on a provider's published status (audit-templates.md §1.5).

Only a maintainer approves a first listing, clears a review, suspends, reinstates or removes, and
always with a reason. Reinstating after a safeguarding suspension takes two maintainers: the first
records the reinstatement, a different one confirms it, and only then is the provider listed
again. Every decision carries the provider version the maintainer saw, so a form left open while
the status changed is refused with what changed, and nothing is written.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clock
from ..models import DirectoryDecision, Provider, ProviderStatusChange
from ..models.people import Actor
from ..models.enums import DIRECTORY_STATUS_LABELS
from . import audit_log, rollup
from .errors import Conflict, Forbidden, Invalid, NotFound

SAFEGUARDING = "safeguarding"
MAX_REASON = 2000


@dataclass(frozen=True)
class Decision:
    provider_id: int
    decision: str  # approve | clear_review | suspend | reinstate | confirm_reinstatement | remove
    reason_text: str
    expected_version: int
    safeguarding: bool = False  # a suspension on safeguarding grounds (its reinstatement needs two maintainers)


def decide(session: Session, actor: Actor, request: Decision, today: date) -> DirectoryDecision:
    """Record a maintainer's decision and apply it. :raises DomainError: with what to do instead."""
    if actor.role != "maintainer":
        raise Forbidden("decision.maintainers_only", "Only directory maintainers decide a provider's status")
    reason = (request.reason_text or "").strip()
    if not reason:
        raise Invalid("decision.reason_required", "Give a reason for this decision", {"reason": ["Enter a reason"]})
    if len(reason) > MAX_REASON:
        raise Invalid("decision.reason_too_long", f"Keep the reason to {MAX_REASON} characters",
                      {"reason": [f"Must be {MAX_REASON} characters or fewer"]})
    provider = session.scalar(select(Provider).where(Provider.id == request.provider_id).with_for_update())
    if provider is None:
        raise NotFound("provider.not_found", "There is no such provider")
    if provider.version != request.expected_version:
        raise Conflict("decision.stale", "The provider's status changed while you were deciding; check it and decide again",
                       {"changes": changes_since(session, provider.id, request.expected_version, provider)})
    rollup.recompute(session, [provider.id], today, "decision", actor)  # decide on today's facts
    target, pending = _target(session, actor, provider, request)
    row = DirectoryDecision(provider_id=provider.id, decision=request.decision, from_status=provider.directory_status,
                            to_status=target, reason_codes=[SAFEGUARDING] if request.safeguarding else [],
                            reason_text=reason, decided_by_id=actor.id,
                            confirms_decision_id=pending.id if pending is not None else None)
    session.add(row)
    session.flush()
    audit_log.record(session, actor, f"provider.decision.{request.decision}", "provider", provider.id,
                     before={"status": provider.directory_status},
                     after={"status": target, "reason": reason, "decision_id": row.id})
    if target != provider.directory_status:
        now = clock.now()
        session.add(ProviderStatusChange(provider_id=provider.id, kind="published", from_status=provider.directory_status,
                                         to_status=target, reasons=[{"code": f"decision_{request.decision}",
                                                                     "text": reason, "category": "listing",
                                                                     "safeguarding": request.safeguarding}],
                                         cause="decision", actor_id=actor.id, decision_id=row.id, changed_at=now))
        rollup.publish(session, provider, target, now, [{"category": "safeguarding" if request.safeguarding else "listing"}])
    else:
        provider.version += 1  # a recorded, unconfirmed reinstatement still makes other open forms stale
    rollup.recompute(session, [provider.id], today, "decision", actor)  # queue position after the decision
    return row


def _target(session, actor, provider: Provider, request: Decision):
    """(the published status the decision leads to, the reinstatement it confirms or None)."""
    status, computed = provider.directory_status, provider.computed_status
    listed_now = computed in rollup.LISTED
    if request.decision == "remove":
        return "removed", None
    if status == "removed":
        raise Invalid("decision.removed", "A removed provider returns only through a new application")
    if request.decision == "suspend":
        if status == "suspended":
            raise Invalid("decision.already_suspended", "This provider is already suspended")
        return "suspended", None
    if request.decision in ("approve", "clear_review"):
        if status not in ("pending", "under_review"):
            raise Invalid("decision.not_applicable", f"A provider that is {DIRECTORY_STATUS_LABELS[status]} "
                          "cannot be approved or cleared")
        _require_listed(listed_now, computed)
        return computed, None
    if request.decision == "reinstate":
        if status != "suspended":
            raise Invalid("decision.not_suspended", "Only a suspended provider can be reinstated")
        _require_listed(listed_now, computed)
        if _last_suspension_was_safeguarding(session, provider.id):
            return status, None  # waits for a second maintainer's confirmation
        return computed, None
    if request.decision == "confirm_reinstatement":
        pending = pending_reinstatement(session, provider.id)
        if pending is None:
            raise Invalid("decision.nothing_to_confirm", "There is no reinstatement waiting for confirmation")
        if pending.decided_by_id == actor.id:
            raise Forbidden("decision.same_maintainer", "A second maintainer must confirm a reinstatement after a "
                            "safeguarding suspension")
        _require_listed(listed_now, computed)
        return computed, pending
    raise Invalid("decision.unknown", "Choose a decision", {"decision": ["Choose a decision"]})


def _require_listed(listed_now: bool, computed: str) -> None:
    if not listed_now:
        raise Invalid("decision.not_eligible", f"The audits say {DIRECTORY_STATUS_LABELS[computed]}: resolve the "
                      "reasons first, or suspend or remove instead")


def _last_suspension_was_safeguarding(session: Session, provider_id: int) -> bool:
    last = session.scalar(select(DirectoryDecision).where(DirectoryDecision.provider_id == provider_id,
                                                          DirectoryDecision.decision == "suspend")
                          .order_by(DirectoryDecision.id.desc()).limit(1))
    return last is not None and SAFEGUARDING in (last.reason_codes or [])


def pending_reinstatement(session: Session, provider_id: int) -> DirectoryDecision | None:
    """A reinstatement after a safeguarding suspension that no second maintainer has confirmed yet."""
    last = session.scalar(select(DirectoryDecision).where(DirectoryDecision.provider_id == provider_id)
                          .order_by(DirectoryDecision.id.desc()).limit(1))
    if last is None or last.decision != "reinstate" or last.to_status != "suspended":
        return None
    return last


def changes_since(session: Session, provider_id: int, version: int, provider: Provider) -> list[str]:
    """What happened to the provider's status since the form was opened, newest first, in words."""
    rows = session.scalars(select(ProviderStatusChange).where(ProviderStatusChange.provider_id == provider_id,
                                                              ProviderStatusChange.kind == "published")
                           .order_by(ProviderStatusChange.id.desc()).limit(max(1, provider.version - version))).all()
    lines = [f"{DIRECTORY_STATUS_LABELS[r.from_status]} to {DIRECTORY_STATUS_LABELS[r.to_status]} "
             f"on {r.changed_at:%d %B %Y %H:%M}" for r in rows]
    return lines or [f"The provider is now {DIRECTORY_STATUS_LABELS[provider.directory_status]}"]
