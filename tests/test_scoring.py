"""Scoring rules (audit-templates.md §1.2, §1.3): one row per rule, critical-item and N/A cases included."""
import pytest

from auditapp.audit_templates import TEMPLATE_DIR
from auditapp.audit_templates.loader import compose
from auditapp.services.scoring import ScoringRules, outcome_of, score, section_rag

# One section: A and B are ordinary items, C is critical. Ratings not listed are absent (unrated).
ITEMS = [{"key": "X-1.1", "critical": False}, {"key": "X-1.2", "critical": False},
         {"key": "X-1.3", "critical": True}, {"key": "X-1.4", "critical": False}]
M, P, N, NA = "met", "partially_met", "not_met", "not_applicable"


def _ratings(*values):
    return {item["key"]: value for item, value in zip(ITEMS, values) if value is not None}


@pytest.mark.parametrize("rule, ratings, expected", [
    ("every item Met is green", _ratings(M, M, M, M), "green"),
    ("Partially met on an ordinary item is amber", _ratings(M, P, M, M), "amber"),
    ("Not met on an ordinary item is amber (1 of 4: below the escalation share)", _ratings(N, M, M, M), "amber"),
    ("Not met on a critical item is red", _ratings(M, M, N, M), "red"),
    ("Partially met on a critical item is amber", _ratings(M, M, P, M), "amber"),
    ("worst risk wins: amber and red together is red", _ratings(P, M, N, M), "red"),
    ("N/A items are ignored: the rest decide", _ratings(NA, NA, M, P), "amber"),
    ("a critical item rated N/A is ignored", _ratings(M, M, NA, M), "green"),
    ("a section whose items are all N/A is grey", _ratings(NA, NA, NA, NA), "grey"),
    ("half the rated items Not met escalates to red (2 of 4)", _ratings(N, N, M, M), "red"),
    ("escalation counts rated items only: 1 Not met of 2 rated, the others N/A", _ratings(N, NA, M, NA), "red"),
    ("just under half Not met stays amber (1 of 3 rated)", _ratings(N, M, NA, M), "amber"),
    ("unrated items are ignored (drafts)", _ratings(P, None, None, None), "amber"),
    ("a section with nothing rated yet is grey", {}, "grey"),
])
def test_section_rag_rules(rule, ratings, expected):
    assert section_rag(ITEMS, ratings) == expected, rule


@pytest.mark.parametrize("rules, expected", [
    (ScoringRules(), "red"),
    (ScoringRules(escalate=False), "amber"),
    (ScoringRules(escalation_share=0.75), "amber"),
])
def test_escalation_is_configurable(rules, expected):
    assert section_rag(ITEMS, _ratings(N, N, M, M), rules) == expected


@pytest.mark.parametrize("rule, rags, expected", [
    ("all green is compliant", {"A": "green", "B": "green"}, "compliant"),
    ("green and grey is compliant (grey is ignored)", {"A": "green", "B": "grey"}, "compliant"),
    ("only grey sections is compliant", {"A": "grey"}, "compliant"),
    ("any amber and no red is compliant with actions", {"A": "green", "B": "amber"}, "compliant_with_actions"),
    ("any red is non-compliant", {"A": "amber", "B": "red", "C": "green"}, "non_compliant"),
])
def test_outcome_rules(rule, rags, expected):
    assert outcome_of(rags) == expected, rule


@pytest.fixture(scope="module")
def safeguarding():
    return compose(TEMPLATE_DIR / "safeguarding.yaml")


def _all(template, rating):
    return {i["key"]: rating for s in template["sections"] for i in s["items"] if i["answer"] == "rating"}


def test_header_is_not_scored_and_every_checklist_section_is(safeguarding):
    result = score(safeguarding, _all(safeguarding, M))
    assert "HDR" not in result.section_rags
    assert list(result.section_rags) == [s["key"] for s in safeguarding["sections"] if s["key"] != "HDR"]
    assert set(result.section_rags.values()) == {"green"} and result.outcome == "compliant" and result.complete


def test_a_failed_critical_item_makes_the_audit_non_compliant(safeguarding):
    ratings = {**_all(safeguarding, M), "SG-3.3": N}  # DBS checks before starting: critical
    result = score(safeguarding, ratings)
    assert result.section_rags["SG-3"] == "red" and result.outcome == "non_compliant"
    assert {k for k, v in result.section_rags.items() if v != "green"} == {"SG-3"}


def test_an_ordinary_failure_gives_compliant_with_actions(safeguarding):
    result = score(safeguarding, {**_all(safeguarding, M), "SG-1.2": N})
    assert result.section_rags["SG-1"] == "amber" and result.outcome == "compliant_with_actions"


def test_typed_header_values_never_change_the_score(safeguarding):
    ratings = {**_all(safeguarding, M), "HDR-4.5": "possibly_required", "HDR-4.1": True}
    assert score(safeguarding, ratings).outcome == "compliant"


def test_an_all_na_section_is_grey_and_ignored(safeguarding):
    ratings = _all(safeguarding, M)
    ratings.update({i["key"]: NA for s in safeguarding["sections"] if s["key"] == "SG-7" for i in s["items"]})
    result = score(safeguarding, ratings)
    assert result.section_rags["SG-7"] == "grey" and result.outcome == "compliant"


def test_unrated_items_are_listed_so_a_draft_score_is_provisional(safeguarding):
    result = score(safeguarding, {"SG-1.1": M})
    assert not result.complete and "SG-1.2" in result.unrated and "SG-1.1" not in result.unrated
    assert "HDR-4.1" not in result.unrated
