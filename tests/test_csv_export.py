"""The CSV export of finalised audits: one row per item, maintainers and admins only, streamed, item
notes but never conversation notes, corrections marked, and formula-looking cells defused."""
import csv
import io

import pytest
from sqlalchemy import text

from auditapp.services import csv_export

from . import report_helpers as rh


@pytest.fixture
def finalised(app, db_session):
    return rh.finalised_with_actions(db_session, app)


def _rows(response) -> list[dict]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel opens UTF-8 correctly with the byte-order mark
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_one_row_per_item_with_item_notes_and_no_conversation_notes(client, auth, db_session, finalised):
    auth.login("maintainer")
    response = client.get("/reports/finalised-audits.csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = [r for r in _rows(response) if r["audit_id"] == str(finalised.id)]
    items = [i for s in finalised.snapshot["sections"] for i in s["items"]]
    assert len(rows) == len(items) and list(rows[0]) == list(csv_export.COLUMNS)
    by_key = {r["item_key"]: r for r in rows}
    assert by_key["SG-1.2"]["note"] == rh.ITEM_NOTE and by_key["SG-1.2"]["rating"] == "Partially met"
    assert by_key["SG-6.1"]["critical"] == "yes" and by_key["SG-6.1"]["section_rag"] == "red"
    assert by_key["SG-7.1"]["na_reason"] and by_key["SG-1.1"]["outcome"] == "Non-compliant"
    assert {r["current"] for r in rows} == {"yes"} and {r["revision"] for r in rows} == {"1"}
    whole = response.get_data(as_text=True)
    for marker in ("LEARNERNOTE", "STAFFNOTE", "LEARNERRESPONSE", "CONCERNTEXT", "policy-photo.jpg"):
        assert marker not in whole


def test_filters_and_bad_filters(client, auth, finalised):
    auth.login("admin")
    assert [r for r in _rows(client.get("/reports/finalised-audits.csv?audit_type=health_safety"))
            if r["audit_id"] == str(finalised.id)] == []
    day = finalised.finalised_at.date()
    assert any(r["audit_id"] == str(finalised.id) for r in _rows(client.get(
        f"/reports/finalised-audits.csv?finalised_from={day}&finalised_to={day}")))
    bad = client.get("/reports/finalised-audits.csv?finalised_to=31/12/2026")
    assert bad.status_code == 422 and "Enter a real date" in bad.get_data(as_text=True)


@pytest.mark.parametrize("role", ["qoe_teacher", "auditor", "school"])
def test_only_maintainers_and_admins_export(client, auth, role):
    auth.login(role)
    assert client.get("/reports/finalised-audits.csv").status_code == 403


@pytest.mark.parametrize("value, cell", [("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
                                         ("+1+2", "'+1+2"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
                                         ("\tindent", "'\tindent"), ("plain - text", "plain - text"),
                                         (None, ""), (True, "yes"), (3, "3")])
def test_cells_a_spreadsheet_would_run_are_defused(value, cell):
    assert csv_export.safe_cell(value) == cell


def test_an_injected_note_arrives_defused(client, auth, app, db_session):
    audit = rh.finalised_with_actions(db_session, app, notes={"SG-1.2": "=cmd|' /C calc'!A0"})
    auth.login("maintainer")
    row = next(r for r in _rows(client.get("/reports/finalised-audits.csv"))
               if r["audit_id"] == str(audit.id) and r["item_key"] == "SG-1.2")
    assert row["note"] == "'=cmd|' /C calc'!A0"


def test_a_download_cut_short_closes_its_server_side_cursor(db_session, finalised):
    rows = csv_export.item_rows(db_session, csv_export.ExportFilters(None, None, ""))
    assert next(rows)[0]  # the export has begun: its cursor is open on the server
    assert db_session.scalar(text("SELECT count(*) FROM pg_cursors")) == 1
    rows.close()  # what werkzeug does when the client goes away mid-download
    assert db_session.scalar(text("SELECT count(*) FROM pg_cursors")) == 0
