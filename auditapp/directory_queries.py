"""Read-only selects for the schools' directory: search, one provider as a school sees it, the
change stamp behind the API's ETags, the directory's stamp behind the search cache. Visibility is
decided here, never in a template.

A school sees only the published statuses it may see (never Pending or Removed) and never a
closed provider; LA roles see every provider in the search. The CSV and the API always give the
school's view (see `school_view`), whoever asks.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session, joinedload, selectinload

from .models import (Action, Audit, Notification, Provider, ProviderKeyStage, ProviderProvisionType,
                     ProviderStatusChange, TemplateVersion, User, Visit)
from .models.base import MAX_INT_ID
from .services.eligibility import CLOSED_ACTION_STATUSES
from .services.errors import NotFound
from .services.notifications import CATEGORY_LABELS

# What a school may see in the directory (audit-templates.md §1.5): never Pending or Removed.
SCHOOL_STATUSES = ("eligible", "conditional", "under_review", "suspended")
LA_ROLES = ("maintainer", "qoe_teacher", "admin", "la_officer")  # see every status; no safeguarding detail
AUDIT_ORDER = ("safeguarding", "health_safety", "quality_education")
PAGE_SIZE = 20
NAME_ORDER = (func.lower(func.coalesce(Provider.trading_name, Provider.legal_name)), Provider.id)
OUTCOME_LABELS = {"compliant": "Compliant", "compliant_with_actions": "Compliant with actions",
                  "non_compliant": "Non-compliant"}
# What schools are told each published status means (audit-templates.md §1.5, "What schools see").
STATUS_MEANINGS = {
    "eligible": "Listed. You may commission this provider, subject to your school's own checks.",
    "conditional": "Listed with open actions from its audits. You may commission this provider, subject to your "
                   "school's own checks; read its open actions first.",
    "under_review": "Under review: contact the AP team before placing. New placements are on hold; existing "
                    "placements continue.",
    "suspended": "Suspended: no new placements. If you have learners placed here, review those placements now "
                 "with the AP team.",
    "pending": "Not yet audited: not offered to schools.",
    "removed": "Removed from the directory.",
}


@dataclass(frozen=True)
class SearchFilters:
    q: str = ""
    provision_type: str = ""
    key_stage: str = ""
    age: int | None = None
    district: str = ""
    specialism: tuple[str, ...] = ()  # send, semh: a provider must have every one asked for
    time_basis: str = ""  # part_time | full_time ("both" matches either)
    delivery: str = ""  # in_person | online (hybrid matches either)
    status: str = ""
    page: int = 1


@dataclass(frozen=True)
class SearchPage:
    providers: list[Provider]
    total: int
    page: int
    pages: int
    page_size: int


@dataclass(frozen=True)
class LatestAudit:
    audit_type: str
    visit_date: date
    outcome: str


@dataclass
class SchoolProviderView:
    """One provider as a school may see it: status, plain reasons, audit dates, open actions."""

    provider: Provider
    meaning: str
    reasons: list[str]
    latest_audits: list[LatestAudit]
    open_actions: int
    open_action_headings: list[str] = field(default_factory=list)


def school_view(user: User) -> bool:
    """True when `user` gets the schools' visibility in the search pages."""
    return user.role not in LA_ROLES


def _visible(school: bool):
    if school:
        return and_(Provider.directory_status.in_(SCHOOL_STATUSES), Provider.closed_at.is_(None))
    return Provider.id.is_not(None)


def _filtered(filters: SearchFilters, school: bool):
    """The providers matching `filters` within what the audience may see, as a WHERE clause list."""
    where = [_visible(school)]
    if filters.q:
        # autoescape: % and _ typed by a user are literal characters, not wildcards.
        where.append(or_(func.lower(Provider.legal_name).contains(filters.q.lower(), autoescape=True),
                         func.lower(func.coalesce(Provider.trading_name, "")).contains(filters.q.lower(),
                                                                                        autoescape=True)))
    if filters.provision_type:
        where.append(Provider.id.in_(select(ProviderProvisionType.provider_id)
                                     .where(ProviderProvisionType.provision_type == filters.provision_type)))
    if filters.key_stage:
        where.append(Provider.id.in_(select(ProviderKeyStage.provider_id)
                                     .where(ProviderKeyStage.key_stage == filters.key_stage)))
    if filters.age is not None:
        where += [Provider.age_min <= filters.age, Provider.age_max >= filters.age]
    if filters.district:
        where.append(Provider.district == filters.district)
    if "send" in filters.specialism:
        where.append(Provider.send_specialism.is_(True))
    if "semh" in filters.specialism:
        where.append(Provider.semh_specialism.is_(True))
    if filters.time_basis:
        where.append(Provider.time_basis.in_((filters.time_basis, "both")))
    if filters.delivery:
        where.append(Provider.delivery_mode.in_((filters.delivery, "hybrid")))
    if filters.status:
        where.append(Provider.directory_status == filters.status)
    return where


def search(session: Session, user: User | None, filters: SearchFilters, page_size: int = PAGE_SIZE,
           school: bool | None = None) -> SearchPage:
    """One page of the providers matching `filters` that the user may see, by name."""
    school = school_view(user) if school is None else school
    where = _filtered(filters, school)
    count = select(func.count()).select_from(Provider).where(*where)
    page = max(1, filters.page)
    rows = _page_of(session, where, count, page, page_size)
    if not rows and page > 1:  # past the last page (an old link): show the last one
        page = max(1, -(-session.scalar(count) // page_size))
        rows = _page_of(session, where, count, page, page_size)
    total = rows[0].total if rows else 0
    return SearchPage([row.Provider for row in rows], total, page, max(1, -(-total // page_size)), page_size)


def _page_of(session: Session, where: list, count, page: int, page_size: int) -> list:
    """One page of (Provider, total) rows in one statement, where a count, the page and a load per collection
    took four round trips: the total of all matches is an uncorrelated subquery (computed once), and the ORM
    limits the providers in a subquery before joining their types and key stages (a handful of rows each)."""
    return session.execute(
        select(Provider, count.scalar_subquery().label("total")).where(*where)
        .options(joinedload(Provider.provision_types), joinedload(Provider.key_stages))
        .order_by(*NAME_ORDER).offset((page - 1) * page_size).limit(page_size)).unique().all()


def all_matching(session: Session, filters: SearchFilters) -> list[Provider]:
    """Every provider matching `filters` in the schools' view (the CSV export), by name."""
    return list(session.scalars(
        select(Provider).where(*_filtered(filters, school=True))
        .options(selectinload(Provider.provision_types), selectinload(Provider.key_stages))
        .order_by(*NAME_ORDER)))


def visible_provider(session: Session, user: User | None, provider_id: int, school: bool | None = None) -> Provider:
    """One provider the audience may see. :raises provider.not_found: unknown, or hidden from schools."""
    school = school_view(user) if school is None else school
    if not 0 < provider_id <= MAX_INT_ID:  # a URL can hold any integer; the database refuses one out of range
        raise NotFound("provider.not_found", "There is no such provider in the directory")
    provider = session.scalar(select(Provider).where(Provider.id == provider_id, _visible(school))
                              .options(selectinload(Provider.provision_types), selectinload(Provider.key_stages),
                                       selectinload(Provider.councils), selectinload(Provider.sites)))
    if provider is None:
        raise NotFound("provider.not_found", "There is no such provider in the directory")
    return provider


def provider_for_school(session: Session, provider: Provider) -> SchoolProviderView:
    """What a school may read about `provider`: never notes, conversations, evidence or concerns."""
    open_rows = session.execute(
        select(Action.item_key, Audit.template_version_id).join(Audit, Audit.id == Action.audit_id)
        .where(Action.provider_id == provider.id,
               Action.status.not_in(CLOSED_ACTION_STATUSES + ("proposed",)))).all()
    headings = []
    if provider.directory_status == "conditional":
        headings = _section_titles(session, open_rows)
    return SchoolProviderView(provider, STATUS_MEANINGS[provider.directory_status], plain_reasons(session, provider),
                              latest_audits(session, provider.id), len(open_rows), headings)


def latest_audits(session: Session, provider_id: int) -> list[LatestAudit]:
    """The newest finalised audit of each type (visit date and outcome), in the standard order."""
    rows = session.execute(select(Audit.audit_type, Visit.visit_date, Audit.outcome)
                           .join(Visit, Visit.id == Audit.visit_id)
                           .where(Visit.provider_id == provider_id, Audit.status == "finalised",
                                  Audit.outcome.is_not(None))
                           .order_by(Visit.visit_date.desc(), Audit.revision.desc())).all()
    latest: dict[str, LatestAudit] = {}
    for audit_type, visit_date, outcome in rows:
        latest.setdefault(audit_type, LatestAudit(audit_type, visit_date, outcome))
    return [latest[t] for t in AUDIT_ORDER if t in latest]


def plain_reasons(session: Session, provider: Provider) -> list[str]:
    """The reason categories behind the published status, in words a school may read.

    Only categories ever leave here: a reason's text (a maintainer's words, a concern count) never does.
    """
    status = provider.directory_status
    if status == "eligible":
        return []
    explains = (provider.computed_status == status
                or (status == "under_review" and provider.computed_status in ("under_review", "suspended")))
    reasons = provider.computed_reasons if explains else None
    if not reasons:
        last = session.scalar(select(ProviderStatusChange.reasons)
                              .where(ProviderStatusChange.provider_id == provider.id,
                                     ProviderStatusChange.kind == "published",
                                     ProviderStatusChange.to_status == status)
                              .order_by(ProviderStatusChange.id.desc()).limit(1))
        reasons = last or []
    labels: list[str] = []
    for reason in reasons:
        category = "safeguarding" if reason.get("safeguarding") else reason.get("category", "listing")
        label = CATEGORY_LABELS.get(category, CATEGORY_LABELS["listing"])
        if label not in labels:
            labels.append(label)
    return labels


def _section_titles(session: Session, rows) -> list[str]:
    """The headings (section titles of the audit template) of open actions' items, without repeats."""
    versions = {version_id for _, version_id in rows}
    if not versions:
        return []
    titles: dict[tuple[int, str], str] = {}
    for version_id, content in session.execute(select(TemplateVersion.id, TemplateVersion.content)
                                               .where(TemplateVersion.id.in_(versions))):
        for section in content.get("sections", []):
            for item in section.get("items", []):
                titles[(version_id, item["key"])] = section["title"]
    headings: list[str] = []
    for item_key, version_id in sorted(rows):
        title = titles.get((version_id, item_key))
        if title and title not in headings:
            headings.append(title)
    return headings


def change_stamp(providers: list[Provider], *parts: object) -> str:
    """The entity tag (unquoted) of a response built from `providers`: it changes whenever any of them does.

    `version` moves with every change schools can see (published status, profile); `computed_at`
    with every event-driven recompute (a finalise, an action, a concern, a decision, an edit), which is
    when audit dates and open actions move, and whenever the daily roll-up changes a stored result
    (valid-until, reasons); see rollup.recompute.
    """
    digest = hashlib.sha256(repr(parts).encode())
    for p in providers:
        computed = p.computed_at.isoformat() if isinstance(p.computed_at, datetime) else ""
        digest.update(f"|{p.id}:{p.version}:{computed}".encode())
    return digest.hexdigest()[:32]


# One statement: the stamp, and whether this transaction has written (it would see its own changes).
_STAMP = text("SELECT value, pg_current_xact_id_if_assigned() IS NULL FROM directory_stamp WHERE id = 1")


def directory_stamp(session: Session) -> int | None:
    """The directory's change stamp (migration 0008), or None when search results must not be reused.

    None in a transaction that has written: it sees its own uncommitted changes, which neither the stamp
    nor other requests see.
    """
    value, clean = session.execute(_STAMP).one()
    return value if clean else None


def notifications_for(session: Session, user: User, limit: int = 100) -> list[Notification]:
    """The user's own notifications, newest first."""
    return list(session.scalars(select(Notification).where(Notification.user_id == user.id)
                                .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))


def shown_to_schools(session: Session, provider_ids: set[int]) -> set[int]:
    """Which of these providers a school may open (a notification may outlive a provider's listing)."""
    if not provider_ids:
        return set()
    return set(session.scalars(select(Provider.id).where(Provider.id.in_(provider_ids), _visible(school=True))))
