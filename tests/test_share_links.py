"""Share links on PostgreSQL: random tokens stored only as SHA-256, expiry from AUDITAPP_SHARE_LINK_DAYS,
revocation, a public read-only plan with no notes, conversations, concerns or evidence files, clear
404/410 answers, and every creation, revocation and view in the audit log."""
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from auditapp.config import ConfigError, load_config
from auditapp.models import AuditLogEntry, ShareLink
from auditapp.models.base import utcnow
from auditapp.services import share_links
from auditapp.services.errors import Conflict, Forbidden, Gone, NotFound

from . import report_helpers as rh
from . import world
from .review_helpers import CITY_TEACHER, by_email

SECRET_MARKERS = (rh.LEARNER_NOTE, rh.STAFF_NOTE, rh.LEARNER_RESPONSE, rh.CONCERN, rh.ITEM_NOTE, rh.CRITICAL_NOTE,
                  "policy-photo.jpg")


@pytest.fixture
def finalised(app, db_session):
    return rh.finalised_with_actions(db_session, app)


def _logged(db_session, link_id, action):
    return db_session.scalars(select(AuditLogEntry).where(AuditLogEntry.entity == "share_link",
                                                          AuditLogEntry.entity_id == str(link_id),
                                                          AuditLogEntry.action == action)
                              .order_by(AuditLogEntry.id)).all()  # no ORDER BY, no order: PostgreSQL may return any


def test_only_the_tokens_hash_is_stored_and_the_link_expires_as_configured(app, db_session, finalised):
    link, token = share_links.create_share_link(db_session, world.user(db_session, "maintainer"), finalised,
                                                app.config["SHARE_LINK_DAYS"])
    assert len(token) >= 43  # 32 random bytes, URL-safe
    row = db_session.get(ShareLink, link.id)
    assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(getattr(row, c.key)) for c in ShareLink.__table__.columns}
    assert row.expires_at - row.created_at == timedelta(days=30)
    assert _logged(db_session, link.id, "share_link.create")[0].after["audit_id"] == str(finalised.id)
    other = share_links.create_share_link(db_session, world.user(db_session, "maintainer"), finalised, 30)[1]
    assert other != token


@pytest.mark.parametrize("raw, expected", [("7", 7), ("366", 366)])
def test_share_link_days_comes_from_the_environment(raw, expected):
    assert load_config(environ={"AUDITAPP_SECRET_KEY": "s" * 40, "AUDITAPP_SHARE_LINK_DAYS": raw,
                                "AUDITAPP_DATABASE_URL": "postgresql+psycopg://localhost/unused"})["SHARE_LINK_DAYS"] == expected


@pytest.mark.parametrize("raw", ["0", "400", "soon"])
def test_bad_share_link_days_stop_start_up(raw):
    with pytest.raises(ConfigError, match="AUDITAPP_SHARE_LINK_DAYS"):
        load_config(environ={"AUDITAPP_SECRET_KEY": "s" * 40, "AUDITAPP_SHARE_LINK_DAYS": raw,
                             "AUDITAPP_DATABASE_URL": "postgresql+psycopg://localhost/unused"})


@pytest.mark.parametrize("who", ["auditor", "qoe_teacher", "admin", "city_teacher"])
def test_only_maintainers_and_the_audits_reviewers_make_links(db_session, finalised, who):
    actor = by_email(db_session, CITY_TEACHER) if who == "city_teacher" else world.user(db_session, who)
    with pytest.raises(Forbidden):
        share_links.create_share_link(db_session, actor, finalised, 30)
    assert share_links.create_share_link(db_session, rh.lead(db_session), finalised, 30)[0].id


def test_a_link_is_only_for_a_finalised_audit(app, db_session):
    submitted = rh.submitted_with_actions(db_session, app)
    with pytest.raises(Conflict) as caught:
        share_links.create_share_link(db_session, world.user(db_session, "maintainer"), submitted, 30)
    assert caught.value.code == "share_link.not_finalised"


def test_public_plan_shows_the_actions_and_nothing_private(client, db_session, finalised):
    _link, token = share_links.create_share_link(db_session, world.user(db_session, "maintainer"), finalised, 30)
    db_session.flush()
    response = client.get(f"/plan/{token}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Put right SG-6.1" in html and "Put right SG-1.2" in html
    assert "Designated safeguarding lead" in html and "Open" in html
    for marker in SECRET_MARKERS:
        assert marker not in html
    assert "Sign out" not in html  # nobody is signed in
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response.headers["X-Robots-Tag"]
    assert response.headers["Cache-Control"] == "no-store"


def test_every_view_is_logged(client, db_session, finalised):
    link, token = share_links.create_share_link(db_session, world.user(db_session, "maintainer"), finalised, 30)
    db_session.flush()
    for _ in range(2):
        assert client.get(f"/plan/{token}").status_code == 200
    pdf = client.get(f"/plan/{token}/report.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    views = _logged(db_session, link.id, "share_link.view")
    assert [v.after["what"] for v in views] == ["action_plan", "action_plan", "provider_report_pdf"]
    assert {v.actor_id for v in views} == {None}


def test_unknown_revoked_and_expired_links_answer_clearly(client, db_session, finalised):
    maintainer = world.user(db_session, "maintainer")
    assert client.get("/plan/not-a-real-token").status_code == 404
    revoked, revoked_token = share_links.create_share_link(db_session, maintainer, finalised, 30)
    share_links.revoke_share_link(db_session, maintainer, revoked.id)
    assert _logged(db_session, revoked.id, "share_link.revoke")
    _old, old_token = share_links.create_share_link(db_session, maintainer, finalised, 30,
                                                   now=utcnow() - timedelta(days=31))
    db_session.flush()
    for token, words in ((revoked_token, "withdrawn"), (old_token, "expired")):
        response = client.get(f"/plan/{token}")
        assert response.status_code == 410
        assert words in response.get_data(as_text=True)
        assert client.get(f"/plan/{token}/report.pdf").status_code == 410
    with pytest.raises(Gone):
        share_links.open_share_link(db_session, old_token, "action_plan")
    with pytest.raises(NotFound):
        share_links.open_share_link(db_session, "x" * 43, "action_plan")


def test_create_and_withdraw_over_http(client, auth, db_session, finalised):
    auth.login("maintainer")
    csrf = auth.csrf("/")
    created = client.post(f"/audits/{finalised.id}/share-links", data={"csrf_token": csrf},
                          headers={"HX-Request": "true"})
    assert created.status_code == 200
    html = created.get_data(as_text=True)
    assert 'id="share-links"' in html and "Link created" in html
    url = html.split('id="new-share-link" href="')[1].split('"')[0]
    path = url.split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200
    link = db_session.scalar(select(ShareLink).where(ShareLink.audit_id == finalised.id))
    withdrawn = client.post(f"/share-links/{link.id}/revoke", data={"csrf_token": csrf},
                            headers={"HX-Request": "true"})
    assert withdrawn.status_code == 200 and "Withdrawn" in withdrawn.get_data(as_text=True)
    assert client.get("/" + path).status_code == 410
