"""Draft review in Chromium, as a reviewer and a lead would do it: find a draft in the queue,
check a citation by hovering its marker, edit a sentence and see it checked again, flag one
draft, approve another; the lead reads the diff and approves; the helpdesk fetches the reply
over the API and its webhook arrives (a real worker, a real receiver on loopback). Two browser
sessions editing one reply get the conflict view. Screenshots in var/screenshots."""

import hashlib
import hmac
import json
import time
import urllib.request

import pytest
from django.conf import settings
from django.core.management import call_command

from apps.drafts.models import Reply
from apps.oversight.models import EditLogEntry
from apps.tickets.models import Ticket
from apps.tickets.services import api_client_create
from tests import factories
from tests.delivery.conftest import SECRET, receiver_factory, webhook_set  # noqa: F401
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = settings.VAR_DIR / "screenshots"


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _open_reply(page, live_server, external_id: str) -> Reply:
    reply = Reply.objects.get(ticket__external_id=external_id, stage__in=["review", "lead"])
    page.goto(f"{live_server.url}/replies/{reply.pk}/")
    return reply


@pytest.fixture
def drafted(demo_docs):
    call_command("draft_replies", "--pending", stdout=open("/dev/null", "w"))  # noqa: SIM115


def _wait(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the webhook did not arrive"
        time.sleep(0.2)


def test_reviewer_checks_edits_flags_and_approves_then_a_lead_approves(
    page,
    browser,
    live_server,
    drafted,
    celery_worker,
    receiver_factory,  # noqa: F811
):
    # The ticket came from a helpdesk whose API client has a webhook.
    helpdesk, token = api_client_create(name="Helpdesk bridge")
    receiver = receiver_factory(200)
    webhook_set(helpdesk, receiver.url)
    Ticket.objects.filter(external_id="DEMO-1007").update(api_client=helpdesk, source="api")
    reviewer = factories.reviewer(username="rita")
    log_in(page, live_server, reviewer.username, factories.PASSWORD)
    page.keyboard.press("g")
    page.keyboard.press("r")
    page.wait_for_url("**/replies/")
    queue = page.locator("table").inner_text()
    assert "DEMO-1007" in queue and "DEMO-1011" not in queue  # escalated ones have their tab
    _shot(page, "replies-queue.png")

    # Flag one draft with a reason.
    _open_reply(page, live_server, "DEMO-1001")
    page.keyboard.press("f")
    page.get_by_label("Tone").check()
    page.get_by_label("Comment").fill("Reads like a manual, not a reply")
    page.get_by_role("button", name="Flag", exact=True).click()
    assert "Flagged the draft of DEMO-1001" in page.locator("#messages").inner_text()

    # Check a citation: hovering [1] lights up its sentence inside its passage.
    reply = _open_reply(page, live_server, "DEMO-1007")
    marker = page.locator("#sentences button.cite").first
    marker.hover()
    lit = page.locator(".source.is-lit")
    assert lit.count() == 1 and "E5003 means" in lit.locator("mark").inner_text()
    _shot(page, "reply-review-citation.png")

    # Edit a sentence: it keeps its marker and is checked again as the reviewer types.
    editor = page.locator("#reply-text")
    text = editor.input_value()
    assert "took longer than 15 minutes" in text
    editor.fill(text.replace("took longer than", "ran for more than"))
    page.wait_for_selector("#sentences:has-text('not saved yet')")
    assert "Edited, still supported" in page.locator("#sentences").inner_text()
    editor.fill(editor.input_value() + "\n\nWe have also refunded your plan.")
    page.wait_for_selector("#sentences:has-text('Unsupported: Cites no source')")
    _shot(page, "reply-review-edit-checked.png")
    editor.fill(editor.input_value().replace("\n\nWe have also refunded your plan.", ""))
    page.locator("main").click(position={"x": 5, "y": 5})
    page.keyboard.press("a")
    page.wait_for_selector("#messages:has-text('now waits for a lead')")

    reply.refresh_from_db()
    assert reply.stage == Reply.Stage.LEAD and "ran for more than" in reply.text
    entries = EditLogEntry.objects.filter(object_type="drafts.reply")
    assert sorted(entries.values_list("decision", flat=True)) == ["flag", "submit"]

    # The lead, in a second browser session, reads the diff and approves.
    lead = factories.lead(username="lena")
    lead_context = browser.new_context(viewport={"width": 1280, "height": 900})
    lead_page = lead_context.new_page()
    log_in(lead_page, live_server, lead.username, factories.PASSWORD)
    lead_page.goto(f"{live_server.url}/replies/?stage=lead")
    lead_page.get_by_role("link", name="DEMO-1007").click()
    diff = lead_page.locator("[data-side=final] ins").all_inner_texts()
    assert any("ran" in words for words in diff)
    assert "0 unsupported" in lead_page.locator("main").inner_text()
    _shot(lead_page, "reply-lead-diff.png")
    lead_page.keyboard.press("a")
    lead_page.wait_for_selector("#messages:has-text('is approved')")
    lead_context.close()
    reply.refresh_from_db()
    assert reply.stage == Reply.Stage.APPROVED and reply.approved_by == lead

    # The helpdesk fetches the approved reply over the API, and its webhook arrives signed.
    request = urllib.request.Request(
        f"{live_server.url}/api/tickets/{reply.ticket_id}/reply",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        fetched = json.loads(answer.read())
    assert fetched["provenance"] == "AI-assisted; reviewed by rita; approved by lena"
    assert "ran for more than" in fetched["text"] and "[1]" not in fetched["text"]
    assert fetched["citations"][0]["quote"].startswith("E5003 means")
    _wait(lambda: receiver.requests)
    [hook] = receiver.requests
    signature = hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hook.headers["X-Reviewdesk-Signature"] == f"sha256={signature}"
    assert json.loads(hook.body) == fetched
    _wait(lambda: Ticket.objects.get(pk=reply.ticket_id).status == Ticket.Status.SENT)


def test_two_sessions_editing_one_reply_get_a_conflict_view_and_lose_nothing(
    page, browser, live_server, drafted
):
    first, second = factories.reviewer(), factories.reviewer()
    log_in(page, live_server, first.username, factories.PASSWORD)
    reply = _open_reply(page, live_server, "DEMO-1007")
    other_context = browser.new_context(viewport={"width": 1280, "height": 900})
    other = other_context.new_page()
    log_in(other, live_server, second.username, factories.PASSWORD)
    # The first reviewer's hold lapses (a long lunch) while their page stays open.
    Reply.objects.filter(pk=reply.pk).update(claimed_by=None, claimed_until=None)
    other.goto(f"{live_server.url}/replies/{reply.pk}/")
    theirs = other.locator("#reply-text").input_value().replace("Hello Hannah,", "Dear Hannah,")
    other.locator("#reply-text").fill(theirs)
    other.get_by_role("button", name="Save edit").click()
    other.wait_for_selector("#messages:has-text('Saved')")
    other_context.close()
    Reply.objects.filter(pk=reply.pk).update(claimed_by=None, claimed_until=None)

    mine = page.locator("#reply-text").input_value().replace("Hello Hannah,", "Hi Hannah,")
    page.locator("#reply-text").fill(mine)
    page.get_by_role("button", name="Save edit").click()
    conflict = page.locator("#edit-conflict")
    conflict.wait_for()
    assert "Dear" in conflict.locator("[data-side=theirs] del").inner_text()
    assert "Hi" in conflict.locator("[data-side=mine] ins").inner_text()
    assert page.locator("#reply-text").input_value().startswith("Hi Hannah,")
    _shot(page, "reply-edit-conflict.png")
    page.get_by_role("button", name="Save edit").click()  # mine, over theirs, knowingly
    page.wait_for_selector("#messages:has-text('Saved')")
    reply.refresh_from_db()
    assert reply.text.startswith("Hi Hannah,")
    saved = EditLogEntry.objects.filter(object_id=reply.pk, decision="edit").order_by("id")
    assert [e.after["text"].split(",")[0] for e in saved] == ["Dear Hannah", "Hi Hannah"]
