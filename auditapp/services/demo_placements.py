"""Demo placements: pupils the demo schools have placed with listed providers, notified through the same
service as the placement form, so the LA officer's dashboard and the maintainers' figures have something
to count. Idempotent: a school's placement is found by its pupil's initials before it is made."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clock
from ..models import Placement, Provider, User
from .placements import PlacementInput, save

# school user, provider, pupil initials, year group, UPN, weeks since it started
PLACEMENTS = (
    ("staff@beaumontleys.example.org", "Greenfield Farm Learning Ltd", "DK", 10, "H801200001234", 3),
    ("staff@beaumontleys.example.org", "Bosworth Construction Academy Ltd", "RP", 8, "H801200001235", 1),
    ("staff@charnwoodvalley.example.org", "Wigston Online School Services Ltd", "AM", 11, "H801200001236", 5),
)


def seed_placements(session: Session, upn_key: bytes) -> None:
    """Notify the demo placements that are missing, as their schools would."""
    today = clock.today()
    for email, legal_name, initials, year, upn, weeks in PLACEMENTS:
        school = session.scalar(select(User).where(User.email == email))
        provider = session.scalar(select(Provider).where(Provider.legal_name == legal_name))
        if school is None or provider is None or provider.directory_status not in ("eligible", "conditional"):
            continue
        if session.scalar(select(Placement.id).where(Placement.school_id == school.organisation_id,
                                                     Placement.pupil_initials == initials)) is not None:
            continue
        start = today - timedelta(weeks=weeks)
        form = PlacementInput({
            "provider_id": str(provider.id), "pupil_initials": initials, "year_group": str(year),
            "date_of_birth": date(start.year - year - 5, 9, 1).isoformat(), "upn": upn,
            "contact_name": "Head of inclusion", "contact_email": email, "hours_per_week": "12",
            "start_date": start.isoformat(), "end_date": (start + timedelta(weeks=12)).isoformat(),
            "attendance_code": "B", "learning_outcomes": "Re-engage with learning and gain a level 1 certificate",
            "exit_strategy": "Phased return to school over the last four weeks",
            "child_voice": "Wants practical work", "family_voice": "Parents agree to the placement"},
            acknowledge_conditions=provider.directory_status == "conditional")
        save(session, school, None, form, upn_key, submit=True, today=today)
