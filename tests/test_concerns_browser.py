"""Triage in headless Chromium: a maintainer opens the world's provider Under review for a safeguarding concern,
is told to say what was done when the note is empty, then marks the concern triaged by its visible labels and
sees the success banner; axe-core finds nothing on each state, and the browser logs no error (CSP included)."""
from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from auditapp.db import bind, session_scope
from auditapp.models import Provider

from .browser_helpers import assert_accessible, sign_in
from .conftest import make_test_app, world_database
from .live_server import serving
from .test_concerns import MELTON, NOTE

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def concerns_live():
    url = world_database(f"auditapp_concerns_{uuid.uuid4().hex[:8]}")
    binding = bind(url)
    with session_scope(binding) as session:
        melton = session.scalar(select(Provider.id).where(Provider.legal_name == MELTON))
    binding.engine.dispose()
    with serving(make_test_app(url)) as base:
        yield base, melton


def test_a_maintainer_marks_a_concern_triaged_by_its_labels(page: Page, concerns_live):
    base, melton = concerns_live
    errors: list[str] = []  # console errors, CSP included; Chromium also logs the 422 this test asks for
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and "status of 422" not in message.text else None)
    sign_in(page, base, "maintainer")
    page.goto(f"{base}/maintainers/providers/{melton}")
    section = page.get_by_role("region", name="Safeguarding concerns")
    expect(section).to_contain_text("Awaiting triage")
    assert_accessible(page, "provider page with an open concern")
    # An empty note: the field says what to do, and nothing is triaged
    section.get_by_role("button", name="Mark as triaged").click()
    expect(page.get_by_role("link", name="Enter what was done (triage note)")).to_be_visible()
    expect(page.get_by_role("region", name="Safeguarding concerns")).to_contain_text("Awaiting triage")
    assert_accessible(page, "triage note missing")
    page.get_by_label("What was done (triage note)").fill(NOTE)
    page.get_by_role("button", name="Mark as triaged").click()
    expect(page.get_by_text("Concern marked as triaged")).to_be_visible()
    section = page.get_by_role("region", name="Safeguarding concerns")
    expect(section).to_contain_text(NOTE)
    expect(section.get_by_role("button", name="Mark as triaged")).to_have_count(0)
    assert_accessible(page, "concern triaged")
    assert errors == []
