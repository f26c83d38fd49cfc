"""A reviewer opens a ticket and finds its cited draft waiting; an unanswerable one says a
person must answer (Chromium, screenshots in var/screenshots)."""

import pytest
from django.conf import settings
from django.core.management import call_command

from apps.tickets.models import Ticket
from tests import factories
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = settings.VAR_DIR / "screenshots"


def test_a_reviewer_reads_a_cited_draft_and_follows_a_citation(page, live_server, demo_docs):
    call_command("draft_replies", "--pending", stdout=open("/dev/null", "w"))  # noqa: SIM115
    reviewer = factories.reviewer()
    log_in(page, live_server, reviewer.username, factories.PASSWORD)
    ticket = Ticket.objects.get(external_id="DEMO-1007")
    page.goto(f"{live_server.url}/tickets/{ticket.pk}/")
    drafts = page.locator("#drafts")
    assert "Checked: every sentence supported" in drafts.inner_text()
    assert "E5003 means the audit log export took longer" in drafts.inner_text()
    marker = drafts.locator("a.cite").first
    assert marker.inner_text() == "[1]"
    marker.click()
    target = page.locator(":target")
    assert "E5003 means" in target.inner_text() and "Troubleshooting" in target.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "ticket-draft.png"), full_page=True)
    escalated = Ticket.objects.get(external_id="DEMO-1012")
    page.goto(f"{live_server.url}/tickets/{escalated.pk}/")
    text = page.locator("#drafts").inner_text()
    assert "A person must answer this ticket." in text and "Raspberry" in text
    page.screenshot(path=str(SCREENSHOTS / "ticket-escalated.png"), full_page=True)
