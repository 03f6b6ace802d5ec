"""LA officers (council staff, role `la_officer`) search the directory and call the read-only API, as README
says LA roles may: the directory as LA staff see it (every status, contacts, sites), never safeguarding detail
or the maintainers' record; the API gives everyone the schools' view."""
import re
from datetime import timedelta

from sqlalchemy import func, select

from auditapp.models import Provider
from auditapp.services import rollup

from . import world
from .directory_helpers import concern, in_date, new_provider

CONCERN = "Concern content the schools must never see"


def test_the_la_officer_has_directory_in_the_menu_and_searches_every_status(client, auth, db_session):
    auth.login("la_officer")
    home = client.get("/").get_data(as_text=True)
    assert re.search(r'href="/directory/"[^>]*>\s*Directory\s*<', home)
    response = client.get("/directory/?status=pending")
    assert response.status_code == 200
    pending = db_session.scalars(select(Provider).where(Provider.directory_status == "pending")).all()
    body = response.get_data(as_text=True)
    assert pending and all(provider.display_name in body for provider in pending)
    csv = client.get("/directory/export.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"


def test_the_la_officer_reads_a_provider_as_la_staff_do_without_safeguarding_detail(client, auth, db_session):
    provider = new_provider(db_session)
    in_date(db_session, provider, visit_date=world.TODAY - timedelta(days=40))
    concern(db_session, provider)
    rollup.recompute(db_session, [provider.id], world.TODAY, "concern")
    db_session.flush()
    auth.login("la_officer")
    response = client.get(f"/directory/providers/{provider.id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "For the LA" in body and "Company number" in body  # the LA view, as QoE teachers see it
    assert CONCERN not in body and "/maintainers/providers/" not in body


def test_the_la_officer_calls_the_read_only_api(client, auth, db_session):
    auth.login("la_officer")
    listing = client.get("/api/v1/providers?per_page=200")
    assert listing.status_code == 200
    listed = db_session.scalar(select(func.min(Provider.id)).where(Provider.directory_status == "eligible"))
    detail = client.get(f"/api/v1/providers/{listed}")
    assert detail.status_code == 200 and detail.get_json()["status"] == "eligible"
    token = auth.csrf("/")
    assert client.post("/api/v1/providers", headers={"X-CSRFToken": token}).status_code == 405
