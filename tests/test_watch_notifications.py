"""Watching a provider and reading notifications: school users only, CSRF on every POST, idempotent,
audit-logged; a status change reaches the watcher in the app (with the unread count in the
navigation) and in the e-mail outbox, in plain words."""
import re

import pytest
from sqlalchemy import func, select

from auditapp import clock
from auditapp.config import DEFAULTS
from auditapp.models import AuditLogEntry, Notification, OutboundEmail, Watch
from auditapp.services import notifications, rollup
from auditapp.services.decisions import Decision, decide

from . import world
from .directory_helpers import in_date, new_provider

TODAY = world.TODAY
REASON = "Manager arrested: police investigation under way"


@pytest.fixture
def listed(db_session):
    provider = new_provider(db_session)
    in_date(db_session, provider)
    rollup.recompute(db_session, [provider.id], TODAY, "rollup")
    db_session.flush()
    return provider


def watches_of(db_session, provider) -> int:
    return db_session.scalar(select(func.count()).select_from(Watch).where(Watch.provider_id == provider.id))


def post(client, auth, url, htmx=True):
    headers = {"X-CSRFToken": auth.csrf("/"), **({"HX-Request": "true"} if htmx else {})}
    return client.post(url, headers=headers)


def test_a_school_watches_and_unwatches_with_htmx(client, auth, db_session, listed):
    auth.login("school")
    page = client.get(f"/directory/providers/{listed.id}").get_data(as_text=True)
    assert "Watch this provider" in page
    answer = post(client, auth, f"/directory/providers/{listed.id}/watch")
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200 and body.lstrip().startswith('<div id="watch-provider"')
    assert "You are now watching this provider." in body and "Stop watching this provider" in body
    assert post(client, auth, f"/directory/providers/{listed.id}/watch").status_code == 200  # twice: still one
    assert watches_of(db_session, listed) == 1
    assert "Stop watching this provider" in client.get(f"/directory/providers/{listed.id}").get_data(as_text=True)
    answer = post(client, auth, f"/directory/providers/{listed.id}/unwatch")
    assert "You are no longer watching this provider." in answer.get_data(as_text=True)
    assert watches_of(db_session, listed) == 0
    logged = db_session.scalars(select(AuditLogEntry.action).where(AuditLogEntry.entity == "provider",
                                                                   AuditLogEntry.entity_id == str(listed.id))).all()
    assert logged.count("watch.add") == 1 and logged.count("watch.remove") == 1


def test_without_javascript_the_form_returns_to_the_provider_page(client, auth, db_session, listed):
    auth.login("school")
    answer = post(client, auth, f"/directory/providers/{listed.id}/watch", htmx=False)
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/directory/providers/{listed.id}")
    assert watches_of(db_session, listed) == 1


def test_watching_needs_the_csrf_token(client, auth, db_session, listed):
    auth.login("school")
    answer = client.post(f"/directory/providers/{listed.id}/watch", headers={"HX-Request": "true"})
    assert answer.status_code == 400 and watches_of(db_session, listed) == 0


def test_a_school_cannot_watch_a_provider_it_may_not_see(client, auth, db_session):
    auth.login("school")
    pending = world.provider(db_session, "pending")
    assert post(client, auth, f"/directory/providers/{pending.id}/watch").status_code == 404
    assert post(client, auth, "/directory/providers/999999/watch").status_code == 404
    assert watches_of(db_session, pending) == 0


def test_only_school_users_watch(client, auth, db_session, listed):
    auth.login("maintainer")
    assert post(client, auth, f"/directory/providers/{listed.id}/watch").status_code == 403
    assert "Watch this provider" not in client.get(f"/directory/providers/{listed.id}").get_data(as_text=True)
    assert watches_of(db_session, listed) == 0


def _suspend(db_session, provider):
    decide(db_session, world.user(db_session, "maintainer"),
           Decision(provider.id, "suspend", REASON, provider.version, safeguarding=True), TODAY)
    db_session.flush()


def unread_badge(body: str) -> str | None:
    match = re.search(r'<span id="nav-unread"[^>]*>(.*?)</span>\s*</', body, re.DOTALL)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else None


def test_a_status_change_reaches_the_watcher_in_the_app_and_by_email(client, auth, db_session, listed):
    auth.login("school")
    post(client, auth, f"/directory/providers/{listed.id}/watch")
    _suspend(db_session, listed)
    home = client.get("/").get_data(as_text=True)
    assert unread_badge(home) == "1 unread"
    page = client.get("/notifications/").get_data(as_text=True)
    assert f"{listed.display_name} is now Suspended" in page and "safeguarding matter" in page
    assert REASON not in page
    email = db_session.scalar(select(OutboundEmail).where(OutboundEmail.to_address == world.EMAIL["school"]))
    assert email is not None and "is now Suspended" in email.subject and REASON not in email.body


def test_marking_read_clears_the_count_out_of_band(client, auth, db_session, listed):
    auth.login("school")
    post(client, auth, f"/directory/providers/{listed.id}/watch")
    _suspend(db_session, listed)
    note = db_session.scalar(select(Notification).where(Notification.user_id == world.user(db_session, "school").id))
    answer = post(client, auth, f"/notifications/{note.id}/read")
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200 and body.lstrip().startswith('<div id="notification-list"')
    assert 'id="nav-unread" hx-swap-oob="true"' in body and unread_badge(body + "</x>") == ""
    db_session.refresh(note)
    assert note.read_at is not None
    assert unread_badge(client.get("/").get_data(as_text=True)) == ""
    assert "Mark as read" not in client.get("/notifications/").get_data(as_text=True)


def test_mark_all_read_and_nobody_reads_anothers_notifications(client, auth, db_session, listed):
    school = world.user(db_session, "school")
    mine = [Notification(user_id=school.id, kind="status_changed", title=f"Change {n}", body="b") for n in range(3)]
    theirs = Notification(user_id=world.user(db_session, "admin").id, kind="status_changed", title="Not yours", body="b")
    db_session.add_all(mine + [theirs])
    db_session.flush()
    auth.login("school")
    assert unread_badge(client.get("/").get_data(as_text=True)) == "3 unread"
    # The search is read-only: it shows the count loaded with the user, not a statement of its own.
    assert unread_badge(client.get("/directory/").get_data(as_text=True)) == "3 unread"
    assert post(client, auth, f"/notifications/{theirs.id}/read").status_code == 404
    assert "Not yours" not in client.get("/notifications/").get_data(as_text=True)
    answer = post(client, auth, "/notifications/read-all", htmx=False)
    assert answer.status_code == 303
    for note in mine + [theirs]:
        db_session.refresh(note)
    assert all(n.read_at is not None for n in mine) and theirs.read_at is None
    assert unread_badge(client.get("/directory/").get_data(as_text=True)) == ""


def test_mail_settings_default_to_the_outbox_folder(tmp_path):
    assert DEFAULTS["MAIL_FROM"] and DEFAULTS["SMTP_HOST"] is None
    sender = notifications.sender_from_config({**DEFAULTS, "INSTANCE_DIR": str(tmp_path)})
    assert isinstance(sender, notifications.FolderSender) and sender.folder == tmp_path / "outbox"


def test_the_outbox_folder_keeps_every_message_however_fast_they_come(tmp_path):
    # Given a clock that does not move (the app's clock, stopped): every message is written in the same
    # microsecond, as on a fast machine
    sender = notifications.FolderSender(tmp_path / "outbox", "directory@example.org")
    with clock.frozen(clock.now()):
        for n in range(200):
            sender.send(f"school{n}@example.org", f"Message {n}", "Body")
    # Then every one is kept, each in its own file
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 200
    assert {f"Subject: Message {n}" for n in range(200)} == {
        next(line for line in f.read_text().splitlines() if line.startswith("Subject: ")) for f in files}


def test_a_removed_providers_notification_no_longer_links_to_it(client, auth, db_session, listed):
    auth.login("school")
    post(client, auth, f"/directory/providers/{listed.id}/watch")
    decide(db_session, world.user(db_session, "maintainer"),
           Decision(listed.id, "remove", "Closed down", listed.version), TODAY)
    db_session.flush()
    page = client.get("/notifications/").get_data(as_text=True)
    assert f"{listed.display_name} is now Removed" in page
    assert "This provider is no longer listed in the directory." in page
    assert f"/directory/providers/{listed.id}" not in page
    assert post(client, auth, f"/directory/providers/{listed.id}/unwatch").status_code == 200  # still allowed
