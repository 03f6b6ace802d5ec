"""Evidence for reviewers (local store): who may open a file, that each view is logged, the
"n of m files received" counts on the audit and visit pages, what blocks finalisation, and purge."""
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from auditapp.models import Audit, AuditLogEntry, Evidence
from auditapp.services import evidence, evidence_files
from auditapp.storage import get_blob_store

from . import world
from .evidence_helpers import JPEG, PDF, PNG, log_actions, registered, rejected, started_audit, verified, withdrawn


@pytest.fixture
def store(app):
    return get_blob_store(app)


@pytest.fixture
def audit_id(db_session):
    return started_audit(db_session)


@pytest.fixture
def mixed(db_session, store, audit_id):
    """Six files: three received, one waiting, one rejected, one withdrawn: "3 of 5 files received"."""
    rows = {"photo": verified(db_session, store, audit_id, JPEG, item_key="SG-1.1", filename="Fire exit.jpg"),
            "policy": verified(db_session, store, audit_id, PDF, "application/pdf", "SG-1.1", "CP policy.pdf"),
            "record": verified(db_session, store, audit_id, PNG, "image/png", "SG-1.2", "SCR page 1.png"),
            "waiting": registered(db_session, audit_id, JPEG, item_key="SG-1.2", filename="Log book.jpg"),
            "rejected": rejected(db_session, store, audit_id),
            "withdrawn": registered(db_session, audit_id, PDF, "application/pdf", "SG-2.1", "Old policy.pdf")}
    withdrawn(db_session, rows["withdrawn"], "Superseded by the May version")
    db_session.flush()
    return rows


# ---- viewing ----------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["admin", "maintainer", "auditor"])  # QoE teachers: tests/test_need_to_know.py
def test_reviewers_and_the_assigned_auditor_open_a_file_and_each_view_is_logged(client, auth, db_session, store,
                                                                                audit_id, role):
    row = verified(db_session, store, audit_id, PDF, "application/pdf", filename="Child protection policy.pdf")
    auth.login(role)
    response = client.get(f"/evidence/{row.id}")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == "attachment; filename=Childprotectionpolicy.pdf"
    assert response.headers["Cache-Control"] == "private, no-store"
    response.close()
    entry = db_session.scalars(select(AuditLogEntry).where(AuditLogEntry.action == "evidence.viewed",
                                                           AuditLogEntry.entity_id == str(row.id))).one()
    assert entry.actor_id == world.user(db_session, role).id


def test_schools_get_403_on_every_evidence_route_and_nothing_is_logged(app, client, auth, db_session, store, audit_id):
    row = verified(db_session, store, audit_id)
    auth.login("school")
    token = auth.csrf("/")
    routes = [(method, rule) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("evidence.")
              for method in rule.methods - {"HEAD", "OPTIONS"}]
    assert len(routes) == 5
    for method, rule in routes:
        url = rule.rule.replace("<uuid:evidence_id>", str(row.id)).replace("<uuid:audit_id>", str(audit_id))
        response = client.open(url, method=method, headers={"X-CSRFToken": token})
        assert response.status_code == 403, (method, url)
        response.close()
    assert log_actions(db_session, row.id) == ["evidence.register", "evidence.verify"]


def test_an_auditor_not_assigned_to_the_visit_cannot_open_its_files(client, auth, db_session, store, audit_id):
    row = verified(db_session, store, audit_id)
    client.post("/sign-in", data={"email": "lead.auditor@assure.example.org", "password": world.PASSWORD,
                                  "csrf_token": auth.csrf()})
    assert client.get(f"/evidence/{row.id}").status_code == 404
    assert client.get(f"/audits/{audit_id}/evidence").status_code == 404
    assert log_actions(db_session, row.id) == ["evidence.register", "evidence.verify"]


def test_a_file_not_yet_received_cannot_be_opened(client, auth, db_session, audit_id):
    row = registered(db_session, audit_id)
    auth.login("maintainer")
    response = client.get(f"/evidence/{row.id}", headers={"Accept": "application/json"})
    assert (response.status_code, response.get_json()["code"]) == (409, "evidence.not_received")


# ---- counts, outstanding and the pages ------------------------------------------------------------

def test_counts_per_audit_and_item_say_how_many_files_arrived(db_session, audit_id, mixed):
    total = evidence.evidence_counts(db_session, [audit_id])[audit_id]
    assert (total.expected, total.received, total.waiting, total.rejected, total.withdrawn) == (5, 3, 1, 1, 1)
    assert total.summary == "3 of 5 files received"
    items = evidence.item_evidence_counts(db_session, audit_id)
    assert {key: c.summary for key, c in items.items()} == {
        "SG-1.1": "2 of 2 files received", "SG-1.2": "1 of 2 files received", "SG-2.1": "0 of 1 file received"}


def test_outstanding_evidence_lists_what_blocks_finalisation(db_session, audit_id, mixed):
    outstanding = evidence.outstanding_evidence(db_session, audit_id)
    assert {row.id for row in outstanding} == {mixed["waiting"].id, mixed["rejected"].id}
    withdrawn(db_session, mixed["rejected"], "Sent the wrong file")
    withdrawn(db_session, mixed["waiting"], "Tablet lost")
    assert evidence.outstanding_evidence(db_session, audit_id) == []


def test_the_audit_evidence_page_shows_counts_statuses_reasons_and_links(client, auth, db_session, audit_id, mixed):
    auth.login("maintainer")
    page = client.get(f"/audits/{audit_id}/evidence").get_data(as_text=True)
    assert '<p class="govuk-body-l" id="evidence-total">3 of 5 files received</p>' in page
    assert "1 waiting to arrive from the tablet" in page and "1 rejected" in page and "1 withdrawn" in page
    assert "SG-1.1: " in page and "2 of 2 files received" in page and "0 of 1 file received" in page
    assert "Withdrawn: Superseded by the May version" in page
    assert "The file is not a JPEG photo" in page
    links = set(re.findall(r'href="/evidence/([0-9a-f-]{36})"', page))
    assert links == {str(mixed[k].id) for k in ("photo", "policy", "record")}
    assert "could not be reached" not in page


def test_the_visit_page_shows_each_audits_evidence_count(client, auth, db_session, audit_id, mixed):
    auth.login("auditor")
    visit_id = db_session.get(Audit, audit_id).visit_id
    page = client.get(f"/visits/{visit_id}").get_data(as_text=True)
    assert "Safeguarding: 3 of 5 files received, 1 rejected." in page
    assert f'href="/audits/{audit_id}/evidence"' in page


# ---- purge ------------------------------------------------------------------------------------

def _finalise(db_session, audit_id, when: datetime) -> None:
    db_session.execute(update(Audit).where(Audit.id == audit_id).values(status="finalised", finalised_at=when))
    db_session.flush()


def test_purge_dry_run_lists_and_deletes_nothing_then_the_real_run_deletes_and_marks(client, auth, db_session, store,
                                                                                    audit_id):
    # Given a file of an audit finalised seven years ago, and one of an audit that is still open
    old = verified(db_session, store, audit_id, PDF, "application/pdf", filename="Jane Doe DBS.pdf")
    open_audit = started_audit(db_session, "health_safety")
    recent = verified(db_session, store, open_audit, item_key="HS-1.1")
    now = datetime.now(timezone.utc)
    _finalise(db_session, audit_id, now - timedelta(days=7 * 365))
    cutoff = evidence_files.retention_cutoff("6y", now)
    # When the purge runs dry
    report = evidence_files.purge_evidence(db_session, None, store, cutoff, dry_run=True)
    # Then it lists only the old file and changes nothing
    assert [item.evidence_id for item in report.items] == [old.id] and report.purged == 0
    assert store.head(old.final_key) is not None and db_session.get(Evidence, old.id).purged_at is None
    # Given also bytes written to its spent upload key afterwards (an old upload link)
    store.put(old.storage_key, b"late bytes", "application/pdf")
    # When it runs for real
    report = evidence_files.purge_evidence(db_session, None, store, cutoff)
    db_session.expire_all()
    # Then the object is gone, the row is marked and loses its name, and the purge is logged
    assert report.purged == 1 and report.error is None
    row = db_session.get(Evidence, old.id)
    assert store.head(old.storage_key) is None and store.head(old.final_key) is None  # both keys
    assert row.purged_at is not None and row.filename == "purged" and row.status == "verified"
    assert log_actions(db_session, old.id)[-1] == "evidence.purge"
    assert store.head(recent.final_key) is not None
    # And nobody can open it any more; the page says it was deleted
    auth.login("admin")
    response = client.get(f"/evidence/{old.id}", headers={"Accept": "application/json"})
    assert (response.status_code, response.get_json()["code"]) == (409, "evidence.purged")
    assert "under the retention policy" in client.get(f"/audits/{audit_id}/evidence").get_data(as_text=True)
    # And a second run finds nothing left to do
    assert evidence_files.purge_evidence(db_session, None, store, cutoff).items == []


@pytest.mark.parametrize("period, now, expected", [
    ("6y", datetime(2026, 11, 28, 12, tzinfo=timezone.utc), datetime(2020, 11, 28, 12, tzinfo=timezone.utc)),
    ("6Y", datetime(2028, 2, 29, tzinfo=timezone.utc), datetime(2022, 2, 28, tzinfo=timezone.utc)),
    ("2192d", datetime(2026, 11, 28, tzinfo=timezone.utc), datetime(2020, 11, 27, tzinfo=timezone.utc)),
    ("8w", datetime(2026, 11, 28, tzinfo=timezone.utc), datetime(2026, 10, 3, tzinfo=timezone.utc)),
])
def test_retention_periods_count_back_from_now(period, now, expected):
    assert evidence_files.retention_cutoff(period, now) == expected


@pytest.mark.parametrize("period", ["", "6", "0y", "six years", "6m", "-6y", "6y2d", None])
def test_retention_periods_that_are_not_a_number_and_unit_are_refused(period):
    with pytest.raises(ValueError):
        evidence_files.retention_cutoff(period, datetime.now(timezone.utc))


def test_display_names_keep_words_but_never_a_path_or_control_character():
    assert evidence.display_filename("Fire  exit\tdoor.JPG") == "Fire exit door.JPG"
    assert evidence.display_filename("C:\\Users\\ash\\..\\policy.pdf") == "policy.pdf"
    assert evidence.display_filename("x" * 300 + ".pdf") == "x" * 96 + ".pdf"
    assert evidence.display_filename(None) == evidence.display_filename("...") == "evidence"


def test_evidence_rows_are_keyed_by_audit_and_evidence_id_only(db_session, audit_id):
    row = registered(db_session, audit_id, filename="../../../../tmp/owned.jpg")
    assert row.storage_key == f"evidence/{audit_id}/{row.id}"
    assert uuid.UUID(row.storage_key.rsplit("/", 1)[1]) == row.id
