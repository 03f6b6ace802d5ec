"""The review workflow over HTTP on PostgreSQL: return ↔ resubmit → finalise, the guards, who may
review, immutability, stale forms, sync conflicts, corrections and their diff, and the queue."""
import re
import uuid

import pytest
from sqlalchemy import func, select

from auditapp.models import Answer, Audit, AuditLogEntry, ChangeLogEntry, ReviewComment, SyncConflict
from auditapp.services import review
from auditapp.services.audits import audit_id_for
from auditapp.services.capture import Change, propose_actions, record_answers
from auditapp.services.evidence import Registration, register_evidence
from sync.client import FlaskTransport, SyncClient, answer, mutation

from . import world
from .review_helpers import (CITY_TEACHER, LEAD, by_email, conflicted_audit, second_lead, sign_in, submitted_audit,
                             version_in)


def _page(client, audit_id):
    response = client.get(f"/review/audits/{audit_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _post(client, auth, path, **data):
    return client.post(path, data={"csrf_token": auth.csrf("/"), **data})


def _log(db_session, audit_id, action):
    return db_session.scalars(select(AuditLogEntry).where(AuditLogEntry.entity == "audit",
                                                          AuditLogEntry.entity_id == str(audit_id),
                                                          AuditLogEntry.action == action)
                              .order_by(AuditLogEntry.id)).all()


@pytest.fixture
def submitted(db_session):
    return submitted_audit(db_session, ratings={"SG-1.2": "not_met", "SG-7.1": "partially_met"})


# ---- the happy path ----------------------------------------------------------------------------

def test_return_resubmit_and_finalise(client, auth, db_session, submitted):
    audit_id = submitted.id
    assert submitted.outcome == "compliant_with_actions"  # scored by the server at submission
    assert submitted.section_rags["SG-1"] == "amber" and submitted.section_rags["SG-2"] == "green"
    sign_in(auth, LEAD)
    html = _page(client, audit_id)
    assert "Compliant with actions" in html and "Comment on SG-1.2" in html and "Return to Ash Auditor" in html
    response = _post(client, auth, f"/review/audits/{audit_id}/return", version=version_in(html),
                     overall="Please check the dates", **{"comment-SG-1.2": "Which policy did you see?"})
    assert response.status_code == 303
    db_session.expire_all()
    audit = db_session.get(Audit, audit_id)
    assert (audit.status, audit.review_round, audit.version) == ("returned", 1, 3)
    comments = {c.item_key: c.body for c in db_session.scalars(select(ReviewComment).where(ReviewComment.audit_id == audit_id))}
    assert comments == {None: "Please check the dates", "SG-1.2": "Which policy did you see?"}
    assert len(_log(db_session, audit_id, "audit.return")) == 1 and len(_log(db_session, audit_id, "review.comment")) == 2

    # The tablet learns from the pull feed that the audit is editable again, and its changes apply.
    sign_in(auth, world.EMAIL["auditor"])
    device = SyncClient(FlaskTransport(client))
    pulled = [c for c in device.pull_all() if c["entity"] == "audit" and c["entity_id"] == str(audit_id)]
    assert pulled[-1]["data"]["status"] == "returned" and pulled[-1]["data"]["version"] == 3
    row = db_session.scalar(select(Answer).where(Answer.audit_id == audit_id, Answer.item_key == "SG-1.2"))
    status, body = device.push([answer(str(audit_id), "SG-1.2", {"rating": "partially_met"}, base_version=row.version)])
    assert body["results"][0]["status"] == "applied"
    status, body = device.push([mutation("audit.submit", audit_id, {})])
    assert body["results"][0]["status"] == "applied"
    db_session.expire_all()
    assert db_session.get(Audit, audit_id).status == "submitted" and _log(db_session, audit_id, "audit.resubmit")
    assert all(c.addressed_at for c in db_session.scalars(select(ReviewComment).where(ReviewComment.audit_id == audit_id)))

    sign_in(auth, LEAD)
    html = _page(client, audit_id)
    assert "Which policy did you see?" in html  # earlier comments stay on the page
    response = _post(client, auth, f"/review/audits/{audit_id}/finalise", version=version_in(html))
    assert response.status_code == 303
    db_session.expire_all()
    audit = db_session.get(Audit, audit_id)
    assert audit.status == "finalised" and audit.finalised_by_id == by_email(db_session, LEAD).id
    assert audit.outcome == "compliant_with_actions" and audit.snapshot["audit"]["status"] == "finalised"
    item = next(i for s in audit.snapshot["sections"] for i in s["items"] if i["key"] == "SG-1.2")
    assert item["rating"] == "partially_met" and audit.snapshot["section_rags"] == audit.section_rags
    assert audit.visit.provider.computed_at >= audit.finalised_at  # the roll-up ran in the same transaction
    entry = _log(db_session, audit_id, "audit.finalise")[0]
    assert entry.after["outcome"] == "compliant_with_actions" and entry.before == {"status": "submitted"}
    assert "The audit is finalised" in client.get(f"/review/audits/{audit_id}?done=finalised").get_data(as_text=True)


def test_returning_without_any_comment_is_refused_and_changes_nothing(client, auth, db_session, submitted):
    sign_in(auth, LEAD)
    html = _page(client, submitted.id)
    response = _post(client, auth, f"/review/audits/{submitted.id}/return", version=version_in(html), overall="  ")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "There is a problem" in body and "add an overall comment" in body
    db_session.expire_all()
    assert db_session.get(Audit, submitted.id).status == "submitted"
    assert db_session.scalar(select(func.count()).select_from(ReviewComment)
                             .where(ReviewComment.audit_id == submitted.id)) == 0  # the demo's returned audit has some


# ---- finalising an incomplete audit ------------------------------------------------------------

def test_finalising_an_incomplete_audit_lists_every_reason_and_changes_nothing(client, auth, db_session, submitted):
    auditor = world.user(db_session, "auditor")
    register_evidence(db_session, auditor, [Registration(None, uuid.uuid4(), submitted.id, "SG-1.1", "image/jpeg",
                                                         1000, "a" * 64, "fire-door.jpg")])
    # A tablet's change after submission is kept for the reviewer as a conflict, never applied.
    late = record_answers(db_session, auditor, [Change(uuid.uuid4(), uuid.uuid4(), submitted.id, "SG-4.1", 1,
                                                       {"rating": "not_met"}, uuid.uuid4())])
    assert late[0].status == "conflict"
    db_session.flush()
    sign_in(auth, LEAD)
    html = _page(client, submitted.id)
    assert "This audit cannot be finalised yet" in html and "fire-door.jpg" in html
    before = db_session.get(Audit, submitted.id).version
    response = _post(client, auth, f"/review/audits/{submitted.id}/finalise", version=version_in(html))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Evidence for SG-1.1 (fire-door.jpg) is not uploaded yet" in body
    assert "1 sync conflict is not resolved" in body
    db_session.expire_all()
    audit = db_session.get(Audit, submitted.id)
    assert (audit.status, audit.version, audit.snapshot) == ("submitted", before, None)
    assert not _log(db_session, submitted.id, "audit.finalise")


def test_finalise_blockers_cover_unrated_items_and_unconfirmed_actions(db_session):
    audit = submitted_audit(db_session, ratings={"SG-1.2": "not_met"}, submit=False)
    auditor = world.user(db_session, "auditor")
    propose_actions(db_session, auditor, [Change(1, uuid.uuid4(), audit.id, "SG-1.2", 0,
                                                 {"description": "Write a behaviour policy", "owner_role": "Manager",
                                                  "due_date": "2026-12-12"})])
    db_session.get(Answer, db_session.scalar(select(Answer.id).where(Answer.audit_id == audit.id,
                                                                     Answer.item_key == "SG-9.3"))).rating = None
    db_session.flush()
    blockers = review.finalise_blockers(db_session, audit)
    assert "SG-9.3 is not rated" in blockers
    assert any(b.startswith("The action for SG-1.2 is not confirmed") for b in blockers)


# ---- who may review ----------------------------------------------------------------------------

def test_a_lead_reviewer_cannot_review_their_own_audit(client, auth, db_session):
    own = submitted_audit(db_session, author=LEAD)
    sign_in(auth, LEAD)
    html = _page(client, own.id)
    assert "You carried out this audit" in html and "Finalise the audit" not in html
    assert str(own.id) not in client.get("/review/").get_data(as_text=True)  # not in their queue
    response = _post(client, auth, f"/review/audits/{own.id}/finalise", version=own.version)
    assert response.status_code == 403 and "review.own_audit" in response.get_data(as_text=True)
    response = _post(client, auth, f"/review/audits/{own.id}/return", version=own.version, overall="Fine")
    assert response.status_code == 403
    db_session.expire_all()
    assert db_session.get(Audit, own.id).status == "submitted"


# A QoE teacher may not see a safeguarding audit at all: 404, as if it did not exist (tests/test_hidden_records.py).
@pytest.mark.parametrize("email, status", [(world.EMAIL["auditor"], 403), (world.EMAIL["qoe_teacher"], 404),
                                           (world.EMAIL["admin"], 403), (world.EMAIL["maintainer"], 403)])
def test_only_lead_reviewers_act_on_safeguarding_audits(client, auth, db_session, submitted, email, status):
    sign_in(auth, email)
    response = _post(client, auth, f"/review/audits/{submitted.id}/finalise", version=submitted.version)
    assert response.status_code == status
    db_session.expire_all()
    assert db_session.get(Audit, submitted.id).status == "submitted"


def test_quality_of_education_is_reviewed_by_another_teacher_after_grading(client, auth, db_session):
    qe = submitted_audit(db_session, audit_type="quality_education", author=world.EMAIL["qoe_teacher"])
    sign_in(auth, world.EMAIL["qoe_teacher"])
    assert "You carried out this audit" in _page(client, qe.id)
    sign_in(auth, CITY_TEACHER)
    html = _page(client, qe.id)
    assert "not graded yet" in html  # grading.finalise_blockers
    response = _post(client, auth, f"/review/audits/{qe.id}/finalise", version=version_in(html))
    assert response.status_code == 422 and "Overall grade: not graded yet" in response.get_data(as_text=True)
    sign_in(auth, LEAD)  # a lead reviewer of SG/HS does not review QE
    assert _post(client, auth, f"/review/audits/{qe.id}/finalise", version=qe.version).status_code == 404  # not theirs to see


# ---- a finalised audit is immutable ------------------------------------------------------------

def test_a_finalised_audit_cannot_be_edited(client, auth, db_session, submitted):
    review.finalise_audit(db_session, by_email(db_session, LEAD), submitted.id, submitted.version)
    db_session.flush()
    snapshot, version = dict(submitted.snapshot), submitted.version
    sign_in(auth, world.EMAIL["auditor"])
    device = SyncClient(FlaskTransport(client))
    status, body = device.push([answer(str(submitted.id), "SG-1.1", {"rating": "not_met"}, base_version=1)])
    assert body["results"][0]["status"] == "rejected" and body["results"][0]["code"] == "audit.finalised"
    sign_in(auth, LEAD)
    response = _post(client, auth, f"/review/audits/{submitted.id}/return", version=version, overall="Redo it")
    assert response.status_code == 409 and "not waiting for review" in response.get_data(as_text=True)
    db_session.expire_all()
    audit = db_session.get(Audit, submitted.id)
    assert (audit.status, audit.version, audit.snapshot) == ("finalised", version, snapshot)
    rating = db_session.scalar(select(Answer.rating).where(Answer.audit_id == audit.id, Answer.item_key == "SG-1.1"))
    assert rating == "met"


# ---- stale forms -------------------------------------------------------------------------------

def test_a_stale_form_is_refused_and_shows_what_changed(client, auth, db_session, submitted):
    other = second_lead(db_session)
    sign_in(auth, LEAD)
    html = _page(client, submitted.id)  # drawn before the other reviewer acts
    review.return_audit(db_session, other, submitted.id, submitted.version, "Missing dates", {"SG-2.1": "When?"})
    db_session.flush()
    response = _post(client, auth, f"/review/audits/{submitted.id}/finalise", version=version_in(html))
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone else acted on this audit first" in body and "Nothing was changed" in body
    assert "Robin Reviewer returned the audit for changes with 2 comments" in body
    db_session.expire_all()
    audit = db_session.get(Audit, submitted.id)
    assert audit.status == "returned" and not _log(db_session, submitted.id, "audit.finalise")


def test_the_version_is_required_on_every_review_form(client, auth, db_session, submitted):
    sign_in(auth, LEAD)
    response = _post(client, auth, f"/review/audits/{submitted.id}/finalise")
    assert response.status_code == 422 and "missing the audit version" in response.get_data(as_text=True)


# ---- sync conflicts ----------------------------------------------------------------------------

def test_a_reviewer_resolves_a_conflict_through_the_capture_services(client, auth, db_session):
    audit, conflict = conflicted_audit(db_session)
    sign_in(auth, LEAD)
    html = _page(client, audit.id)
    assert "SG-6.1 rating" in html and "Partially met" in html and "Not met" in html and "Ash Auditor" in html
    answer_row = db_session.scalar(select(Answer).where(Answer.audit_id == audit.id, Answer.item_key == "SG-6.1"))
    version_before = answer_row.version
    response = _post(client, auth, f"/review/audits/{audit.id}/conflicts/{conflict.id}", version=version_in(html),
                     choice="device", note="The door was propped open")
    assert response.status_code == 303
    db_session.expire_all()
    conflict = db_session.get(SyncConflict, conflict.id)
    assert conflict.resolved_by_id == by_email(db_session, LEAD).id and conflict.chosen_value == {"value": "not_met"}
    assert conflict.resolution_note == "The door was propped open"
    answer_row = db_session.get(Answer, answer_row.id)
    assert answer_row.rating == "not_met" and answer_row.version == version_before + 1
    assert db_session.scalar(select(func.count()).select_from(ChangeLogEntry).where(
        ChangeLogEntry.entity == "answer", ChangeLogEntry.entity_id == str(answer_row.id),
        ChangeLogEntry.version == answer_row.version)) == 1
    assert _log(db_session, audit.id, "conflict.resolve")[0].after["kept"] == "Not met"
    html = _page(client, audit.id)
    assert "Sync conflicts" not in html and "sync conflict" not in html
    assert _post(client, auth, f"/review/audits/{audit.id}/finalise", version=version_in(html)).status_code == 303
    db_session.expire_all()
    assert db_session.get(Audit, audit.id).outcome == "non_compliant"  # SG-6.1 is critical


def test_a_conflict_needs_a_choice_and_can_be_resolved_only_once(client, auth, db_session):
    audit, conflict = conflicted_audit(db_session)
    sign_in(auth, LEAD)
    html = _page(client, audit.id)
    response = _post(client, auth, f"/review/audits/{audit.id}/conflicts/{conflict.id}", version=version_in(html))
    assert response.status_code == 422 and "Choose the value to keep" in response.get_data(as_text=True)
    review_conflicts_resolve = _post(client, auth, f"/review/audits/{audit.id}/conflicts/{conflict.id}",
                                     version=version_in(html), choice="current")
    assert review_conflicts_resolve.status_code == 303
    again = _post(client, auth, f"/review/audits/{audit.id}/conflicts/{conflict.id}", version=version_in(html),
                  choice="device")
    assert again.status_code == 409 and "Lee Lead kept Partially met" in again.get_data(as_text=True)
    db_session.expire_all()
    rating = db_session.scalar(select(Answer.rating).where(Answer.audit_id == audit.id, Answer.item_key == "SG-6.1"))
    assert rating == "partially_met"


# ---- corrections and the diff ------------------------------------------------------------------

def test_a_correction_is_a_new_revision_reviewed_again_with_a_readable_diff(client, auth, db_session, submitted):
    other = second_lead(db_session)
    review.finalise_audit(db_session, by_email(db_session, LEAD), submitted.id, submitted.version)
    db_session.flush()
    original_snapshot = dict(submitted.snapshot)
    sign_in(auth, "robin.reviewer@assure.example.org")
    html = _page(client, submitted.id)
    assert "Start a correction" in html
    response = _post(client, auth, f"/review/audits/{submitted.id}/corrections", version=version_in(html), reason="")
    assert response.status_code == 422 and "Say why the finalised audit needs correcting" in response.get_data(as_text=True)
    response = _post(client, auth, f"/review/audits/{submitted.id}/corrections", version=version_in(html),
                     reason="SG-3.3 was misread: two DBS checks were after the start date")
    correction_id = audit_id_for(submitted.visit_id, "safeguarding", 2)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/review/corrections/{correction_id}")
    correction = db_session.get(Audit, correction_id)
    assert (correction.revision, correction.corrects_audit_id, correction.status) == (2, submitted.id, "draft")
    assert correction.created_by_id == other.id
    copied = dict(db_session.execute(select(Answer.item_key, Answer.rating).where(Answer.audit_id == correction_id)).all())
    assert copied["SG-1.2"] == "not_met" and len(copied) == len([k for k in copied if k.startswith("SG-")])

    response = _post(client, auth, f"/review/corrections/{correction_id}/items", item_key="SG-3.3",
                     rating="not_applicable", note="", na_reason="")
    assert response.status_code == 422 and "Give a reason" in response.get_data(as_text=True)
    response = _post(client, auth, f"/review/corrections/{correction_id}/items", item_key="SG-3.3", rating="not_met",
                     note="Two DBS checks dated after the start", na_reason="")
    assert response.status_code == 303
    page = client.get(f"/review/corrections/{correction_id}").get_data(as_text=True)
    assert "Compliant with actions → Non-compliant" in page
    assert "SG-3.3" in page and "<del class=\"app-diff-old\">Met</del>" in page and ">Not met</ins>" in page
    response = _post(client, auth, f"/review/corrections/{correction_id}/submit", version=version_in(page))
    assert response.status_code == 303

    # The corrector may not review their own correction; the other lead reviewer finalises it.
    assert _post(client, auth, f"/review/audits/{correction_id}/finalise", version=2).status_code == 403
    sign_in(auth, LEAD)
    html = _page(client, correction_id)
    assert "correction (revision 2)" in html and "See what changed" in html
    assert _post(client, auth, f"/review/audits/{correction_id}/finalise", version=version_in(html)).status_code == 303
    db_session.expire_all()
    assert db_session.get(Audit, correction_id).outcome == "non_compliant"
    assert db_session.get(Audit, submitted.id).snapshot == original_snapshot  # the first report never changes
    diff = client.get(f"/review/audits/{correction_id}/diff").get_data(as_text=True)
    assert "Two DBS checks dated after the start" in diff and "SG-3 Safer recruitment" in diff
    assert _log(db_session, correction_id, "correction.start")[0].after["reason"].startswith("SG-3.3 was misread")


def test_only_a_finalised_audit_is_corrected_and_only_once(client, auth, db_session, submitted):
    sign_in(auth, LEAD)
    html = _page(client, submitted.id)
    assert "Start a correction" not in html
    response = _post(client, auth, f"/review/audits/{submitted.id}/corrections", version=version_in(html), reason="x")
    assert response.status_code == 409
    assert db_session.get(Audit, audit_id_for(submitted.visit_id, "safeguarding", 2)) is None


# ---- the queue ---------------------------------------------------------------------------------

def test_the_queue_lists_the_oldest_first_and_filters_by_type_with_htmx(client, auth, db_session):
    older = submitted_audit(db_session)
    newer = submitted_audit(db_session, audit_type="health_safety")
    newer.submitted_at = older.submitted_at.replace(year=older.submitted_at.year + 1)
    older.submitted_at = older.submitted_at.replace(day=1) if older.submitted_at.day > 1 else older.submitted_at
    db_session.flush()
    sign_in(auth, LEAD)
    body = client.get("/review/").get_data(as_text=True)
    assert body.index(f"/review/audits/{older.id}") < body.index(f"/review/audits/{newer.id}")
    response = client.get("/review/?audit_type=health_safety", headers={"HX-Request": "true"})
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert fragment.lstrip().startswith('<div id="review-queue"') and str(newer.id) in fragment and str(older.id) not in fragment
    bad = client.get("/review/?audit_type=cooking", headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "Choose a valid type of audit" in bad.get_data(as_text=True)


def test_the_queue_is_for_reviewers(client, auth, db_session):
    sign_in(auth, world.EMAIL["auditor"])  # not a lead reviewer
    assert client.get("/review/").status_code == 403
    sign_in(auth, world.EMAIL["qoe_teacher"])
    assert client.get("/review/").status_code == 200


# ---- lead reviewers, and where reviewers find their work ---------------------------------------

def test_an_admin_makes_an_auditor_a_lead_reviewer_who_then_sees_the_queue(client, auth, db_session, submitted):
    auditor = world.user(db_session, "auditor")
    sign_in(auth, world.EMAIL["admin"])
    assert "Make lead reviewer<span class=\"govuk-visually-hidden\">: Ash Auditor" in client.get("/admin/users").get_data(as_text=True)
    response = _post(client, auth, f"/review/lead-reviewers/{auditor.id}", lead="yes")
    assert response.status_code == 303
    db_session.expire_all()
    assert db_session.get(type(auditor), auditor.id).is_lead_reviewer
    entry = db_session.scalars(select(AuditLogEntry).where(AuditLogEntry.action == "user.lead_reviewer")).one()
    assert (entry.before, entry.after) == ({"is_lead_reviewer": False}, {"is_lead_reviewer": True})
    teacher = world.user(db_session, "qoe_teacher")
    assert _post(client, auth, f"/review/lead-reviewers/{teacher.id}", lead="yes").status_code == 422
    # Ash now reviews others' audits, but their own submitted audit is not in their queue
    sign_in(auth, world.EMAIL["auditor"])
    queue = client.get("/review/").get_data(as_text=True)
    assert "Audits to review" in queue and f"/review/audits/{submitted.id}" not in queue
    others = len(review.queue(db_session, db_session.get(type(auditor), auditor.id)))
    assert f"Audits waiting for your review ({others})" in client.get("/").get_data(as_text=True)


def test_reviewers_find_waiting_audits_from_home_and_authors_from_the_visit(client, auth, db_session, submitted):
    waiting = review.queue(db_session, by_email(db_session, LEAD))
    assert submitted.id in {entry.audit.id for entry in waiting}
    sign_in(auth, LEAD)
    home = client.get("/").get_data(as_text=True)
    assert f"Audits waiting for your review ({len(waiting)})" in home
    sign_in(auth, world.EMAIL["auditor"])
    visit = client.get(f"/visits/{submitted.visit_id}").get_data(as_text=True)
    assert f"/review/audits/{submitted.id}" in visit
    assert client.get(f"/review/audits/{submitted.id}").status_code == 200  # the author reads the review
    sign_in(auth, world.EMAIL["maintainer"])  # maintainers see finalised audits only
    assert f"/review/audits/{submitted.id}" not in client.get(f"/visits/{submitted.visit_id}").get_data(as_text=True)
    assert client.get(f"/review/audits/{submitted.id}").status_code == 404  # as if it did not exist


def _menu(client) -> list[str]:
    """The labels of the main menu on the home page, in order."""
    html = client.get("/").get_data(as_text=True)
    nav = re.search(r'<nav[^>]*aria-label="Main menu".*?</nav>', html, re.DOTALL).group(0)
    return [" ".join(re.sub(r"<[^>]+>", "", label).split()) for label in re.findall(r'<a class="govuk-service-navigation__link"[^>]*>(.*?)</a>',
                                                             nav, re.DOTALL)]


def test_the_lead_reviewer_finds_review_in_the_menu_and_opens_the_evidence_the_review_page_links(
        app, client, auth, db_session, submitted):
    from auditapp.storage import get_blob_store
    from .evidence_helpers import verified
    photo = verified(db_session, get_blob_store(app), submitted.id, item_key="SG-1.1", filename="Fire exit.jpg")
    sign_in(auth, world.EMAIL["auditor"])  # an auditor who is not a lead reviewer: no Review item
    assert "Review" not in _menu(client)
    sign_in(auth, LEAD)
    assert _menu(client) == ["Home", "My visits", "Review", "Reports"]
    assert client.get("/review/").status_code == 200
    html = _page(client, submitted.id)
    evidence_page = f"/audits/{submitted.id}/evidence"
    assert f'href="{evidence_page}"' in html
    response = client.get(evidence_page)
    assert response.status_code == 200 and "Fire exit.jpg" in response.get_data(as_text=True)
    assert f'href="/review/audits/{submitted.id}"' in response.get_data(as_text=True)  # and back to the review
    opened = client.get(f"/evidence/{photo.id}")
    assert opened.status_code == 200
    opened.close()
    sign_in(auth, world.EMAIL["auditor"])  # the menu kept for the lead reviewer is not another auditor's
    assert "Review" not in _menu(client)


def test_a_lead_reviewer_sees_no_evidence_of_an_audit_not_yet_submitted(app, client, auth, db_session):
    from auditapp.storage import get_blob_store
    from .evidence_helpers import verified
    draft = submitted_audit(db_session, submit=False)
    photo = verified(db_session, get_blob_store(app), draft.id, item_key="SG-1.1")
    sign_in(auth, LEAD)
    assert "Evidence files for this audit" not in _page(client, draft.id)
    assert client.get(f"/audits/{draft.id}/evidence").status_code == 404
    assert client.get(f"/evidence/{photo.id}").status_code == 404


def _item_block(html: str, key: str) -> str:
    return re.search(rf'<div class="app-review-item" id="item-{re.escape(key)}">.*?(?=<div class="app-review-item"|</section>)',
                     html, re.DOTALL).group(0)


def test_the_review_page_shows_policy_checks_conversations_and_withdrawn_files_with_their_reason(db_session, client,
                                                                                                 auth):
    from auditapp.services.capture import record_conversations, record_policy_checks
    from auditapp.services.audits import submit_audits
    from .evidence_helpers import registered, withdrawn
    audit = submitted_audit(db_session, submit=False)
    auditor = by_email(db_session, world.EMAIL["auditor"])
    policy = Change("p", uuid.uuid4(), audit.id, "SG-1.1", 0, {
        "document_seen": True, "document_version": "v3, May 2026", "review_date": "2026-05-01",
        "named_person": "J. Example", "note": "Signed by the chair of trustees"})
    assert record_policy_checks(db_session, auditor, [policy])[0].status == "applied"
    talks = [Change("L", uuid.uuid4(), audit.id, "learner", 0, {
        "subject": "KS3", "setting": "Small group", "consent_given": True,
        "response:LC-3": "Feels safe with the key worker", "notes": "Likes the art room"}),
        Change("S", uuid.uuid4(), audit.id, "staff", 0, {"subject": "Key worker", "notes": "Knows the LADO route"})]
    assert {o.status for o in record_conversations(db_session, auditor, talks)} == {"applied"}
    withdrawn(db_session, registered(db_session, audit.id, item_key="SG-2.1", filename="Old policy.pdf"),
              "Superseded by the May version")
    assert submit_audits(db_session, auditor, [(1, audit.id)])[0].status == "applied"
    db_session.flush()
    sign_in(auth, LEAD)
    html = _page(client, audit.id)
    # The policy check beside its item
    item = _item_block(html, "SG-1.1")
    for text in ("Policy check", "Document seen", "v3, May 2026", "1 May 2026", "J. Example",
                 "Signed by the chair of trustees"):
        assert text in item, text
    # The conversations, by reference, with their answers and notes (never a name: there is none to show)
    talks_html = re.search(r'<section[^>]*id="conversations".*?</section>', html, re.DOTALL).group(0)
    for text in ("Learner conversation L1", "Key stage 3", "Small group", "Do you feel safe here? What helps?",
                 "Feels safe with the key worker", "Likes the art room", "Staff conversation S1", "Key worker",
                 "Knows the LADO route"):
        assert text in talks_html, text
    # A withdrawn file says so, with its reason, not "0 of 0 files received"
    item = _item_block(html, "SG-2.1")
    assert "0 of 0" not in item
    assert "Old policy.pdf withdrawn: Superseded by the May version" in " ".join(item.split())
