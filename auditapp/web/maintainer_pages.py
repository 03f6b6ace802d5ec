"""What the maintainers' pages show, gathered for the templates: the decisions open to the signed-in
maintainer on a provider, the provider page's context, and the form options of the record pages."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .. import clock, maintainer_queries as mq
from ..models import Organisation, Provider, Site, User
from ..models.enums import (AUDIT_TYPES, DELIVERY_MODES, DIRECTORY_STATUS_LABELS, DISTRICTS, KEY_STAGES,
                            PROVISION_TYPES, TIME_BASES, TRIGGER_KINDS, TRIGGER_LABELS)
from ..services import concerns, decisions, rollup
from ..services.errors import NotFound
from ..services.scoring import OUTCOME_LABELS

TIME_BASIS_LABELS = {"part_time": "Part time", "full_time": "Full time", "both": "Full or part time"}
DELIVERY_LABELS = {"in_person": "In person", "online": "Online", "hybrid": "In person and online"}
PROVISION_LABELS = {t: t.capitalize() for t in PROVISION_TYPES}
GRADE_LABELS = {"strong": "Strong", "secure": "Secure", "developing": "Developing", "weak": "Weak"}
ACTION_STATUS_LABELS = {"open": "Open", "provider_done": "Provider says done", "overdue": "Overdue"}
CAUSE_LABELS = {"finalise": "an audit was finalised", "action": "an action changed",
                "concern": "a concern was raised or triaged", "decision": "a maintainer's decision",
                "rollup": "the daily roll-up (dates)", "provider_edit": "the provider's record changed",
                "trigger": "a re-audit trigger was recorded"}
DECISION_LABELS = {"approve": "Approved the first listing", "clear_review": "Cleared the review",
                   "suspend": "Suspended", "reinstate": "Reinstated",
                   "confirm_reinstatement": "Confirmed the reinstatement", "remove": "Removed"}


def today() -> date:
    """The councils' date (the server runs in UTC)."""
    return clock.today()


def provider_or_404(session: Session, provider_id: int) -> Provider:
    provider = session.scalar(select(Provider).where(Provider.id == provider_id)
                              .options(selectinload(Provider.sites), selectinload(Provider.councils),
                                       selectinload(Provider.provision_types), selectinload(Provider.key_stages)))
    if provider is None:
        raise NotFound("provider.not_found", "There is no such provider")
    return provider


@dataclass(frozen=True)
class Option:
    value: str
    text: str
    hint: str


def decision_options(session: Session, provider: Provider, user: User) -> list[Option]:
    """The decisions this maintainer may record on the provider now (the service still checks each)."""
    if user.role != "maintainer" or provider.directory_status == "removed":
        return []
    status, computed = provider.directory_status, DIRECTORY_STATUS_LABELS[provider.computed_status]
    listed = provider.computed_status in rollup.LISTED
    lists_as = (f"The provider is listed as {computed}, as the audits say." if listed else
                f"The audits say {computed}: this is refused until the reasons are resolved.")
    options = []
    if status == "pending":
        options.append(Option("approve", "Approve the first listing", lists_as))
    if status == "under_review":
        options.append(Option("clear_review", "Clear the review", lists_as))
    if status in ("eligible", "conditional", "under_review"):
        options.append(Option("suspend", "Suspend", "No new placements; schools with learners there are told."))
    if status == "suspended":
        pending = decisions.pending_reinstatement(session, provider.id)
        if pending is None:
            options.append(Option("reinstate", "Reinstate", lists_as + " After a suspension on safeguarding grounds "
                                  "a second maintainer must confirm."))
        elif pending.decided_by_id != user.id:
            options.append(Option("confirm_reinstatement", "Confirm the reinstatement",
                                  f"Another maintainer reinstated the provider on {pending.decided_at:%-d %B %Y}: "
                                  f"“{pending.reason_text}”. " + lists_as))
    options.append(Option("remove", "Remove from the directory", "Only a new application, starting at Pending, "
                          "brings a removed provider back."))
    return options


def provider_context(session: Session, provider: Provider, user: User, **extra) -> dict:
    """Everything the maintainers' provider page shows."""
    pending = decisions.pending_reinstatement(session, provider.id)
    return {"provider": provider, "why": mq.why(session, provider, today()), "options":
            decision_options(session, provider, user), "pending": pending, "trigger_kinds": TRIGGER_KINDS,
            "trigger_labels": TRIGGER_LABELS, "form": {}, "errors": {}, "stale": None, "refused": None,
            "concerns": concerns.provider_concerns(session, provider.id),
            **labels(), **extra}


def labels() -> dict:
    return {"outcome_labels": OUTCOME_LABELS, "grade_labels": GRADE_LABELS, "rules": mq.RULES,
            "action_status_labels": ACTION_STATUS_LABELS, "cause_labels": CAUSE_LABELS,
            "decision_labels": DECISION_LABELS, "trigger_labels": TRIGGER_LABELS}


def record_options(session: Session) -> dict:
    """Choices for the provider record forms."""
    councils = list(session.scalars(select(Organisation).where(Organisation.kind == "council")
                                    .order_by(Organisation.name)))
    return {"districts": DISTRICTS, "time_bases": TIME_BASIS_LABELS, "delivery_modes": DELIVERY_LABELS,
            "provision_types": PROVISION_LABELS, "key_stages": KEY_STAGES, "councils": councils,
            "time_basis_values": TIME_BASES, "delivery_values": DELIVERY_MODES}


def record_form(provider: Provider) -> dict:
    """A provider's stored record as form values."""
    form = {name: getattr(provider, name) for name in (
        "legal_name", "trading_name", "company_number", "charity_number", "contact_name", "contact_email",
        "contact_phone", "offer_summary", "age_min", "age_max", "district", "time_basis", "delivery_mode",
        "send_specialism", "semh_specialism", "capacity", "version")}
    form["cost_per_day"] = "" if provider.cost_per_day_pence is None else f"{provider.cost_per_day_pence / 100:.2f}"
    form["provision_types"] = [t.provision_type for t in provider.provision_types]
    form["key_stages"] = [k.key_stage for k in provider.key_stages]
    form["council_ids"] = [c.organisation_id for c in provider.councils]
    return {k: "" if v is None else v for k, v in form.items()}


def schedule_options(session: Session, provider: Provider) -> dict:
    """Choices for scheduling a visit to the provider."""
    sites = list(session.scalars(select(Site).where(Site.provider_id == provider.id).order_by(Site.is_main.desc(),
                                                                                             Site.id)))
    return {"sites": sites, "audit_types": AUDIT_TYPES, "capturers": mq.capturers(session),
            "triggers": mq.open_triggers(session, provider.id)}
