"""Search results kept per worker process (web/directory_cache.py), on real PostgreSQL with real commits.

The HTTP tests' rolled-back transactions never commit, so this module has its own committed world
and two apps on it, each with its own engine and cache, as two gunicorn workers have. A change
committed by one worker, or through a plain connection, must show in the other's next search; nothing
of one user may reach another's page.
"""
from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import create_engine, text

from auditapp.db import bind, db as app_db, session_scope
from auditapp.directory_queries import directory_stamp
from auditapp.services import users
from auditapp.web.directory_cache import RenderedCache

from . import world
from .conftest import CSRF_RE, Auth, make_test_app, world_database

HX = {"HX-Request": "true"}
CARD_RE = r'<h3 class="govuk-summary-card__title"><a class="govuk-link" href="/directory/providers/{id}">'


@pytest.fixture(scope="module")
def committed_url():
    return world_database(f"auditapp_cache_{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def workers(committed_url):
    """Two apps on one database: two workers, each with its own engine, pool and cache."""
    apps = (make_test_app(committed_url), make_test_app(committed_url))
    yield apps
    for app in apps:
        app_db.binding(app).engine.dispose()


@pytest.fixture(scope="module")
def sql(committed_url):
    """A plain connection of its own, as a third process (the CLI, psql) would write."""
    engine = create_engine(committed_url)
    yield engine
    engine.dispose()


def signed_in(app, role: str | None = None, email: str | None = None):
    client = app.test_client()
    auth = Auth(client)
    token = auth.csrf()
    response = client.post("/sign-in", data={"email": email or world.EMAIL[role], "password": world.PASSWORD,
                                              "csrf_token": token})
    assert response.status_code == 302
    return client


def listed(sql, offset: int) -> dict:
    """A provider schools see (the `offset`-th by id, so each test changes one of its own)."""
    with sql.connect() as conn:
        row = conn.execute(text(
            "SELECT id, legal_name, version FROM providers WHERE directory_status = 'eligible' AND closed_at IS NULL "
            "ORDER BY id OFFSET :n LIMIT 1"), {"n": offset}).one()
    return row._asdict()


def card(body: str, provider_id: int) -> str:
    """One provider's summary card on a results page, or "" when it is not there."""
    found = re.search(CARD_RE.format(id=provider_id), body)
    return body[found.start():body.index("</dl>", found.start())] if found else ""


def cached(app) -> int:
    return len(app.extensions["directory_cache"])


def test_a_suspension_by_a_maintainer_on_another_worker_shows_in_the_schools_next_search(workers, sql):
    school_worker, maintainer_worker = workers
    school, maintainer = signed_in(school_worker, "school"), signed_in(maintainer_worker, "maintainer")
    provider = listed(sql, 0)
    query = f"/directory/?q={provider['legal_name']}"
    # Given the school's search is kept by its worker
    assert "Eligible</strong>" in card(school.get(query).get_data(as_text=True), provider["id"])
    kept = cached(school_worker)
    assert kept >= 1
    assert "Eligible</strong>" in card(school.get(query).get_data(as_text=True), provider["id"])
    assert cached(school_worker) == kept  # the second search was served from what was kept
    # When a maintainer suspends the provider on the other worker
    token = CSRF_RE.search(maintainer.get("/").get_data(as_text=True)).group(1)
    decided = maintainer.post(f"/maintainers/providers/{provider['id']}/decisions", data={
        "csrf_token": token, "decision": "suspend", "reason": "Checked with the LADO", "version": provider["version"]})
    assert decided.status_code == 303
    # Then the school's next search shows it suspended
    assert "Suspended</strong>" in card(school.get(query).get_data(as_text=True), provider["id"])


@pytest.mark.parametrize("offset, filters, change, before, after", [
    (1, "", "UPDATE providers SET closed_at = now() WHERE id = :id", True, False),
    (2, "&provision_type={type}", "DELETE FROM provider_provision_types WHERE provider_id = :id", True, False),
    (3, "&key_stage=KS1", "INSERT INTO provider_key_stages (provider_id, key_stage) SELECT :id, 'KS1' "
                          "WHERE NOT EXISTS (SELECT 1 FROM provider_key_stages WHERE provider_id = :id "
                          "AND key_stage = 'KS1')", False, True),
])
def test_a_change_committed_through_any_connection_shows_in_the_next_search(workers, sql, offset, filters, change,
                                                                            before, after):
    school = signed_in(workers[0], "school")
    provider = listed(sql, offset)
    with sql.connect() as conn:
        kind = conn.scalar(text("SELECT min(provision_type) FROM provider_provision_types WHERE provider_id = :id"),
                           provider)
        if "key_stage" in filters:
            conn.execute(text("DELETE FROM provider_key_stages WHERE provider_id = :id AND key_stage = 'KS1'"), provider)
            conn.commit()
    query = f"/directory/?q={provider['legal_name']}" + filters.format(type=kind)
    for _ in range(2):  # rendered, then kept
        assert bool(card(school.get(query).get_data(as_text=True), provider["id"])) is before
    with sql.connect() as conn:
        conn.execute(text(change), provider)
        conn.commit()
    assert bool(card(school.get(query).get_data(as_text=True), provider["id"])) is after


def test_the_stamp_moves_once_per_committed_transaction_and_never_for_a_rolled_back_one(sql):
    def stamp(conn) -> int:
        return conn.scalar(text("SELECT value FROM directory_stamp"))

    with sql.connect() as conn:
        start = stamp(conn)
        conn.execute(text("UPDATE providers SET version = version + 1"))  # every provider: one transaction
        conn.execute(text("UPDATE provider_key_stages SET key_stage = key_stage"))
        conn.commit()
        assert stamp(conn) == start + 1
        conn.execute(text("UPDATE providers SET version = version + 1"))
        conn.rollback()
        assert stamp(conn) == start + 1
        conn.execute(text("UPDATE users SET failed_logins = failed_logins"))  # not what a search shows
        conn.commit()
        assert stamp(conn) == start + 1
        conn.execute(text("TRUNCATE provider_key_stages"))
        assert stamp(conn) == start + 2  # at once, inside the transaction
        conn.rollback()
        assert stamp(conn) == start + 1


def test_a_transaction_that_has_written_gets_no_stamp(committed_url):
    binding = bind(committed_url)
    try:
        with binding.sessionmaker() as session:
            assert isinstance(directory_stamp(session), int)
            session.execute(text("UPDATE users SET failed_logins = failed_logins WHERE id = 0"))
            assert isinstance(directory_stamp(session), int)  # a statement that changed nothing assigns no xid
            session.execute(text("SELECT id FROM users ORDER BY id LIMIT 1 FOR UPDATE"))
            assert directory_stamp(session) is None
            session.rollback()
    finally:
        binding.engine.dispose()


def add_school_user(url: str, email: str, full_name: str) -> str:
    """Another user at the world's school (committed); their email."""
    binding = bind(url)
    with session_scope(binding) as session:
        first = world.user(session, "school")
        users.create_user(session, None, users.NewUser(email=email, full_name=full_name, role="school",
                                                       organisation_id=first.organisation_id, password=world.PASSWORD))
    binding.engine.dispose()
    return email


@pytest.fixture(scope="module")
def second_school_user(committed_url):
    return add_school_user(committed_url, "second.teacher@beaumontleys.example.org", "Second Teacher Zed")


def test_one_users_name_and_token_never_reach_another_users_page(workers, second_school_user):
    first = signed_in(workers[0], "school")
    second = signed_in(workers[0], email=second_school_user)
    query = "/directory/?district=Leicester+City&specialism=semh"
    page_a = first.get(query).get_data(as_text=True)
    response = second.get(query)
    page_b = response.get_data(as_text=True)
    token_a, token_b = CSRF_RE.search(page_a).group(1), CSRF_RE.search(page_b).group(1)
    assert token_a != token_b
    assert "Second Teacher Zed" in page_b and "Second Teacher Zed" not in page_a
    assert token_a not in page_b and token_b not in page_a
    names_a = re.findall(r'class="govuk-summary-card__title">.*?</h3>', page_a)
    assert names_a and names_a == re.findall(r'class="govuk-summary-card__title">.*?</h3>', page_b)
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY" and "HX-Request" in response.headers["Vary"]


def test_a_kept_page_differs_between_users_only_in_their_name_and_token_and_the_token_works(
        workers, second_school_user):
    first = signed_in(workers[1], "school")
    second = signed_in(workers[1], email=second_school_user)
    query = "/directory/?district=Blaby"
    page_a = first.get(query).get_data(as_text=True)  # the page is kept with markers for what is the user's
    page_b = second.get(query).get_data(as_text=True)  # and filled in for each
    token_a, token_b = CSRF_RE.search(page_a).group(1), CSRF_RE.search(page_b).group(1)
    name_a = re.search(r"Signed in as (.*?) \(", page_a).group(1)
    assert name_a != "Second Teacher Zed" and page_a.count(token_a) == 2  # the htmx header and the sign-out form
    assert page_b.replace("Second Teacher Zed", name_a).replace(token_b, token_a) == page_a
    assert second.post("/sign-out", data={"csrf_token": token_b}).status_code == 302
    assert second.get(query).status_code == 302  # signed out


def test_a_name_on_a_kept_page_is_escaped_as_the_template_escapes_it(workers, committed_url):
    email = add_school_user(committed_url, "odd.name@beaumontleys.example.org", 'Ann <b>"O\'Neil"</b> & co')
    page = signed_in(workers[0], email=email).get("/directory/?district=Melton")
    body = page.get_data(as_text=True)
    assert "Signed in as Ann &lt;b&gt;&#34;O&#39;Neil&#34;&lt;/b&gt; &amp; co (" in body
    assert "<b>" not in body


def test_a_kept_page_shows_each_users_own_unread_count(workers, sql, second_school_user):
    first, second = signed_in(workers[0], "school"), signed_in(workers[0], email=second_school_user)
    query = "/directory/?district=Harborough"
    badge = re.compile(r'<span id="nav-unread">(.*?)</span>\s*</a>', re.S)
    before = badge.search(first.get(query).get_data(as_text=True)).group(1)
    with sql.begin() as conn:
        conn.execute(text("INSERT INTO notifications (user_id, kind, title, body, created_at) SELECT id, "
                          "'status_changed', 'A status changed', 'Body', now() FROM users WHERE email = :e"),
                     {"e": second_school_user})
    try:
        assert badge.search(first.get(query).get_data(as_text=True)).group(1) == before
        theirs = second.get(query).get_data(as_text=True)
        unread = int(re.search(r"app-nav-count\">(\d+)<", theirs).group(1))
        assert unread >= 1
    finally:
        with sql.begin() as conn:
            conn.execute(text("DELETE FROM notifications WHERE title = 'A status changed' AND user_id = "
                              "(SELECT id FROM users WHERE email = :e)"), {"e": second_school_user})


def test_schools_and_la_roles_get_their_own_results_for_the_same_search(workers, sql):
    with sql.connect() as conn:
        name = conn.scalar(text("SELECT legal_name FROM providers WHERE directory_status = 'pending' LIMIT 1"))
    query = f"/directory/?q={name}"
    maintainer, school = signed_in(workers[1], "maintainer"), signed_in(workers[1], "school")
    for _ in range(2):  # in both orders: neither audience is served what the other's search kept
        assert ">1 provider<" in maintainer.get(query).get_data(as_text=True)
        assert ">0 providers<" in school.get(query).get_data(as_text=True)


def test_an_htmx_search_after_the_page_gets_only_the_results(workers):
    school = signed_in(workers[0], "school")
    query = "/directory/?district=Blaby&key_stage=KS3&delivery="
    assert "<html" in school.get(query).get_data(as_text=True)
    fragment = school.get(query, headers=HX)
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="directory-results"') and "<html" not in body
    assert fragment.headers["HX-Push-Url"] == "/directory/?key_stage=KS3&district=Blaby"
    assert "<html" in school.get(query).get_data(as_text=True)


def test_the_cache_reuses_html_for_one_stamp_and_renders_afresh_otherwise():
    cache, renders = RenderedCache(max_entries=3), []

    def render(text):
        return lambda: renders.append(text) or text

    assert cache.get_or_render(5, "a", render("a5")) == "a5"
    assert cache.get_or_render(5, "a", render("again")) == "a5"  # kept
    assert cache.get_or_render(None, "a", render("none")) == "none"  # a writer's transaction: never reused
    assert cache.get_or_render(6, "a", render("a6")) == "a6"  # the directory changed
    assert len(cache) == 1  # what stamp 5 rendered is gone
    assert cache.get_or_render(6, "b", render("b6")) == "b6" and cache.get_or_render(6, "c", render("c6")) == "c6"
    assert cache.get_or_render(6, "d", render("d6")) == "d6" and len(cache) == 1  # bounded: emptied when full
    assert cache.get_or_render(2, "a", render("a2")) == "a2" and len(cache) == 1  # gone back: started again
    assert cache.get_or_render(6, "d", render("d6 again")) == "d6 again"
    assert renders == ["a5", "none", "a6", "b6", "c6", "d6", "a2", "d6 again"]


def test_parsed_filters_are_kept_per_audience_and_only_when_valid():
    from werkzeug.datastructures import MultiDict

    from auditapp.services.errors import Invalid
    from auditapp.web import directory_forms
    from auditapp.web.directory_forms import parse_filters

    sent = [("district", "Blaby"), ("q", " Oak "), ("specialism", "semh"), ("specialism", ""), ("age", "")]
    first = parse_filters(MultiDict(sent), school=True)
    assert parse_filters(MultiDict(sent), school=True) is first  # kept
    assert (first.district, first.q, first.specialism, first.age) == ("Blaby", "Oak", ("semh",), None)
    pending = MultiDict([("status", "pending")])
    assert parse_filters(pending, school=False).status == "pending"  # LA roles may see Pending
    for _ in range(2):  # kept for LA roles, still refused for schools, every time
        with pytest.raises(Invalid):
            parse_filters(pending, school=True)
    bad = MultiDict([("district", "Atlantis")])
    for _ in range(2):
        with pytest.raises(Invalid):
            parse_filters(bad, school=False)
    assert (False, tuple(bad.items(multi=True))) not in directory_forms._PARSED
