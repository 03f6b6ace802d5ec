"""A provider's computed directory eligibility: one pure function over plain facts and today's date.

Rules and thresholds are shared/domain/audit-templates.md §1.5–1.6 (first matching rule wins:
R1 Pending, R2 Suspended, R3 Under review, R4 Conditional, R5 Eligible). Nothing here reads the
database, the clock or the request: callers gather `ProviderFacts`, pass `today` and an
`EligibilityConfig`, and get the status with every reason behind it. The *published* status (what
schools see) combines this with maintainers' decisions elsewhere; this function never publishes.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field, fields
from datetime import date, timedelta

PASSING = ("compliant", "compliant_with_actions")
SAFETY_TYPES = ("safeguarding", "health_safety")  # the audits whose failures suspend
TYPE_LABELS = {"safeguarding": "safeguarding", "health_safety": "health and safety",
               "quality_education": "quality of education"}
CLOSED_ACTION_STATUSES = ("verified_closed", "no_longer_relevant")


@dataclass(frozen=True)
class EligibilityConfig:
    """Every threshold of the roll-up in one place (admins see it on the settings page)."""

    validity_months: int = 12  # each audit type is valid this long from its visit date
    warning_days: int = 60  # re-audit reminders start this long before expiry
    overdue_action_grace_days: int = 14  # an SG/HS action overdue longer than this suspends
    expiry_grace_days: int = 28  # an SG/HS audit expired longer than this suspends
    qe_window_months: int = 6  # a listed provider needs a QE audit within this of first listing
    developing_is_conditional: bool = False
    weak_revisit_days: int = 91  # QE grade Weak: revisit within one school term
    developing_revisit_months: int = 6  # QE grade Developing: revisit after this

    def describe(self) -> list[tuple[str, object]]:
        """(setting, value) pairs for the admin's settings page."""
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


@dataclass(frozen=True)
class AuditFact:
    """The latest finalised audit of one type."""

    audit_type: str
    outcome: str  # compliant | compliant_with_actions | non_compliant
    visit_date: date
    grade: str | None = None  # quality of education only: the moderated overall grade


@dataclass(frozen=True)
class ActionFact:
    audit_type: str
    due_date: date
    status: str  # anything not closed counts as open


@dataclass(frozen=True)
class ProviderFacts:
    listed_since: date | None  # first listing of the current application; None = never listed
    registration: str = "not_checked"  # not_required | possibly_required | registered | not_checked
    audits: tuple[AuditFact, ...] = ()
    actions: tuple[ActionFact, ...] = ()
    untriaged_concerns: int = 0
    suspension_confirmed: tuple[str, ...] = ()  # grounds a maintainer confirmed (live concern, registration breach)
    pending_changes: tuple[str, ...] = ()  # notified changes awaiting re-audit (new proprietor, serious incident)


@dataclass(frozen=True)
class Reason:
    code: str
    text: str  # for maintainers and LA staff
    category: str  # the plain category schools may see: safeguarding | safety | education | registration | dates | listing
    safeguarding: bool = False  # sorts first in the maintainers' queue


@dataclass(frozen=True)
class Eligibility:
    status: str  # pending | suspended | under_review | conditional | eligible
    reasons: tuple[Reason, ...]
    valid_until: date | None  # earliest expiry of the latest audits
    reaudit_due: date | None  # when the next audit is due: the earliest expiry or trigger
    expiring_soon: bool = False  # within the warning window
    rule: str = field(default="")


def add_months(day: date, months: int) -> date:
    """`day` plus whole months, clamped to the month's last day (29 Feb + 12 months = 28 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def eligibility(facts: ProviderFacts, today: date, config: EligibilityConfig = EligibilityConfig()) -> Eligibility:
    """The provider's computed status with its reasons; the first matching rule wins."""
    latest = {a.audit_type: a for a in facts.audits}
    expiry = {t: add_months(a.visit_date, config.validity_months) for t, a in latest.items()}
    valid_until = min(expiry.values()) if expiry else None
    reaudit_due = _reaudit_due(latest, expiry, facts, today, config)
    expiring = valid_until is not None and today <= valid_until <= today + timedelta(days=config.warning_days)
    for rule, status, check in _RULES:
        reasons = check(facts, latest, expiry, today, config)
        if reasons:
            ordered = tuple(sorted(reasons, key=lambda r: not r.safeguarding))
            return Eligibility(status, ordered, valid_until, reaudit_due, expiring, rule)
    return Eligibility("eligible", (Reason("all_in_date", "Safeguarding, health and safety and quality of education "
                                           "audits are in date with no open actions", "listing"),),
                       valid_until, reaudit_due, expiring, "R5")


def _r1_pending(facts, latest, expiry, today, config) -> list[Reason]:
    if facts.listed_since is not None:
        return []
    missing = [t for t in SAFETY_TYPES if t not in latest or latest[t].outcome not in PASSING]
    return [Reason(f"first_audit_{t}", f"Not yet through a {TYPE_LABELS[t]} audit as Compliant or Compliant "
                   "with actions", "listing") for t in missing]


def _r2_suspended(facts, latest, expiry, today, config) -> list[Reason]:
    reasons = []
    for t in SAFETY_TYPES:
        audit = latest.get(t)
        if audit and audit.outcome == "non_compliant":
            reasons.append(Reason(f"{t}_non_compliant", f"The latest {TYPE_LABELS[t]} audit is Non-compliant",
                                  _category(t), t == "safeguarding"))
        if t in expiry and (today - expiry[t]).days > config.expiry_grace_days:
            reasons.append(Reason(f"{t}_expired_beyond_grace", f"The {TYPE_LABELS[t]} audit expired on "
                                  f"{expiry[t]:%d %B %Y}, more than {config.expiry_grace_days} days ago", "dates"))
    late = [a for a in _open(facts) if a.audit_type in SAFETY_TYPES
            and (today - a.due_date).days > config.overdue_action_grace_days]
    if late:
        reasons.append(Reason("safety_action_overdue_beyond_grace", f"{len(late)} safeguarding or health and safety "
                              f"action(s) overdue by more than {config.overdue_action_grace_days} days", "safety"))
    reasons += [Reason("suspension_confirmed", f"A maintainer confirmed grounds for suspension: {g}", "safeguarding", True)
                for g in facts.suspension_confirmed]
    return reasons


def _r3_under_review(facts, latest, expiry, today, config) -> list[Reason]:
    reasons = []
    if facts.untriaged_concerns:
        reasons.append(Reason("concern_untriaged", f"{facts.untriaged_concerns} safeguarding concern(s) awaiting "
                              "triage", "safeguarding", True))
    if facts.registration == "possibly_required":
        reasons.append(Reason("registration_referral", "Registration as a school may be required: referred",
                              "registration"))
    qe = latest.get("quality_education")
    if qe and qe.outcome == "non_compliant":
        reasons.append(Reason("qe_non_compliant", "The latest quality of education audit is Non-compliant", "education"))
    if qe and qe.grade == "weak":
        reasons.append(Reason("qe_grade_weak", "Quality of education was graded Weak", "education"))
    reasons += [Reason("change_awaiting_reaudit", f"Notified change awaiting re-audit: {c}", "listing")
                for c in facts.pending_changes]
    for t, day in expiry.items():
        if day < today and (t not in SAFETY_TYPES or (today - day).days <= config.expiry_grace_days):
            reasons.append(Reason(f"{t}_expired", f"The {TYPE_LABELS[t]} audit expired on {day:%d %B %Y}", "dates"))
    if facts.listed_since is not None:
        reasons += [Reason(f"{t}_missing", f"No finalised {TYPE_LABELS[t]} audit on record", "dates")
                    for t in SAFETY_TYPES if t not in latest]
    overdue = [a for a in _open(facts) if a.due_date < today]
    if overdue:
        reasons.append(Reason("action_overdue", f"{len(overdue)} action(s) past their due date", "safety"))
    if facts.listed_since is not None and qe is None and today > add_months(facts.listed_since, config.qe_window_months):
        reasons.append(Reason("qe_missing_after_window", f"No quality of education audit within "
                              f"{config.qe_window_months} months of first listing", "education"))
    return reasons


def _r4_conditional(facts, latest, expiry, today, config) -> list[Reason]:
    reasons = []
    # Open actions keep a provider Conditional whichever audit raised them (an older audit's actions
    # still open count too); R3 has already caught any that are overdue.
    for t, label in TYPE_LABELS.items():
        count = sum(1 for a in _open(facts) if a.audit_type == t)
        if count:
            reasons.append(Reason(f"{t}_actions_open", f"{count} open action(s) from {label} audits, "
                                  "in time", _category(t)))
    if "quality_education" not in latest:
        reasons.append(Reason("qe_not_yet", "No quality of education audit yet (within the first "
                              f"{config.qe_window_months} months of listing)", "education"))
    qe = latest.get("quality_education")
    if config.developing_is_conditional and qe and qe.grade == "developing":
        reasons.append(Reason("qe_grade_developing", "Quality of education was graded Developing", "education"))
    return reasons


_RULES = (("R1", "pending", _r1_pending), ("R2", "suspended", _r2_suspended),
          ("R3", "under_review", _r3_under_review), ("R4", "conditional", _r4_conditional))


def _open(facts: ProviderFacts) -> list[ActionFact]:
    return [a for a in facts.actions if a.status not in CLOSED_ACTION_STATUSES]


def _category(audit_type: str) -> str:
    return {"safeguarding": "safeguarding", "health_safety": "safety"}.get(audit_type, "education")


def _reaudit_due(latest, expiry, facts, today, config) -> date | None:
    """The earliest of: each audit's expiry, a re-audit its findings call for, a notified change (now)."""
    due = list(expiry.values())
    for t in SAFETY_TYPES:
        if t in latest and latest[t].outcome == "non_compliant":
            due.append(today)
    qe = latest.get("quality_education")
    if qe and qe.grade == "weak":
        due.append(qe.visit_date + timedelta(days=config.weak_revisit_days))
    if qe and qe.grade == "developing":
        due.append(add_months(qe.visit_date, config.developing_revisit_months))
    if facts.pending_changes:
        due.append(today)
    return min(due) if due else None
