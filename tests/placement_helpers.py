"""A submitted placement of the world's school user, for the role matrix and page tests."""
from __future__ import annotations

from datetime import timedelta

from auditapp.models import Placement
from auditapp.services import placements
from auditapp.services.placements import PlacementInput

from . import world

# A placement that starts five weeks after the world's today and runs for about eleven weeks.
START = world.TODAY + timedelta(days=37)
END = START + timedelta(days=81)
FORM = {"pupil_initials": "JB", "year_group": "9", "date_of_birth": "2012-03-04", "upn": "A123456789012",
        "contact_name": "Jo Head", "contact_email": "jo@school.example.org", "hours_per_week": "15",
        "start_date": START.isoformat(), "end_date": END.isoformat(), "attendance_code": "B",
        "learning_outcomes": "Re-engage with maths", "exit_strategy": "Phased return",
        "child_voice": "Wants to work with animals", "family_voice": "Parents agree"}


def matrix_placement(session, app) -> Placement:
    existing = session.query(Placement).filter(Placement.pupil_initials == "MX").first()
    if existing is not None:
        return existing
    school = world.user(session, "school")
    provider = world.provider(session, "eligible")
    form = PlacementInput({**FORM, "pupil_initials": "MX", "provider_id": str(provider.id)})
    saved = placements.save(session, school, None, form, str(app.config["UPN_HASH_KEY"]).encode(), submit=True,
                            today=world.TODAY)
    session.flush()
    return saved.placement
