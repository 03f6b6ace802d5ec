"""The role x route matrix: every registered route has an explicit expectation for every role.

Adding a route without a row here fails `test_every_route_has_a_row`; a view without a
`@roles(...)`/`@public` declaration fails `test_every_view_declares_its_roles`.
"""
import pytest

from . import world

ANON = "anonymous"
WHO = (ANON,) + world.ROLES  # anonymous, admin, maintainer, qoe_teacher, auditor, school, la_officer

# Statuses in WHO order. 302 for anonymous = sent to the sign-in page.
# 404 on visits.detail for a QoE teacher: the visit exists but is not theirs (same answer as unknown).
# The same for every record a user may not see (an audit, its evidence, reports, action plan, actions, share
# links): 404 like a missing one. 403 stays for a role refused outright, or an action refused on a record the
# user may see (an auditor's own audit's share links, say).
MATRIX = {
    # Placements: schools write their own; LA roles read. The probe's placement is submitted, so
    # editing it sends the school to its page and saving it is a 409; empty review/end forms are 422.
    ("GET", "placements.index"):               (302, 200, 200, 403, 403, 200, 200),
    ("GET", "placements.new"):                 (302, 403, 403, 403, 403, 200, 403),
    ("POST", "placements.create"):             (302, 403, 403, 403, 403, 303, 403),
    ("GET", "placements.edit"):                (302, 403, 403, 403, 403, 303, 403),
    ("POST", "placements.update"):             (302, 403, 403, 403, 403, 409, 403),
    ("GET", "placements.detail"):              (302, 200, 200, 403, 403, 200, 200),
    ("POST", "placements.add_review"):         (302, 403, 403, 403, 403, 422, 403),
    ("POST", "placements.end"):                (302, 403, 403, 403, 403, 422, 403),
    ("GET", "placements.at_provider"):         (302, 200, 200, 403, 403, 403, 200),
    ("GET", "placements.provider_conditions"): (302, 403, 403, 403, 403, 200, 403),
    ("GET", "dashboard.index"):                (302, 200, 200, 403, 403, 403, 200),
    ("GET", "dashboard.chart_csv"):            (302, 200, 200, 403, 403, 403, 200),
    ("GET", "auth.login"):             (200, 302, 302, 302, 302, 302, 302),
    ("POST", "auth.login_submit"):     (422, 422, 422, 422, 422, 422, 422),
    ("POST", "auth.logout"):           (302, 302, 302, 302, 302, 302, 302),
    # Everyone signed in changes their own password; the probe's empty form is 422.
    ("GET", "auth.password_form"):     (302, 200, 200, 200, 200, 200, 200),
    ("POST", "auth.password_submit"):  (302, 422, 422, 422, 422, 422, 422),
    ("GET", "home.index"):             (302, 200, 200, 200, 200, 200, 200),
    ("GET", "home.health"):            (200, 200, 200, 200, 200, 200, 200),
    ("GET", "visits.index"):           (302, 200, 200, 200, 200, 403, 403),
    ("GET", "visits.detail"):          (302, 200, 200, 404, 200, 403, 403),
    # The directory and its API: schools and every LA role (LA officers too, read-only); never auditors.
    ("GET", "directory.index"):        (302, 200, 200, 200, 403, 200, 200),
    ("GET", "directory.provider"):     (302, 200, 200, 200, 403, 200, 200),
    ("GET", "directory.export"):       (302, 200, 200, 200, 403, 200, 200),
    # Watching is for school users; the plain form POST is sent back to the provider's page.
    ("POST", "directory.watch"):       (302, 403, 403, 403, 403, 303, 403),
    ("POST", "directory.unwatch"):     (302, 403, 403, 403, 403, 303, 403),
    # Everyone reads only their own notifications: the probe's notification is the school user's.
    ("GET", "notifications.index"):    (302, 200, 200, 200, 200, 200, 200),
    ("POST", "notifications.read"):    (302, 404, 404, 404, 404, 303, 404),
    ("POST", "notifications.read_all"): (302, 303, 303, 303, 303, 303, 303),
    ("GET", "api_v1.providers"):       (401, 200, 200, 200, 403, 200, 200),
    ("GET", "api_v1.provider"):        (401, 200, 200, 200, 403, 200, 200),
    ("GET", "api_v1.openapi"):         (200, 200, 200, 200, 200, 200, 200),
    # Maintainers' pages on the world's first Eligible provider: admins read, only maintainers change;
    # the probe's empty forms are 422.
    ("GET", "maintainers.queue"):             (302, 200, 200, 403, 403, 403, 403),
    ("GET", "maintainers.provider"):          (302, 200, 200, 403, 403, 403, 403),
    ("GET", "maintainers.why"):               (302, 200, 200, 403, 403, 403, 403),
    ("POST", "maintainers.decide"):           (302, 403, 422, 403, 403, 403, 403),
    ("POST", "concerns.triage"):              (302, 403, 422, 403, 403, 403, 403),  # empty note: 422
    ("GET", "maintainers.history"):           (302, 200, 200, 403, 403, 403, 403),
    ("GET", "maintainers.summary"):           (302, 200, 200, 403, 403, 403, 403),
    ("GET", "maintainers.thresholds"):        (302, 200, 200, 403, 403, 403, 403),
    ("GET", "provider_records.new"):          (302, 403, 200, 403, 403, 403, 403),
    ("POST", "provider_records.create"):      (302, 403, 422, 403, 403, 403, 403),
    ("GET", "provider_records.edit"):         (302, 403, 200, 403, 403, 403, 403),
    ("POST", "provider_records.update"):      (302, 403, 422, 403, 403, 403, 403),
    ("GET", "provider_records.new_site"):     (302, 403, 200, 403, 403, 403, 403),
    ("POST", "provider_records.add_site"):    (302, 403, 422, 403, 403, 403, 403),
    ("GET", "provider_records.close_form"):   (302, 403, 200, 403, 403, 403, 403),
    ("POST", "provider_records.close"):       (302, 403, 422, 403, 403, 403, 403),
    ("POST", "provider_records.add_trigger"): (302, 403, 422, 403, 403, 403, 403),
    ("GET", "provider_records.planner_page"): (302, 200, 200, 403, 403, 403, 403),
    ("GET", "provider_records.schedule_form"): (302, 403, 200, 403, 403, 403, 403),
    ("POST", "provider_records.schedule"):    (302, 403, 422, 403, 403, 403, 403),
    ("GET", "admin.users"):            (302, 200, 403, 403, 403, 403, 403),
    ("GET", "admin.user_new"):         (302, 200, 403, 403, 403, 403, 403),
    ("POST", "admin.user_create"):     (302, 422, 403, 403, 403, 403, 403),
    ("GET", "admin.templates"):        (302, 200, 403, 403, 403, 403, 403),
    ("GET", "admin.template_detail"):  (302, 200, 403, 403, 403, 403, 403),
    ("GET", "static"):                 (200, 200, 200, 200, 200, 200, 200),
    ("GET", "capture.shell"):          (302, 403, 403, 200, 200, 403, 403),
    ("GET", "capture.pack"):           (401, 403, 403, 404, 200, 403, 403),  # a device route: JSON 401
    ("GET", "capture.service_worker"): (200, 200, 200, 200, 200, 200, 200),
    ("GET", "capture.manifest"):       (200, 200, 200, 200, 200, 200, 200),
    ("GET", "sync_import.form"):       (302, 200, 403, 403, 403, 403, 403),
    ("POST", "sync_import.upload"):    (302, 422, 403, 403, 403, 403, 403),
    ("POST", "sync.push"):             (401, 403, 403, 422, 422, 403, 403),
    ("GET", "sync.pull"):              (401, 403, 403, 200, 200, 403, 403),
    ("GET", "sync.config"):            (401, 403, 403, 200, 200, 403, 403),
    ("GET", "sync.openapi"):           (200, 200, 200, 200, 200, 200, 200),
    # Devices starting with no HTML (sync/devices.py): the probe's form-encoded sign-in is not JSON (415); sign-out
    # for anyone signed in; the visit list for the roles that capture.
    ("POST", "sync_devices.session_start"): (415, 415, 415, 415, 415, 415, 415),
    ("DELETE", "sync_devices.session_end"): (401, 204, 204, 204, 204, 204, 204),
    ("GET", "sync_devices.visits"):         (401, 403, 403, 200, 200, 403, 403),
    # On one verified file of the auditor's safeguarding audit (local store). A QoE teacher may
    # capture, but not safeguarding; the PUT carries no signed upload token, so it is refused.
    ("POST", "evidence.upload_target"): (401, 403, 403, 404, 409, 403, 403),
    ("PUT", "evidence.content"):        (401, 403, 403, 403, 403, 403, 403),
    ("POST", "evidence.confirm"):       (401, 403, 403, 404, 200, 403, 403),
    # Need to know: a QoE teacher sees a safeguarding audit's outcome, never its evidence.
    ("GET", "evidence.view"):           (302, 200, 200, 404, 200, 403, 403),
    ("GET", "evidence.audit_page"):     (302, 200, 200, 404, 200, 403, 403),
    # On the world's submitted QE audit graded by the other teacher: the QoE teacher's empty form is 422.
    ("GET", "grading.queues"):            (302, 200, 403, 200, 403, 403, 403),
    ("GET", "grading.grade_form"):        (302, 200, 403, 200, 403, 403, 403),
    ("POST", "grading.grade_submit"):     (302, 403, 403, 422, 403, 403, 403),
    ("GET", "grading.moderation_form"):   (302, 200, 403, 200, 403, 403, 403),
    ("POST", "grading.moderation_submit"): (302, 403, 403, 422, 403, 403, 403),
    ("GET", "grading.finalised"):         (302, 200, 200, 403, 403, 403, 403),
    # Review routes on the world's submitted QE audit by the city teacher: the county QoE teacher may
    # review it, and an empty form (no audit version) is 422. Auditors in WHO are not lead reviewers.
    # It is not a correction (404 for the correction page, 403 for a correction's forms).
    ("GET", "review.queue"):              (302, 200, 403, 200, 403, 403, 403),
    ("GET", "review.audit"):              (302, 200, 404, 200, 404, 403, 403),
    ("POST", "review.return_audit"):      (302, 403, 403, 422, 404, 403, 403),
    ("POST", "review.finalise"):          (302, 403, 403, 422, 404, 403, 403),
    ("POST", "review.resolve_conflict"):  (302, 403, 403, 422, 404, 403, 403),
    ("POST", "review.start_correction"):  (302, 403, 403, 422, 404, 403, 403),
    ("GET", "review.correction"):         (302, 404, 404, 404, 404, 403, 403),
    ("POST", "review.correct_item"):      (302, 403, 403, 403, 403, 403, 403),
    ("POST", "review.submit_correction"): (302, 403, 403, 403, 403, 403, 403),
    ("GET", "review.diff"):               (302, 200, 404, 200, 404, 403, 403),
    ("POST", "review.set_lead_reviewer"):  (302, 303, 403, 403, 403, 403, 403),  # on the world's auditor
    # Action plans, share links and reports on a finalised safeguarding audit by the world's auditor
    # (tests/report_helpers.matrix_audit). Only its lead reviewer (not in WHO) may confirm actions;
    # the auditor and maintainers follow them up (an empty verify form is 422; provider-done succeeds).
    # Need to know: a QoE teacher gets only its outcome (in the reports list), not its reports or plan.
    ("GET", "actions.confirm_form"):      (302, 403, 403, 404, 403, 403, 403),
    ("POST", "actions.confirm"):          (302, 403, 403, 404, 403, 403, 403),
    ("GET", "actions.plan"):              (302, 200, 200, 404, 200, 403, 403),
    ("POST", "actions.provider_done"):    (302, 403, 303, 404, 303, 403, 403),
    ("POST", "actions.verify"):           (302, 403, 422, 404, 422, 403, 403),
    ("POST", "share_links.create"):       (302, 403, 200, 404, 403, 403, 403),
    ("POST", "share_links.revoke"):       (302, 403, 200, 404, 403, 403, 403),
    ("GET", "share_links.plan"):          (200, 200, 200, 200, 200, 200, 200),
    ("GET", "share_links.report_pdf"):    (200, 200, 200, 200, 200, 200, 200),
    ("GET", "reports.index"):             (302, 200, 200, 200, 200, 403, 403),
    ("GET", "reports.full_report"):       (302, 200, 200, 404, 200, 403, 403),
    ("GET", "reports.provider_report"):   (302, 200, 200, 404, 200, 403, 403),
    ("GET", "reports.full_report_pdf"):   (302, 200, 200, 404, 200, 403, 403),
    ("GET", "reports.provider_report_pdf"): (302, 200, 200, 404, 200, 403, 403),
    ("GET", "reports.export_csv"):        (302, 200, 200, 403, 403, 403, 403),
}


def _routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule


def test_every_route_has_a_row(app):
    registered = {(method, rule.endpoint) for method, rule in _routes(app)}
    assert registered == set(MATRIX), "add the new route to MATRIX with an expectation for every role"


def test_every_view_declares_its_roles(app):
    undeclared = [endpoint for endpoint, view in app.view_functions.items()
                  if endpoint != "static" and not hasattr(view, "allowed_roles")]
    assert undeclared == []


def _url(app, db_session, rule):
    args = {}
    if "visit_id" in rule.arguments:
        args["visit_id"] = world.visit_assigned_to(db_session, "auditor").id
    if "provider_id" in rule.arguments:
        args["provider_id"] = world.provider(db_session, "eligible").id
    if "version_id" in rule.arguments:
        from auditapp.services.templates import latest_version
        args["version_id"] = latest_version(db_session, "safeguarding").id
    if "filename" in rule.arguments:
        args["filename"] = "css/app.css"
    if "evidence_id" in rule.arguments or "audit_id" in rule.arguments:
        from auditapp.storage import get_blob_store
        from .evidence_helpers import verified_evidence_for_matrix
        row = verified_evidence_for_matrix(db_session, get_blob_store(app))
        args.update({k: v for k, v in (("evidence_id", row.id), ("audit_id", row.audit_id)) if k in rule.arguments})
    if rule.endpoint.startswith("review.") and "audit_id" in rule.arguments:
        from .grading_helpers import ungraded_world_audit
        args["audit_id"] = ungraded_world_audit(db_session).id
    if "user_id" in rule.arguments:
        args["user_id"] = world.user(db_session, "auditor").id
    if "conflict_id" in rule.arguments:
        args["conflict_id"] = 0  # none: the role check and the form answer first
    if "concern_id" in rule.arguments:
        args["concern_id"] = "00000000-0000-0000-0000-000000000000"  # none: the role check and the note answer first
    if "notification_id" in rule.arguments:
        from auditapp.models import Notification
        note = Notification(user_id=world.user(db_session, "school").id, kind="status_changed",
                            title="Probe", body="A notification for the role matrix")
        db_session.add(note)
        db_session.flush()
        args["notification_id"] = note.id
    if rule.endpoint.split(".")[0] in ("actions", "share_links", "reports"):
        from . import report_helpers
        if "audit_id" in rule.arguments:
            args["audit_id"] = report_helpers.matrix_audit(db_session, app).id
        if "action_id" in rule.arguments:
            args["action_id"] = report_helpers.actions_of(db_session, report_helpers.matrix_audit(db_session, app))[
                "SG-1.2"].id
        if "link_id" in rule.arguments:
            args["link_id"] = report_helpers.matrix_link_id(db_session, app)
        if "token" in rule.arguments:
            args["token"] = report_helpers.matrix_token(db_session, app)
    if "qe_audit_id" in rule.arguments:
        from .grading_helpers import graded_world_audit
        args["qe_audit_id"] = graded_world_audit(db_session).id
    if "chart" in rule.arguments:
        args["chart"] = "children-by-month"
    if "placement_id" in rule.arguments:
        from .placement_helpers import matrix_placement
        args["placement_id"] = matrix_placement(db_session, app).id
    with app.test_request_context():
        from flask import url_for
        return url_for(rule.endpoint, **args)


@pytest.mark.parametrize("who_index, who", list(enumerate(WHO)))
def test_role_route_matrix(app, client, auth, db_session, who_index, who):
    if who != ANON:
        auth.login(who)
    failures = []
    for method, rule in _routes(app):
        expected = MATRIX[(method, rule.endpoint)][who_index]
        url = _url(app, db_session, rule)
        # A valid CSRF token on every POST, PUT and DELETE, so the answer reflects the role check, not CSRF.
        token = auth.csrf("/sign-in" if who == ANON else "/") if method in ("POST", "PUT", "DELETE") else None
        data = {"csrf_token": token} if method == "POST" else None
        response = client.open(url, method=method, data=data, headers={"X-CSRFToken": token} if token else None)
        response.close()  # static files stream from disk
        if response.status_code != expected:
            failures.append(f"{method} {url}: expected {expected}, got {response.status_code}")
        if rule.endpoint in ("auth.logout", "sync_devices.session_end") and who != ANON:
            auth.login(who)  # signed out by the probe: sign back in for the rest
    assert failures == []
