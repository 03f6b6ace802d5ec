"""The demo world for `make run` and the browser tests: two councils, the audit contractor,
three schools, a dozen providers across the districts, one user per role and assigned visits.

Idempotent: everything is looked up by its natural key before it is created.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clock
from ..models import Provider, User, Visit
from . import rollup, templates, users
from .demo_history import seed_history
from .demo_placements import seed_placements
from .grading_demo import seed_grading_examples
from .providers import NewProvider, NewSite, create_provider, ensure_organisation, schedule_visit

CITY, COUNTY = "Leicester City Council", "Leicestershire County Council"
CONTRACTOR = "Assure Safeguarding Audits Ltd"
SCHOOLS = ("Beaumont Leys Academy", "Charnwood Valley School", "Melton Hill High School")

# (email, full name, role, organisation, lead reviewer)
DEMO_USERS = (
    ("admin@county.example.org", "Alex Admin", "admin", COUNTY, False),
    ("maintainer@city.example.org", "Morgan Maintainer", "maintainer", CITY, False),
    ("maintainer@county.example.org", "Mina Maintainer", "maintainer", COUNTY, False),
    ("teacher@city.example.org", "Taylor Teacher", "qoe_teacher", CITY, False),
    ("teacher@county.example.org", "Tomas Teacher", "qoe_teacher", COUNTY, False),
    ("auditor@assure.example.org", "Ash Auditor", "auditor", CONTRACTOR, False),
    ("lead.auditor@assure.example.org", "Lee Lead", "auditor", CONTRACTOR, True),
    ("auditor2@assure.example.org", "Robin Rees", "auditor", CONTRACTOR, False),
    ("staff@beaumontleys.example.org", "Sam School", "school", SCHOOLS[0], False),
    ("staff@charnwoodvalley.example.org", "Sasha School", "school", SCHOOLS[1], False),
    ("staff@meltonhill.example.org", "Shay School", "school", SCHOOLS[2], False),
    ("officer@county.example.org", "Lou Officer", "la_officer", COUNTY, False),
)

# legal name, trading name, district, types, key stages, time basis, delivery, the status its story leads to (demo_history), SEND, SEMH, council(s), town, postcode
_PROVIDERS = (
    ("Riverside Motor Skills CIC", "Riverside Motors", "Leicester City", ("vocational",), ("KS4",), "part_time", "in_person", "eligible", False, True, (CITY,), "Leicester", "LE3 5BT"),
    ("Greenfield Farm Learning Ltd", "Greenfield Farm", "Harborough", ("vocational", "outdoor"), ("KS3", "KS4"), "part_time", "in_person", "eligible", True, True, (COUNTY,), "Market Harborough", "LE16 7QX"),
    ("Charnwood Therapeutic Education Ltd", None, "Charnwood", ("therapeutic",), ("KS2", "KS3"), "part_time", "in_person", "conditional", True, True, (COUNTY,), "Loughborough", "LE11 3TU"),
    ("Soar Valley Tutoring Ltd", "Soar Tutors", "Blaby", ("tutoring", "online"), ("KS2", "KS3", "KS4"), "part_time", "hybrid", "eligible", True, False, (CITY, COUNTY), "Blaby", "LE8 4GP"),
    ("Melton Outdoor Pursuits CIC", None, "Melton", ("outdoor", "sport"), ("KS3", "KS4"), "part_time", "in_person", "under_review", False, True, (COUNTY,), "Melton Mowbray", "LE13 0AB"),
    ("Bosworth Construction Academy Ltd", "BCA Skills", "Hinckley and Bosworth", ("vocational",), ("KS4",), "full_time", "in_person", "conditional", False, False, (COUNTY,), "Hinckley", "LE10 1NZ"),
    ("Coalville Creative Arts Trust", "Coalville Creates", "North West Leicestershire", ("creative", "therapeutic"), ("KS2", "KS3"), "part_time", "in_person", "pending", True, True, (COUNTY,), "Coalville", "LE67 3FR"),
    ("Wigston Online School Services Ltd", "Wigston Online", "Oadby and Wigston", ("online", "tutoring"), ("KS3", "KS4"), "part_time", "online", "eligible", True, False, (CITY, COUNTY), "Wigston", "LE18 2HL"),
    ("Highfields Youth Mentoring CIC", "Highfields Mentors", "Leicester City", ("therapeutic", "sport"), ("KS3", "KS4"), "part_time", "in_person", "suspended", False, True, (CITY,), "Leicester", "LE2 0DG"),
    ("Abbey Park Boxing Academy CIC", None, "Leicester City", ("sport",), ("KS3", "KS4"), "part_time", "in_person", "eligible", False, True, (CITY,), "Leicester", "LE4 5AQ"),
    ("Lutterworth Horse Care Ltd", "Hoofbeats", "Harborough", ("vocational", "therapeutic", "outdoor"), ("KS2", "KS3", "KS4"), "part_time", "in_person", "pending", True, True, (COUNTY,), "Lutterworth", "LE17 4PN"),
    ("Belgrave Digital Skills Ltd", "Code Belgrave", "Leicester City", ("vocational", "online"), ("KS4",), "full_time", "hybrid", "under_review", False, False, (CITY,), "Leicester", "LE4 6PR"),
    ("Market Bosworth Nurture Hub Ltd", "Nurture Hub", "Hinckley and Bosworth", ("therapeutic",), ("KS1", "KS2"), "part_time", "in_person", "eligible", True, True, (COUNTY,), "Market Bosworth", "CV13 0LP"),
)


@dataclass(frozen=True)
class SeededUser:
    email: str
    role: str
    organisation: str
    created: bool


def seed_demo(session: Session, passwords: dict[str, str], *, reset_passwords: bool = False,
              today: date | None = None, upn_key: bytes | None = None) -> list[SeededUser]:
    """Create (or complete) the demo world; set `passwords` on new users, or all if `reset_passwords`.

    Every provider starts Pending; its published status comes from its story (services/demo_history.py).
    Placements are seeded when `upn_key` (the app's UPN_HASH_KEY) is given.
    """
    today = today or clock.today()
    organisations = {name: ensure_organisation(session, None, name, "council") for name in (CITY, COUNTY)}
    organisations[CONTRACTOR] = ensure_organisation(session, None, CONTRACTOR, "contractor")
    for school in SCHOOLS:
        organisations[school] = ensure_organisation(session, None, school, "school")
    seeded = [_ensure_user(session, organisations, row, passwords[row[0]], reset_passwords) for row in DEMO_USERS]
    templates.publish_all(session, None)
    providers = [_ensure_provider(session, organisations, index, row) for index, row in enumerate(_PROVIDERS)]
    _ensure_visits(session, providers, today)
    seed_history(session)  # the audits and decisions behind every published status, and today's work
    seed_grading_examples(session, today)  # submitted QE audits for the grading queues
    if upn_key is not None:
        seed_placements(session, upn_key)
    rollup.recompute(session, None, clock.today(), rollup.DATE_DRIVEN)
    return seeded


def _ensure_user(session, organisations, row, password, reset) -> SeededUser:
    email, full_name, role, organisation, lead = row
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        users.create_user(session, None, users.NewUser(email=email, full_name=full_name, role=role, password=password,
                                                       organisation_id=organisations[organisation].id,
                                                       is_lead_reviewer=lead))
        return SeededUser(email, role, organisation, True)
    if reset:
        users.set_password(session, None, user, password)
    return SeededUser(email, role, organisation, False)


def _ensure_provider(session, organisations, index, row) -> Provider:
    (legal, trading, district, types, stages, basis, delivery, status, send, semh, councils, town, postcode) = row
    provider = session.scalar(select(Provider).where(Provider.legal_name == legal))
    if provider is not None:
        return provider
    ages = {"KS1": 5, "KS2": 7, "KS3": 11, "KS4": 14}
    slug = (trading or legal).split()[0].lower()
    return create_provider(session, None, NewProvider(
        legal_name=legal, trading_name=trading, district=district, provision_types=types, key_stages=stages,
        time_basis=basis, delivery_mode=delivery, directory_status="pending", send_specialism=send,
        semh_specialism=semh, council_ids=tuple(organisations[c].id for c in councils),
        contact_name="Office manager", contact_email=f"office@{slug}.example.org", contact_phone=f"0116 496 {index:04d}",
        company_number=f"{12000000 + index * 7919:08d}", age_min=ages[stages[0]], age_max=16,
        registration_status="registered" if basis == "full_time" and status == "under_review" else "not_required",
        cost_per_day_pence=9500 + index * 750, capacity=8 + index,
        offer_summary=f"{', '.join(types).capitalize()} provision for {', '.join(stages)} learners in {town}.",
        sites=(NewSite(name="Main site", address_line1=f"{10 + index} Station Road", town=town, postcode=postcode,
                       is_main=True),),
    ))


def _ensure_visits(session, providers, today) -> None:
    by_email = {u.email: u for u in session.scalars(select(User).where(User.email.in_([r[0] for r in DEMO_USERS])))}
    auditor, lead = by_email["auditor@assure.example.org"], by_email["lead.auditor@assure.example.org"]
    teachers = by_email["teacher@city.example.org"], by_email["teacher@county.example.org"]
    plan = [  # provider index, days from today, audit types, assignees
        (6, 3, ["safeguarding", "health_safety"], [auditor.id]),
        (10, 7, ["safeguarding", "health_safety"], [auditor.id, lead.id]),
        (4, 10, ["safeguarding"], [auditor.id]),
        (11, 14, ["health_safety"], [lead.id]),
        (0, -30, ["safeguarding", "health_safety"], [auditor.id]),
        (2, 5, ["quality_education"], [teachers[1].id]),
        (5, 12, ["quality_education"], [teachers[1].id]),
        (8, 9, ["quality_education"], [teachers[0].id]),
    ]
    for index, days, audit_types, assignees in plan:
        provider = providers[index]
        if session.scalar(select(Visit.id).where(Visit.provider_id == provider.id)) is not None:
            continue  # this provider's demo visit already exists
        schedule_visit(session, None, provider, provider.sites[0], today + timedelta(days=days), audit_types, assignees)
