"""eligibility(): a row per rule of audit-templates.md §1.5 and per boundary date (§1.6, §10)."""
from datetime import date, timedelta

import pytest

from auditapp.services.eligibility import (
    ActionFact,
    AuditFact,
    EligibilityConfig,
    ProviderFacts,
    add_months,
    eligibility,
)

TODAY = date(2026, 11, 28)
LISTED = date(2025, 1, 6)
RECENT = date(2026, 6, 1)  # a visit date well inside the 12-month validity


def audits(sg="compliant", hs="compliant", qe="compliant", grade="secure", visit=RECENT, qe_visit=None):
    facts = []
    if sg:
        facts.append(AuditFact("safeguarding", sg, visit))
    if hs:
        facts.append(AuditFact("health_safety", hs, visit))
    if qe:
        facts.append(AuditFact("quality_education", qe, qe_visit or visit, grade))
    return tuple(facts)


def provider(**overrides) -> ProviderFacts:
    values = {"listed_since": LISTED, "registration": "not_required", "audits": audits()}
    values.update(overrides)
    return ProviderFacts(**values)


def action(audit_type="safeguarding", due=TODAY, status="open"):
    return ActionFact(audit_type, due, status)


def days(n):
    return timedelta(days=n)


EXPIRY = add_months(RECENT, 12)  # 2027-06-01

CASES = [
    # (id, facts, today, status, reason codes that must be present)
    ("R5 all in date", provider(), TODAY, "eligible", {"all_in_date"}),
    ("R5 actions all verified closed", provider(audits=audits(sg="compliant_with_actions"),
                                                actions=(action(status="verified_closed"),)), TODAY, "eligible", set()),
    ("R1 never listed, no audits", provider(listed_since=None, audits=()), TODAY, "pending",
     {"first_audit_safeguarding", "first_audit_health_safety"}),
    ("R1 never listed, only SG passed", provider(listed_since=None, audits=audits(hs=None, qe=None)), TODAY, "pending",
     {"first_audit_health_safety"}),
    ("R1 failed first audit stays pending", provider(listed_since=None, audits=audits(sg="non_compliant", qe=None)),
     TODAY, "pending", {"first_audit_safeguarding"}),
    ("R1 passed SG and HS: no longer pending", provider(listed_since=None, audits=audits(qe=None)), TODAY,
     "conditional", {"qe_not_yet"}),
    ("R2 SG non-compliant", provider(audits=audits(sg="non_compliant")), TODAY, "suspended",
     {"safeguarding_non_compliant"}),
    ("R2 HS non-compliant", provider(audits=audits(hs="non_compliant")), TODAY, "suspended",
     {"health_safety_non_compliant"}),
    ("R2 confirmed suspension ground", provider(suspension_confirmed=("LADO referral about staff",)), TODAY,
     "suspended", {"suspension_confirmed"}),
    ("R2 SG action overdue by 15 days", provider(actions=(action(due=TODAY - days(15)),)), TODAY, "suspended",
     {"safety_action_overdue_beyond_grace"}),
    ("R3 SG action overdue by 14 days (grace)", provider(actions=(action(due=TODAY - days(14)),)), TODAY,
     "under_review", {"action_overdue"}),
    ("R3 HS action overdue by 1 day", provider(actions=(action("health_safety", due=TODAY - days(1)),)), TODAY,
     "under_review", {"action_overdue"}),
    ("R4 action due today is in time", provider(actions=(action(due=TODAY),)), TODAY, "conditional",
     {"safeguarding_actions_open"}),
    ("R3 QE action overdue by 30 days never suspends",
     provider(actions=(action("quality_education", due=TODAY - days(30)),)), TODAY, "under_review", {"action_overdue"}),
    ("R5 on the expiry date itself", provider(), EXPIRY, "eligible", {"all_in_date"}),
    ("R3 the day after expiry", provider(), EXPIRY + days(1), "under_review",
     {"safeguarding_expired", "health_safety_expired", "quality_education_expired"}),
    ("R3 expired 28 days ago (grace)", provider(), EXPIRY + days(28), "under_review", {"safeguarding_expired"}),
    ("R2 SG/HS expired 29 days ago", provider(), EXPIRY + days(29), "suspended",
     {"safeguarding_expired_beyond_grace", "health_safety_expired_beyond_grace"}),
    ("R3 only QE expired long ago: no suspension", provider(audits=audits(qe_visit=date(2024, 1, 1))), TODAY,
     "under_review", {"quality_education_expired"}),
    ("R3 untriaged concern", provider(untriaged_concerns=1), TODAY, "under_review", {"concern_untriaged"}),
    ("R3 registration possibly required", provider(registration="possibly_required"), TODAY, "under_review",
     {"registration_referral"}),
    ("R3 QE non-compliant", provider(audits=audits(qe="non_compliant")), TODAY, "under_review", {"qe_non_compliant"}),
    ("R3 QE graded Weak", provider(audits=audits(grade="weak")), TODAY, "under_review", {"qe_grade_weak"}),
    ("R3 notified change awaiting re-audit", provider(pending_changes=("new proprietor",)), TODAY, "under_review",
     {"change_awaiting_reaudit"}),
    ("R3 listed without an HS audit on record", provider(audits=audits(hs=None)), TODAY, "under_review",
     {"health_safety_missing"}),
    ("R4 no QE yet, 6 months after listing to the day", provider(listed_since=add_months(TODAY, -6), audits=audits(qe=None)),
     TODAY, "conditional", {"qe_not_yet"}),
    ("R3 no QE 6 months and a day after listing", provider(listed_since=add_months(TODAY - days(1), -6),
                                                           audits=audits(qe=None)),
     TODAY, "under_review", {"qe_missing_after_window"}),
    ("R4 QE compliant with actions, open in time",
     provider(audits=audits(qe="compliant_with_actions"), actions=(action("quality_education", due=TODAY + days(3)),)),
     TODAY, "conditional", {"quality_education_actions_open"}),
    ("R5 Developing is not Conditional by default", provider(audits=audits(grade="developing")), TODAY, "eligible",
     {"all_in_date"}),
    ("R2 beats R3: non-compliant and a concern", provider(audits=audits(sg="non_compliant"), untriaged_concerns=2),
     TODAY, "suspended", {"safeguarding_non_compliant"}),
    ("R3 beats R4: concern with open actions", provider(untriaged_concerns=1, actions=(action(due=TODAY + days(9)),)),
     TODAY, "under_review", {"concern_untriaged"}),
]


@pytest.mark.parametrize("facts, today, status, codes", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_table(facts, today, status, codes):
    result = eligibility(facts, today)
    assert result.status == status
    assert codes <= {r.code for r in result.reasons}
    assert result.reasons, "every status carries at least one reason"


def test_only_the_winning_rules_reasons_are_given():
    result = eligibility(provider(audits=audits(sg="non_compliant"), untriaged_concerns=1), TODAY)
    assert result.rule == "R2" and "concern_untriaged" not in {r.code for r in result.reasons}


def test_safeguarding_reasons_come_first():
    result = eligibility(provider(registration="possibly_required", untriaged_concerns=1), TODAY)
    assert result.reasons[0].code == "concern_untriaged" and result.reasons[0].safeguarding


def test_developing_makes_conditional_when_configured():
    result = eligibility(provider(audits=audits(grade="developing")), TODAY, EligibilityConfig(developing_is_conditional=True))
    assert result.status == "conditional" and {r.code for r in result.reasons} == {"qe_grade_developing"}


def test_thresholds_come_from_the_config():
    strict = EligibilityConfig(overdue_action_grace_days=3, expiry_grace_days=0, validity_months=6)
    assert eligibility(provider(actions=(action(due=TODAY - days(4)),)), TODAY, strict).status == "suspended"
    assert eligibility(provider(), add_months(RECENT, 6) + days(1), strict).status == "suspended"


def test_valid_until_is_the_earliest_expiry_and_warning_window_edges():
    facts = provider(audits=(AuditFact("safeguarding", "compliant", date(2026, 3, 10)),
                             AuditFact("health_safety", "compliant", date(2026, 5, 1)),
                             AuditFact("quality_education", "compliant", date(2026, 4, 1), "secure")))
    valid_until = date(2027, 3, 10)
    assert eligibility(facts, TODAY).valid_until == valid_until
    assert eligibility(facts, valid_until - days(60)).expiring_soon is True
    assert eligibility(facts, valid_until - days(61)).expiring_soon is False
    assert eligibility(facts, valid_until + days(1)).expiring_soon is False  # expired is not "soon"


def test_reaudit_due_follows_findings():
    assert eligibility(provider(), TODAY).reaudit_due == EXPIRY
    weak = eligibility(provider(audits=audits(grade="weak", qe_visit=date(2026, 10, 1))), TODAY)
    assert weak.reaudit_due == date(2026, 10, 1) + days(91)
    developing = eligibility(provider(audits=audits(grade="developing", qe_visit=date(2026, 10, 1))), TODAY)
    assert developing.reaudit_due == date(2027, 4, 1)
    assert eligibility(provider(pending_changes=("new DSL",)), TODAY).reaudit_due == TODAY
    assert eligibility(provider(audits=audits(hs="non_compliant")), TODAY).reaudit_due == TODAY
    assert eligibility(provider(listed_since=None, audits=()), TODAY).reaudit_due is None


@pytest.mark.parametrize("day, months, expected", [
    (date(2024, 2, 29), 12, date(2025, 2, 28)), (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2026, 11, 28), 2, date(2027, 1, 28)), (date(2026, 3, 31), -1, date(2026, 2, 28)),
])
def test_add_months_clamps_to_the_month_end(day, months, expected):
    assert add_months(day, months) == expected
