"""Scoring: item ratings → section RAGs → audit outcome (audit-templates.md §1.2, §1.3).

One pure function over plain data (the pinned template content and the stored ratings), so the
server's figures can be recomputed and tested without a database. The device may show its own
figures, labelled provisional; these are the truth (ARCHITECTURE.md §4).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

RATING_LABELS = {"met": "Met", "partially_met": "Partially met", "not_met": "Not met", "not_applicable": "N/A"}
RAG_LABELS = {"green": "Green", "amber": "Amber", "red": "Red", "grey": "Not scored"}
OUTCOME_LABELS = {"compliant": "Compliant", "compliant_with_actions": "Compliant with actions",
                  "non_compliant": "Non-compliant"}
_RISK = {"green": 0, "amber": 1, "red": 2}


@dataclass(frozen=True)
class ScoringRules:
    """The configurable part of scoring (§10): section escalation to Red."""

    escalate: bool = True
    # A section turns Red when this share or more of its rated (non-N/A) items are Not met.
    escalation_share: float = 0.5


DEFAULT_RULES = ScoringRules()


@dataclass(frozen=True)
class Score:
    """Section colours by section key (scored sections only: never the header) and the outcome."""

    section_rags: dict[str, str]
    outcome: str
    unrated: list[str] = field(default_factory=list)  # rated items with no rating yet (drafts only)

    @property
    def complete(self) -> bool:
        return not self.unrated


def is_rated(item: dict) -> bool:
    """True for a checklist item taking Met/Partially met/Not met/N/A (header fields are typed)."""
    return item.get("answer", "rating") == "rating"


def item_colour(item: dict, rating: str | None) -> str | None:
    """One item's colour (§1.2); None when it does not count (N/A or not rated yet)."""
    if rating == "met":
        return "green"
    if rating == "partially_met":
        return "amber"
    if rating == "not_met":
        return "red" if item.get("critical") else "amber"
    return None


def section_rag(items: list[dict], ratings: Mapping[str, str | None], rules: ScoringRules = DEFAULT_RULES) -> str:
    """Worst colour among a section's rated items; grey when none counts; escalation per `rules`."""
    colours = [c for c in (item_colour(i, ratings.get(i["key"])) for i in items) if c is not None]
    if not colours:
        return "grey"
    worst = max(colours, key=_RISK.__getitem__)
    not_met = sum(1 for i in items if ratings.get(i["key"]) == "not_met")
    if rules.escalate and not_met / len(colours) >= rules.escalation_share:
        return "red"
    return worst


def outcome_of(section_rags: Mapping[str, str]) -> str:
    """Compliant when every section is green or grey; any red: non-compliant; else with actions."""
    colours = set(section_rags.values())
    if "red" in colours:
        return "non_compliant"
    if "amber" in colours:
        return "compliant_with_actions"
    return "compliant"


def score(template: dict, ratings: Mapping[str, str | None], rules: ScoringRules = DEFAULT_RULES) -> Score:
    """Score an audit from its pinned template content and `{item key: rating}`.

    Sections without rated items (the shared header) are not scored. Unrated items are ignored
    and listed in `unrated`, so a draft can be shown a provisional figure.
    """
    rags: dict[str, str] = {}
    unrated: list[str] = []
    for section in template["sections"]:
        items = [item for item in section["items"] if is_rated(item)]
        if not items:
            continue
        rags[section["key"]] = section_rag(items, ratings, rules)
        unrated += [item["key"] for item in items if not ratings.get(item["key"])]
    return Score(rags, outcome_of(rags), unrated)
