"""Safeguarding concern triage: a maintainer marks an open concern triaged with what was done, and a provider
kept Under review only by that concern leaves it (rule R3); anyone else, an empty note or a second triage is
refused with nothing changed. The world's "Melton Outdoor Pursuits CIC" is Under review for one untriaged
concern. Service tests first, then the route on the maintainers' provider page."""
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from auditapp import clock
from auditapp.models import AuditLogEntry, Provider, ProviderStatusChange, SafeguardingConcern, User
from auditapp.services import concerns
from auditapp.services.decisions import Decision, decide
from auditapp.services.errors import Conflict, Forbidden, Invalid, NotFound

from . import world
from .directory_helpers import concern as add_concern

MELTON = "Melton Outdoor Pursuits CIC"
CONCERN_TEXT = "A learner described being left alone with an adult volunteer"  # the world's concern says this
NOTE = "Spoke to the LADO: the volunteer is stood down until their DBS check is back"
HX = {"HX-Request": "true"}


@pytest.fixture
def melton(db_session) -> Provider:
    return db_session.scalar(select(Provider).where(Provider.legal_name == MELTON))


@pytest.fixture
def open_concern(db_session, melton) -> SafeguardingConcern:
    [row] = concerns.open_concerns(db_session, melton.id)
    return row.concern


@pytest.fixture
def maintainer(db_session):
    return world.user(db_session, "maintainer")


def _triage_log(db_session, concern) -> list[AuditLogEntry]:
    return list(db_session.scalars(select(AuditLogEntry).where(AuditLogEntry.action == "concern.triage",
                                                               AuditLogEntry.entity_id == str(concern.id))))


def _unchanged(db_session, melton, concern) -> None:
    db_session.refresh(concern)
    db_session.refresh(melton)
    assert concern.status == "open" and concern.triaged_by_id is None and concern.triaged_at is None
    assert concern.triage_note is None and concern.version == 1
    assert melton.computed_status == "under_review" and melton.directory_status == "under_review"
    assert _triage_log(db_session, concern) == []


# ---- the service --------------------------------------------------------------------------------

def test_the_world_has_melton_under_review_for_its_one_untriaged_concern(db_session, melton, open_concern):
    assert melton.computed_status == "under_review" and melton.directory_status == "under_review"
    assert [r["code"] for r in melton.computed_reasons] == ["concern_untriaged"]
    assert open_concern.status == "open" and CONCERN_TEXT in open_concern.summary


def test_a_maintainer_triages_and_the_provider_leaves_under_review(db_session, melton, open_concern, maintainer):
    moment = datetime(2027, 3, 4, 10, 30, tzinfo=timezone.utc)
    with clock.frozen(moment):
        triaged = concerns.triage(db_session, maintainer, open_concern.id, f"  {NOTE}  ")
    assert triaged is open_concern and triaged.status == "triaged" and triaged.version == 2
    assert triaged.triaged_by_id == maintainer.id and triaged.triaged_at == moment and triaged.triage_note == NOTE
    assert concerns.open_concerns(db_session, melton.id) == []
    # Recomputed in the same transaction: the concern was the only reason, so the audits now say Eligible;
    # the published status waits for a maintainer to clear the review, which is no longer refused.
    assert melton.computed_status == "eligible" and melton.directory_status == "under_review"
    change = db_session.scalar(select(ProviderStatusChange).where(
        ProviderStatusChange.provider_id == melton.id, ProviderStatusChange.kind == "computed")
        .order_by(ProviderStatusChange.id.desc()).limit(1))
    assert (change.from_status, change.to_status, change.cause, change.actor_id) == (
        "under_review", "eligible", "concern", maintainer.id)
    [entry] = _triage_log(db_session, open_concern)
    assert entry.actor_id == maintainer.id and entry.after["status"] == "triaged"
    assert "LADO" not in str(entry.before) + str(entry.after) and "learner" not in str(entry.after)  # neither text
    decide(db_session, maintainer, Decision(melton.id, "clear_review", "Concern triaged with the LADO", melton.version),
           clock.today())
    assert melton.directory_status == "eligible"


def test_a_provider_with_another_open_concern_stays_under_review(db_session, melton, open_concern, maintainer):
    add_concern(db_session, melton)
    concerns.triage(db_session, maintainer, open_concern.id, NOTE)
    assert melton.computed_status == "under_review"
    assert [r.concern.status for r in concerns.provider_concerns(db_session, melton.id)] == ["open", "triaged"]


@pytest.mark.parametrize("role", ["school", "auditor", "qoe_teacher", "admin", "la_officer"])
def test_only_maintainers_triage(db_session, melton, open_concern, role):
    with pytest.raises(Forbidden) as refused:
        concerns.triage(db_session, world.user(db_session, role), open_concern.id, NOTE)
    assert refused.value.code == "concern.maintainers_only"
    _unchanged(db_session, melton, open_concern)


@pytest.mark.parametrize("note, code", [("", "concern.note_required"), ("  \n ", "concern.note_required"),
                                        (None, "concern.note_required"), ("x" * 2001, "concern.note_too_long")])
def test_a_missing_or_too_long_note_is_refused_with_nothing_changed(db_session, melton, open_concern, maintainer,
                                                                     note, code):
    with pytest.raises(Invalid) as refused:
        concerns.triage(db_session, maintainer, open_concern.id, note)
    assert refused.value.code == code and list(refused.value.details) == ["note"]
    _unchanged(db_session, melton, open_concern)


def test_a_note_of_2000_characters_is_accepted(db_session, open_concern, maintainer):
    assert concerns.triage(db_session, maintainer, open_concern.id, "x" * 2000).triage_note == "x" * 2000


def test_triaging_twice_is_refused_and_keeps_the_first_triage(db_session, open_concern, maintainer):
    concerns.triage(db_session, maintainer, open_concern.id, NOTE)
    with pytest.raises(Conflict) as refused:
        concerns.triage(db_session, maintainer, open_concern.id, "Second thoughts")
    assert refused.value.code == "concern.not_open" and refused.value.details == {"status": "triaged"}
    assert open_concern.triage_note == NOTE and open_concern.version == 2
    assert len(_triage_log(db_session, open_concern)) == 1


def test_a_concern_of_another_provider_or_none_is_not_found(db_session, melton, open_concern, maintainer):
    other = world.provider(db_session, "eligible")
    with pytest.raises(NotFound):
        concerns.triage(db_session, maintainer, open_concern.id, NOTE, provider_id=other.id)
    with pytest.raises(NotFound):
        concerns.triage(db_session, maintainer, uuid.UUID(int=1), NOTE)
    _unchanged(db_session, melton, open_concern)


# ---- the provider page and its route ------------------------------------------------------------

def _page(client, melton, query: str = "") -> str:
    return client.get(f"/maintainers/providers/{melton.id}{query}").get_data(as_text=True)


def _triage(client, auth, melton, concern, note=NOTE, htmx=False, csrf=True, signed_in=True):
    token = auth.csrf("/" if signed_in else "/sign-in") if csrf else None
    data = {"note": note, **({"csrf_token": token} if token else {})}
    return client.post(f"/maintainers/providers/{melton.id}/concerns/{concern.id}/triage", data=data,
                       headers=HX if htmx else None)


def test_the_provider_page_lists_the_concern_with_a_triage_form_for_maintainers(client, auth, db_session, melton,
                                                                                 open_concern):
    auth.login("maintainer")
    page = _page(client, melton)
    section = page[page.index('<section id="concerns"'):]
    section = section[:section.index("</section>")]
    assert "Safeguarding concerns" in section and "Awaiting triage" in section
    raiser = db_session.get(User, open_concern.raised_by_id).full_name  # the demo history's auditor
    assert f"by {raiser}" in section
    assert "LADO" in section and CONCERN_TEXT in section  # referred to; the summary, for maintainers
    assert "What was done (triage note)" in section and "Mark as triaged" in section
    assert f'action="/maintainers/providers/{melton.id}/concerns/{open_concern.id}/triage"' in section
    assert 'name="csrf_token"' in section and "style=" not in section


def test_admins_see_the_concern_but_not_what_it_says_nor_the_form(client, auth, melton, open_concern):
    auth.login("admin")
    page = _page(client, melton)
    assert "Safeguarding concerns" in page and "Awaiting triage" in page and "LADO" in page
    assert CONCERN_TEXT not in page and "Mark as triaged" not in page and 'name="note"' not in page


def test_a_maintainer_marks_it_triaged_and_is_sent_back_with_a_banner(client, auth, db_session, melton, open_concern):
    auth.login("maintainer")
    response = _triage(client, auth, melton, open_concern)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/maintainers/providers/{melton.id}?done=triaged#concerns"
    db_session.refresh(open_concern)
    db_session.refresh(melton)
    assert open_concern.status == "triaged" and open_concern.triage_note == NOTE
    assert open_concern.triaged_by_id == world.user(db_session, "maintainer").id
    assert melton.computed_status == "eligible"
    page = _page(client, melton, "?done=triaged")
    assert "Concern marked as triaged" in page and "govuk-notification-banner--success" in page
    assert "Triaged" in page and NOTE in page and "Mark as triaged" not in page
    assert "Clear the review" in page


def test_an_htmx_triage_redirects_the_whole_page(client, auth, melton, open_concern):
    auth.login("maintainer")
    response = _triage(client, auth, melton, open_concern, htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/maintainers/providers/{melton.id}?done=triaged#concerns"


def test_an_empty_note_is_a_422_with_the_field_error_and_changes_nothing(client, auth, db_session, melton,
                                                                         open_concern):
    auth.login("maintainer")
    response = _triage(client, auth, melton, open_concern, note="   ")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" in page
    assert "There is a problem" in page and page.count("Enter what was done (triage note)") == 2  # summary, field
    assert f'href="#note-{open_concern.id}"' in page and f'id="note-{open_concern.id}-error"' in page
    fragment = _triage(client, auth, melton, open_concern, note="", htmx=True)
    text = fragment.get_data(as_text=True)
    assert fragment.status_code == 422 and text.lstrip().startswith('<section id="concerns"') and "<html" not in text
    _unchanged(db_session, melton, open_concern)


def test_a_too_long_note_is_kept_in_the_form_with_the_error(client, auth, db_session, melton, open_concern):
    auth.login("maintainer")
    response = _triage(client, auth, melton, open_concern, note="y" * 2001, htmx=True)
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and "Must be 2000 characters or fewer" in text and "y" * 2001 in text
    _unchanged(db_session, melton, open_concern)


def test_a_second_triage_is_a_409_and_keeps_the_first(client, auth, db_session, melton, open_concern):
    auth.login("maintainer")
    assert _triage(client, auth, melton, open_concern).status_code == 303
    again = _triage(client, auth, melton, open_concern, note="Again", htmx=True)
    text = again.get_data(as_text=True)
    assert again.status_code == 409 and "The concern was not triaged" in text and "already triaged" in text
    db_session.refresh(open_concern)
    assert open_concern.triage_note == NOTE


def test_without_the_csrf_token_nothing_changes(client, auth, db_session, melton, open_concern):
    auth.login("maintainer")
    assert _triage(client, auth, melton, open_concern, csrf=False).status_code == 400
    _unchanged(db_session, melton, open_concern)


@pytest.mark.parametrize("role", ["admin", "school", "auditor", "qoe_teacher", "la_officer"])
def test_other_roles_are_refused_the_route(client, auth, db_session, melton, open_concern, role):
    auth.login(role)
    response = _triage(client, auth, melton, open_concern)
    assert response.status_code == 403 and CONCERN_TEXT not in response.get_data(as_text=True)
    _unchanged(db_session, melton, open_concern)


def test_signed_out_is_sent_to_sign_in(client, auth, db_session, melton, open_concern):
    response = _triage(client, auth, melton, open_concern, signed_in=False)
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    _unchanged(db_session, melton, open_concern)


def test_a_concern_under_another_providers_url_is_404(client, auth, db_session, melton, open_concern):
    auth.login("maintainer")
    other = world.provider(db_session, "eligible")
    response = client.post(f"/maintainers/providers/{other.id}/concerns/{open_concern.id}/triage",
                           data={"note": NOTE, "csrf_token": auth.csrf("/")})
    assert response.status_code == 404
    _unchanged(db_session, melton, open_concern)


def test_the_history_says_the_computed_status_moved_when_a_concern_was_triaged(client, auth, melton, open_concern):
    auth.login("maintainer")
    _triage(client, auth, melton, open_concern)
    history = client.get(f"/maintainers/providers/{melton.id}/history").get_data(as_text=True)
    assert "a concern was raised or triaged" in history

