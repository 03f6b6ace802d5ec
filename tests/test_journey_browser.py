"""The life of an audit across every role, by visible labels only, in headless Chromium at 768x1024 (a tablet):
the gate every change keeps green. It runs twice: on the stack `make run` starts (embedded PostgreSQL, local
evidence) and on PostgreSQL 15 with the S3 endpoint.

The auditor makes Riverside Motors' visit available offline, answers the whole safeguarding audit offline (one
N/A with a reason, one Partially met with its action), checks a policy, records a learner and a staff
conversation, adds a photo and raises a safeguarding concern; reloads and opens a new tab offline; comes back
online, syncs, the photo is verified; submits. The lead reviewer returns it with a comment, the tablet shows why,
the auditor resubmits, the lead reviewer confirms the action and finalises. The provider's link opens (HTML and
PDF). A maintainer triages the concern and suspends the provider; a second maintainer reinstates it. A school sees
the status and none of the notes. QoE teachers grade and moderate. The LA officer's dashboard counts placements.
"""
from __future__ import annotations

import base64
import logging
import re
import time
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from auditapp import clock
from auditapp.storage import get_blob_store

from . import world
from .conftest import make_test_app, s3_config, world_database
from .journey_support import ErrorLog, Stack, Watch, five_hundreds, navigate, sign_in
from .live_server import serving

pytestmark = pytest.mark.browser

AUDITOR, LEAD = "auditor@assure.example.org", "lead.auditor@assure.example.org"
MAINTAINER, SECOND_MAINTAINER = "maintainer@city.example.org", "maintainer@county.example.org"
SCHOOL, OFFICER = "staff@beaumontleys.example.org", "officer@county.example.org"
GRADER, MODERATOR = "teacher@city.example.org", "teacher@county.example.org"
PROVIDER = "Riverside Motors"
LEARNER_NOTE = "Talked about the workshop rota; feels safe with the mentor"
CONCERN_SUMMARY = "Learner described an adult volunteer without checks"
RETURN_COMMENT = "Please say which fire log you saw before I finalise."
ACTION_DUE = clock.today() + timedelta(days=42)
TABLET = {"viewport": {"width": 768, "height": 1024}, "has_touch": True}
PICTURE = """async () => {
  const c = new OffscreenCanvas(1600, 1200); const x = c.getContext('2d');
  x.fillStyle = '#1d70b8'; x.fillRect(0, 0, 1600, 1200); x.fillStyle = '#fff'; x.font = '160px sans-serif';
  x.fillText('FIRE EXIT', 200, 600);
  const bytes = new Uint8Array(await (await c.convertToBlob({ type: 'image/jpeg', quality: 0.9 })).arrayBuffer());
  let s = ''; for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}"""


@pytest.fixture(params=["postgres-s3", "make-run"])
def journey_stack(request, s3_endpoint_url, tmp_path):
    """The journey's server: PostgreSQL 15 with the S3 endpoint, or exactly what `make run` starts."""
    if request.param == "make-run":
        from .make_run_stack import make_run_stack
        with make_run_stack(tmp_path) as stack:
            yield Stack("make run (embedded PostgreSQL, local evidence)", stack.url, stack.passwords.__getitem__,
                        lambda: [line for line in stack.log_path.read_text().splitlines()
                                 if "Traceback" in line or re.search(r'" 5\d\d ', line)])
        return
    seen: list[str] = []
    log = ErrorLog()
    bucket = f"auditapp-journey-{uuid.uuid4().hex[:12]}"
    app = make_test_app(world_database(f"auditapp_journey_{uuid.uuid4().hex[:8]}"),
                        **s3_config(s3_endpoint_url, bucket))
    store = get_blob_store(app)
    store.client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    app.logger.addHandler(log)
    logging.getLogger("werkzeug").addHandler(log)
    try:
        with serving(app, five_hundreds(app.wsgi_app, seen)) as url:
            store.allow_browser_uploads([url])
            yield Stack("PostgreSQL 15 + S3", url, lambda _email: world.PASSWORD, lambda: seen + log.lines)
    finally:
        app.logger.removeHandler(log)
        logging.getLogger("werkzeug").removeHandler(log)


def test_the_life_of_an_audit_across_every_role(journey_stack: Stack, browser: Browser):
    started = time.monotonic()
    watch = Watch()
    tablet = browser.new_context(**TABLET)
    watch.attach(tablet)
    page = tablet.new_page()
    capture_offline(page, tablet, journey_stack, watch)
    sync_and_submit(page, tablet, watch)
    review_and_return(browser, journey_stack, watch)
    see_the_return_and_resubmit(page, watch)
    plan_url = finalise(browser, journey_stack, watch)
    open_the_providers_link(browser, plan_url, watch)
    maintainers_decide(browser, journey_stack, watch)
    school_searches(browser, journey_stack, watch)
    teachers_grade_and_moderate(browser, journey_stack, watch)
    officer_counts_placements(browser, journey_stack, watch)
    tablet.close()
    assert not journey_stack.server_errors(), journey_stack.server_errors()
    print(f"\njourney on {journey_stack.name}: {time.monotonic() - started:.1f} s")


def person(browser: Browser, stack: Stack, email: str, watch: Watch) -> Page:
    """A new browser for someone else, signed in as `email`."""
    context = browser.new_context(**TABLET)
    watch.attach(context)
    page = context.new_page()
    sign_in(page, stack, email, watch)
    return page


# ---- the auditor, on the tablet ----------------------------------------------------------------

def capture_offline(page: Page, tablet: BrowserContext, stack: Stack, watch: Watch) -> None:
    # Given the auditor makes the visit available offline
    sign_in(page, stack, AUDITOR, watch)
    navigate(page, "My visits", watch, "Your visits")
    page.get_by_role("button", name=re.compile(rf"Make available offline\s*:\s*{PROVIDER}")).click()
    expect(page.get_by_role("status").filter(has_text="Ready offline")).to_be_visible(timeout=20000)
    photo = base64.b64decode(page.evaluate(PICTURE))
    page.get_by_role("link", name=re.compile(rf"Open capture: Safeguarding\s*,\s*{PROVIDER}")).click()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    expect(page.get_by_role("heading", name="Safeguarding audit")).to_be_visible()
    watch.check(page, "capture screen")
    # When the signal goes, the auditor answers everything on the tablet
    tablet.set_offline(True)
    watch.offline = True
    items = page.get_by_role("group", name=re.compile(r"^SG-\d+\.\d+ "))
    expect(items.nth(30)).to_be_attached()  # the audit is drawn from IndexedDB: wait for it before counting
    count = items.count()
    assert count > 30
    for index in range(count):
        items.nth(index).get_by_role("radio", name="Met", exact=True).check()
    not_applicable = items.filter(has_text="SG-7.2").first
    not_applicable.get_by_role("radio", name="N/A", exact=True).check()
    page.get_by_label(re.compile(r"Why is this not applicable\?.*SG-7\.2")).fill("No learner uses the internet on site")
    partly = items.filter(has_text="SG-6.1").first
    partly.get_by_role("radio", name="Partially met", exact=True).check()
    page.get_by_label(re.compile(r"What must the provider do\?.*SG-6\.1")).fill("Keep the fire exit clear at all times")
    page.get_by_label(re.compile(r"Owner \(role\).*SG-6\.1")).fill("Centre manager")
    page.get_by_label(re.compile(r"Due date.*SG-6\.1")).fill(ACTION_DUE.isoformat())  # the visit was a month ago
    page.get_by_label(re.compile(r"Due date.*SG-6\.1")).blur()
    policy = page.get_by_role("group", name=re.compile(r"Policy check: Child protection policy \(SG-1\.1\)"))
    policy.get_by_role("radio", name="Yes", exact=True).check()
    page.get_by_label("Version or date shown on the document (Child protection policy)").fill("Version 4, May 2026")
    page.get_by_label("Version or date shown on the document (Child protection policy)").blur()
    add_conversations(page)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Add photo for SG-6.1").click()
    chooser.value.set_files(files=[{"name": "fire-exit.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    expect(page.get_by_text("fire-exit.jpg").first).to_be_visible(timeout=20000)
    raise_concern(page)
    expect(page.get_by_text(re.compile(rf"{count}/{count} rated items answered"))).to_be_visible()
    watch.check(page, "capture screen, everything answered offline")
    # Then a reload and a new tab, still offline, show the same answers
    page.reload()
    expect(page.get_by_text(re.compile(rf"{count}/{count} rated items answered"))).to_be_visible(timeout=20000)
    second = tablet.new_page()
    second.goto(page.url)
    expect(second.get_by_text(re.compile(rf"{count}/{count} rated items answered"))).to_be_visible(timeout=20000)
    expect(second.get_by_label(re.compile(r"What must the provider do\?.*SG-6\.1"))).to_have_value(
        "Keep the fire exit clear at all times")
    watch.check(second, "a new tab offline")
    second.close()


def add_conversations(page: Page) -> None:
    page.get_by_role("button", name="Add a learner conversation").click()
    learner = page.get_by_role("group", name=re.compile(r"Learner conversation L1"))
    learner.get_by_label("Key stage 4").check()
    learner.get_by_label("Small group").check()
    learner.get_by_role("group", name="Did the learner agree to talk?").get_by_label("Yes").check()
    learner.get_by_label("Other notes").fill(LEARNER_NOTE)
    learner.get_by_label("Other notes").blur()
    page.get_by_role("button", name="Add a staff conversation").click()
    staff = page.get_by_role("group", name=re.compile(r"Staff conversation S1"))
    staff.get_by_label("Role").fill("Designated safeguarding lead")
    staff.get_by_role("group", name="Did they agree to talk?").get_by_label("Yes").check()
    staff.get_by_label("Other notes").fill("Knows the LADO route")
    staff.get_by_label("Other notes").blur()


def raise_concern(page: Page) -> None:
    page.get_by_role("button", name="Raise a safeguarding concern").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Time").fill("11:30")
    dialog.get_by_label("Referred to (role)").fill("Provider's DSL")
    dialog.get_by_role("group", name="Is it about the provider or its staff?").get_by_label("Yes").check()
    dialog.get_by_label("Short summary (optional)").fill(CONCERN_SUMMARY)
    dialog.get_by_role("button", name="Save the concern").click()
    expect(dialog).to_be_hidden()


def sync_and_submit(page: Page, tablet: BrowserContext, watch: Watch) -> None:
    # When the signal comes back, everything syncs and the photo is uploaded and verified
    tablet.set_offline(False)
    watch.offline = False
    expect(page.get_by_text(re.compile(r"All synced"))).to_be_visible(timeout=30000)
    expect(page.get_by_text("Received").first).to_be_visible(timeout=30000)
    watch.check(page, "synced")
    submit(page)


def submit(page: Page) -> None:
    page.get_by_role("button", name="Submit for review").click()
    page.get_by_role("button", name=re.compile(r"Yes, submit")).click()
    expect(page.get_by_text(re.compile(r"[Ss]ubmitted")).first).to_be_visible(timeout=30000)
    expect(page.get_by_text(re.compile(r"All synced"))).to_be_visible(timeout=30000)


# ---- review ------------------------------------------------------------------------------------

def open_review(browser: Browser, stack: Stack, watch: Watch) -> Page:
    page = person(browser, stack, LEAD, watch)
    navigate(page, "Review", watch, "Audits to review")
    page.get_by_role("link", name=re.compile(PROVIDER)).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Safeguarding audit")
    expect(page.get_by_text(PROVIDER).first).to_be_visible()
    watch.check(page, "review page")
    return page


def review_and_return(browser: Browser, stack: Stack, watch: Watch) -> None:
    page = open_review(browser, stack, watch)
    # Then the reviewer sees the conversations, the policy checks and the evidence
    expect(page.get_by_text(LEARNER_NOTE)).to_be_visible()
    expect(page.get_by_text("Version 4, May 2026")).to_be_visible()
    page.get_by_role("link", name="Evidence files for this audit").click()
    expect(page.get_by_text("fire-exit.jpg").first).to_be_visible()
    watch.check(page, "the audit's evidence")
    page.go_back()
    expect(page.get_by_text(CONCERN_SUMMARY)).to_have_count(0)  # kept out of the audit record
    # When they return it with a comment
    page.get_by_label("Comment on the whole audit").fill(RETURN_COMMENT)
    page.get_by_role("button", name=re.compile(r"^Return to ")).click()
    expect(page.get_by_text(re.compile("returned to its author"))).to_be_visible()
    watch.check(page, "returned")
    page.context.close()


def see_the_return_and_resubmit(page: Page, watch: Watch) -> None:
    # Then the tablet shows that the audit came back, and why
    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_text(RETURN_COMMENT)).to_be_visible(timeout=30000)
    expect(page.get_by_text(re.compile(r"[Rr]eturned")).first).to_be_visible()
    watch.check(page, "returned on the tablet")
    page.get_by_label(re.compile(r"Note \(optional\).*SG-6\.1")).fill("Fire log for October seen")
    page.get_by_label(re.compile(r"Note \(optional\).*SG-6\.1")).blur()
    submit(page)


def finalise(browser: Browser, stack: Stack, watch: Watch) -> str:
    page = open_review(browser, stack, watch)
    page.get_by_role("link", name="Confirm owners, due dates and priorities").click()
    watch.check(page, "confirm actions")
    page.get_by_role("button", name="Confirm actions").click()
    expect(page.get_by_text(re.compile(r"[Cc]onfirmed")).first).to_be_visible()
    watch.check(page, "actions confirmed")
    page.go_back()
    page.reload()
    page.get_by_role("button", name="Finalise the audit").click()
    expect(page.get_by_text("The audit is finalised.")).to_be_visible()
    watch.check(page, "finalised")
    page.get_by_role("link", name="Action plan and follow-up").click()
    watch.check(page, "action plan")
    page.get_by_role("button", name="Create a link for the provider").click()
    link = page.get_by_role("link", name=re.compile(r"\/plan\/"))
    expect(link).to_be_visible()
    watch.check(page, "action plan with a link")
    url = link.get_attribute("href")
    page.context.close()
    return url


def open_the_providers_link(browser: Browser, plan_url: str, watch: Watch) -> None:
    context = browser.new_context(**TABLET)
    watch.attach(context)
    page = context.new_page()
    page.goto(plan_url)
    expect(page.get_by_text("Keep the fire exit clear at all times")).to_be_visible()
    expect(page.get_by_text(LEARNER_NOTE)).to_have_count(0)
    watch.check(page, "the provider's action plan")
    pdf = page.get_by_role("link", name=re.compile("PDF"))
    response = context.request.get(pdf.get_attribute("href") if pdf.get_attribute("href").startswith("http")
                                   else plan_url.split("/plan/")[0] + pdf.get_attribute("href"))
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")
    context.close()


# ---- the directory -----------------------------------------------------------------------------

def open_provider(page: Page, watch: Watch) -> None:
    navigate(page, "Queue", watch, "Providers waiting for a decision")
    page.get_by_role("link", name=f"Decide on {PROVIDER}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(PROVIDER)
    watch.check(page, "maintainer's provider page")


def decide(page: Page, decision: str, reason: str, watch: Watch) -> None:
    page.get_by_role("radio", name=decision, exact=True).check()
    page.get_by_label("Reason", exact=True).fill(reason)
    page.get_by_role("button", name="Record the decision").click()


def maintainers_decide(browser: Browser, stack: Stack, watch: Watch) -> None:
    page = person(browser, stack, MAINTAINER, watch)
    open_provider(page, watch)
    # Then the maintainer sees the status and its reasons: the concern keeps the provider under review
    expect(page.get_by_text(re.compile("Under review")).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"safeguarding concern\(s\) awaiting triage"))).to_be_visible()
    page.get_by_label(re.compile("triage note")).fill("Referred to the LADO; volunteer stood down pending checks")
    page.get_by_role("button", name="Mark as triaged").click()
    expect(page.get_by_text("Concern marked as triaged")).to_be_visible()
    watch.check(page, "concern triaged")
    decide(page, "Suspend", "Volunteer checks missing: suspended until the provider shows its DBS records", watch)
    expect(page.get_by_text("Provider suspended")).to_be_visible()
    watch.check(page, "suspended")
    page.context.close()
    page = person(browser, stack, SECOND_MAINTAINER, watch)
    find_in_directory(page, watch)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Suspended")
    page.get_by_role("link", name=re.compile("Open the maintainers. record")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(PROVIDER)
    watch.check(page, "second maintainer's provider page")
    decide(page, "Reinstate", "DBS records seen for every volunteer", watch)
    expect(page.get_by_text("Reinstatement recorded")).to_be_visible()
    watch.check(page, "reinstated")
    find_in_directory(page, watch)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Conditional")  # the open action, in time
    page.context.close()


def find_in_directory(page: Page, watch: Watch) -> None:
    navigate(page, "Directory", watch, "Alternative provision directory")
    page.get_by_label("Provider name").fill("Riverside")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"[?&]q=Riverside"))  # a link clicked on the page being left is lost
    page.get_by_role("link", name=re.compile(r"^Riverside Motor")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(PROVIDER)
    watch.check(page, "the directory's page of the provider")


def school_searches(browser: Browser, stack: Stack, watch: Watch) -> None:
    page = person(browser, stack, SCHOOL, watch)
    find_in_directory(page, watch)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Conditional")
    body = page.locator("body").inner_text()
    for secret in (LEARNER_NOTE, CONCERN_SUMMARY, "Ash Auditor", "Lee Lead", "Designated safeguarding lead"):
        assert secret not in body, f"a school sees {secret!r}"
    watch.check(page, "school's view of the provider")
    page.context.close()


def teachers_grade_and_moderate(browser: Browser, stack: Stack, watch: Watch) -> None:
    page = person(browser, stack, GRADER, watch)
    navigate(page, "Grading", watch)
    page.get_by_role("link", name="Grade Abbey Park Boxing Academy CIC", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Grades: Abbey Park")
    expect(page.get_by_role("group", name=re.compile(r"^Grade for "))).to_have_count(8)  # seven areas and overall
    for group in page.get_by_role("group", name=re.compile(r"^Grade for ")).all():
        group.get_by_role("radio", name="Secure", exact=True).check()
    for box in page.get_by_role("textbox", name=re.compile(r"^Reasons for the ")).all():
        box.fill("Most items met; the plans are clear.")
    page.get_by_role("button", name="Save grades").click()
    expect(page.get_by_text(re.compile(r"\d+ changes? saved\."))).to_be_visible()
    watch.check(page, "graded")
    page.context.close()
    page = person(browser, stack, MODERATOR, watch)
    navigate(page, "Grading", watch)
    page.get_by_role("link", name="Moderate Abbey Park Boxing Academy CIC", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Moderation: Abbey Park")
    expect(page.get_by_role("group", name=re.compile(r"^Your moderation of "))).to_have_count(8)
    for group in page.get_by_role("group", name=re.compile(r"^Your moderation of ")).all():
        group.get_by_role("radio", name=re.compile(r"^Agree")).check()
    page.get_by_role("button", name="Save moderation").click()
    expect(page.get_by_text(re.compile(r"\d+ changes? saved\."))).to_be_visible()
    watch.check(page, "moderated")
    page.context.close()


def officer_counts_placements(browser: Browser, stack: Stack, watch: Watch) -> None:
    page = person(browser, stack, OFFICER, watch)
    navigate(page, "Dashboard", watch)
    page.get_by_role("button", name="Show figures").click()
    # The demo schools' three placements, all running this month
    by_month = page.get_by_role("table", name="Children in AP by month: figures")
    expect(by_month.get_by_role("row").last.get_by_role("cell")).to_have_text("3")
    watch.check(page, "LA dashboard")
    page.context.close()
