"""GET /sync/pull: server order, current state, only what the user may see, and a safe horizon."""
import threading

import pytest
from sqlalchemy import delete, text

from auditapp.db import bind
from auditapp.models import ChangeLogEntry
from auditapp.services.changes import log_changes
from sync.client import answer, mutation

from .sync_helpers import device_for


@pytest.fixture
def device(client, auth, db_session):
    auth.login("auditor")
    return device_for(client, db_session)


def test_pull_returns_changes_in_server_order_with_current_state(device):
    device.push(device.start(), answer(device.audit_id, "SG-1.1", {"rating": "met"}))
    device.push(answer(device.audit_id, "SG-1.1", {"note": "Reviewed May"}, base_version=1))
    changes = device.client.pull_all()
    cursors = [c["cursor"] for c in changes]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    assert [c["entity"] for c in changes] == ["audit", "answer", "answer"]
    latest = changes[-1]["data"]
    assert latest["item_key"] == "SG-1.1" and latest["version"] == 2
    assert latest["fields"]["rating"] == "met" and latest["fields"]["note"] == "Reviewed May"
    assert device.client.pull_all() == []  # nothing after the cursor


def test_pull_pages_with_limit_and_more(device):
    device.push(device.start(), *[answer(device.audit_id, f"SG-1.{i}", {"rating": "met"}) for i in range(1, 6)])
    status, first = device.client.transport.request("GET", "/sync/pull?cursor=0&limit=2")
    assert status == 200 and len(first["changes"]) == 2 and first["more"] is True
    status, rest = device.client.transport.request("GET", f"/sync/pull?cursor={first['next_cursor']}&limit=100")
    assert len(rest["changes"]) == 4 and rest["more"] is False


def test_another_auditors_changes_are_not_pulled(client, auth, device):
    device.push(device.start(), answer(device.audit_id, "SG-1.1", {"rating": "met"}))
    auth.logout()
    auth.login("qoe_teacher")
    status, body = device.client.transport.request("GET", "/sync/pull?cursor=0")
    assert status == 200 and body["changes"] == []


@pytest.mark.parametrize("query", ["cursor=-1", "cursor=abc", "limit=0", "limit=5000", f"cursor={2**63}"])
def test_bad_cursor_or_limit_gets_422(device, query):
    status, body = device.client.transport.request("GET", f"/sync/pull?{query}")
    assert status == 422 and body["code"] == "sync.malformed"


def test_change_log_writers_are_serialised_so_a_pull_never_skips_an_open_transaction(database_url):
    """Two concurrent writers: the second cannot take a change-log id until the first commits."""
    binding = bind(database_url)
    first, second = binding.sessionmaker(), binding.sessionmaker()
    inserted_by_second = threading.Event()
    try:
        log_changes(first, [{"entity": "probe", "entity_id": "first", "version": 1}])  # lock held, not committed

        def slow_second():
            log_changes(second, [{"entity": "probe", "entity_id": "second", "version": 1}])
            inserted_by_second.set()
            second.commit()

        writer = threading.Thread(target=slow_second)
        writer.start()
        # Given the first transaction is still open, the second writer waits
        assert not inserted_by_second.wait(0.5)
        # When the first commits, the second goes on, with a later id
        first.commit()
        writer.join(10)
        assert inserted_by_second.is_set()
        with binding.engine.connect() as conn:
            rows = conn.execute(text("SELECT entity_id, id FROM change_log WHERE entity = 'probe' ORDER BY id")).all()
        assert [r[0] for r in rows] == ["first", "second"]
    finally:
        first.close()
        second.close()
        with binding.engine.begin() as conn:
            conn.execute(delete(ChangeLogEntry).where(ChangeLogEntry.entity == "probe"))
        binding.engine.dispose()


def test_a_returned_audit_comes_back_with_the_reviewers_comments_in_the_pull_and_the_pack(client, auth, db_session):
    from auditapp.services import review
    from .review_helpers import LEAD, by_email, sign_in, submitted_audit
    audit = submitted_audit(db_session)
    review.return_audit(db_session, by_email(db_session, LEAD), audit.id, audit.version, "Please check the dates",
                        {"SG-1.2": "Which policy did you see?"})
    db_session.flush()
    sign_in(auth, "auditor@assure.example.org")
    device = device_for(client, db_session)
    pulled = [c["data"] for c in device.client.pull_all() if c["entity"] == "audit" and c["entity_id"] == str(audit.id)]
    assert pulled[-1]["status"] == "returned" and pulled[-1]["review_round"] == 1
    assert pulled[-1]["review_comments"] == [{"item_key": None, "body": "Please check the dates"},
                                             {"item_key": "SG-1.2", "body": "Which policy did you see?"}]
    pack = client.get(f"/capture/packs/{audit.visit_id}").get_json()
    packed = next(a for a in pack["audits"] if a["audit_id"] == str(audit.id))
    assert packed["review_comments"] == pulled[-1]["review_comments"]
    # Once resubmitted, the comments are answered: the tablet gets none
    assert device.push(mutation("audit.submit", audit.id, {}))[0]["status"] == "applied"
    pulled = [c["data"] for c in device.client.pull_all() if c["entity"] == "audit" and c["entity_id"] == str(audit.id)]
    assert pulled[-1]["status"] == "submitted" and pulled[-1]["review_comments"] == []
