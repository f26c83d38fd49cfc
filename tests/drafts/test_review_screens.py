"""The reviewer queue and review screen over HTTP: what each role may do, the live check of
an edit, the conflict view, escaping, and the lead's diff. Demo docs, real embedding model."""

import re
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from apps.drafts import services
from apps.drafts.models import Reply
from apps.oversight.models import EditLogEntry
from apps.tickets.models import Ticket
from tests import factories

pytestmark = pytest.mark.django_db


def _reply(external_id: str = "DEMO-1007") -> Reply:
    ticket = Ticket.objects.get(external_id=external_id)
    return services.draft_create(ticket_id=ticket.pk, version=ticket.drafts_requested).reply


@pytest.fixture
def reply(demo_docs) -> Reply:
    return _reply()


def _act(client, reply: Reply, **data):
    data.setdefault("version", reply.version)
    return client.post(reverse("drafts:act", args=[reply.pk]), data)


def test_anonymous_people_are_sent_to_log_in_everywhere(client, reply):
    for url in (reverse("drafts:queue"), reverse("drafts:review", args=[reply.pk])):
        assert client.get(url)["Location"].startswith("/accounts/login/")
    assert _act(client, reply, action="approve")["Location"].startswith("/accounts/login/")


def test_the_queue_lists_drafted_tickets_with_counts_and_filters(client_for, reply, demo_docs):
    escalated = _reply("DEMO-1011")
    client = client_for(factories.reviewer())
    page = client.get(reverse("drafts:queue")).content.decode()
    assert "DEMO-1007" in page and "DEMO-1011" not in page
    assert re.search(r"Escalated <span class=\"badge\">1</span>", page)
    page = client.get(reverse("drafts:queue"), {"stage": "escalated"}).content.decode()
    assert "DEMO-1011" in page and "DEMO-1007" not in page
    page = client.get(reverse("drafts:queue"), {"unsupported": "1"}).content.decode()
    assert "DEMO-1007" not in page
    assert escalated.stage == Reply.Stage.ESCALATED


def test_the_review_screen_shows_markers_and_each_source_in_its_passage(client_for, reply):
    page = client_for(factories.reviewer()).get(reverse("drafts:review", args=[reply.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-cite="src-1"' in html and 'id="src-1"' in html
    sources = list(reply.draft.sources.filter(cited=True))
    assert sources
    for source in sources:
        assert f"<mark>{source.text}</mark>" in html
        assert f"?quote={source.start}-{source.end}#quote" in html
    assert "Enterprise" in html and "ms" in html  # the filters used and the timings
    assert Reply.objects.get(pk=reply.pk).claimed_by is not None


def test_checking_an_edit_marks_a_new_unsupported_sentence_without_saving(client_for, reply):
    client = client_for(factories.reviewer())
    text = reply.text + "\n\nYour account will be upgraded for free."
    response = client.post(reverse("drafts:check", args=[reply.pk]), {"text": text})
    html = response.content.decode()
    assert "Unsupported: Cites no source" in html and "not saved yet" in html
    assert Reply.objects.get(pk=reply.pk).text == reply.text


def test_approving_unsupported_text_without_a_reason_keeps_the_text_and_asks(client_for, reply):
    client = client_for(factories.reviewer())
    text = reply.text + "\n\nYour account will be upgraded for free."
    response = _act(client, reply, action="approve", text=text)
    assert response.status_code == 400
    html = response.content.decode()
    assert "say why the reply may go out" in html and "upgraded for free" in html
    assert Reply.objects.get(pk=reply.pk).stage == Reply.Stage.REVIEW


def test_reviewer_approves_then_a_lead_reads_the_diff_and_approves(client_for, reply):
    reviewer_client = client_for(factories.reviewer())
    text = reply.text.replace("Hello Hannah,", "Hello Hannah, thanks for the details.")
    response = _act(reviewer_client, reply, action="approve", text=text)
    assert response.status_code == 302
    reply.refresh_from_db()
    assert reply.stage == Reply.Stage.LEAD
    lead_client = client_for(factories.lead())
    html = lead_client.get(reverse("drafts:review", args=[reply.pk])).content.decode()
    assert "<ins>thanks for the details.</ins>" in html or "<ins>Hannah, thanks" in html
    assert "0 unsupported" in html
    assert _act(lead_client, reply, action="approve").status_code == 302
    reply.refresh_from_db()
    assert reply.stage == Reply.Stage.APPROVED
    html = lead_client.get(reverse("drafts:review", args=[reply.pk])).content.decode()
    assert "AI-assisted; reviewed by" in html and "approved by" in html


def test_a_reviewer_gets_403_on_lead_actions(client_for, reply):
    reviewer = factories.reviewer()
    reply = services.reply_approve(reply=reply, user=factories.reviewer(), version=1)
    client = client_for(reviewer)
    assert _act(client, reply, action="approve").status_code == 403
    assert _act(client, reply, action="return", note="no").status_code == 403
    assert client.post(reverse("drafts:next"), {"stage": "lead"}).status_code == 403
    assert Reply.objects.get(pk=reply.pk).stage == Reply.Stage.LEAD


def test_the_lead_who_edited_sees_why_they_cannot_approve(client_for, reply):
    lead = factories.lead()
    text = reply.text.replace("Hello Hannah,", "Hi Hannah,")
    reply = services.reply_save(reply=reply, user=lead, version=1, text=text)
    reply = services.reply_approve(reply=reply, user=factories.reviewer(), version=reply.version)
    client = client_for(lead)
    html = client.get(reverse("drafts:review", args=[reply.pk])).content.decode()
    assert "four eyes" in html and "Approve for sending" not in html
    response = _act(client, reply, action="approve")
    assert response.status_code == 400 and "four eyes" in response.content.decode()


def test_a_reply_held_by_another_reviewer_is_read_only(client_for, reply):
    holder, other = factories.reviewer(username="ana"), factories.reviewer()
    services.reply_hold(reply=reply, user=holder)
    client = client_for(other)
    html = client.get(reverse("drafts:review", args=[reply.pk])).content.decode()
    assert "ana is working on this reply" in html and 'id="edit-form"' not in html
    response = _act(client, reply, action="approve")
    assert (
        response.status_code == 400 and "ana is working on this reply" in response.content.decode()
    )


def test_saving_over_a_newer_version_shows_both_texts_and_loses_nothing(client_for, reply):
    first, second = client_for(factories.reviewer()), Client()
    second.force_login(factories.reviewer())
    theirs = reply.text.replace("Hello Hannah,", "Dear Hannah,")
    mine = reply.text.replace("Hello Hannah,", "Hi Hannah,")
    assert _act(first, reply, action="save", text=theirs).status_code == 302
    Reply.objects.filter(pk=reply.pk).update(claimed_by=None)
    response = _act(second, reply, action="save", text=mine, version=1)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Edit conflict" in html and "<del>Dear</del>" in html and "<ins>Hi</ins>" in html
    assert f'name="version" value="{reply.version + 1}"' in html  # saving again applies mine
    assert ">Hi Hannah," in html  # my text is back in the editor
    assert Reply.objects.get(pk=reply.pk).text == theirs


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_saves_of_one_version_apply_one_and_refuse_the_other(demo_docs):
    reply = _reply()
    users = [factories.reviewer(), factories.reviewer()]
    texts = [reply.text + f"\n\nThanks, {name}." for name in ("Ana", "Ben")]
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def save(n: int) -> None:
        barrier.wait()
        try:
            services.reply_save(reply=reply, user=users[n], version=1, text=texts[n])
            outcomes.append("saved")
        except services.EditConflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "saved"]
    saved = Reply.objects.get(pk=reply.pk)
    assert saved.version == 2 and saved.text in texts
    assert EditLogEntry.objects.filter(object_id=reply.pk, decision="edit").count() == 1


def test_posts_without_a_csrf_token_are_refused(reply):
    client = Client(enforce_csrf_checks=True)
    client.force_login(factories.reviewer())
    assert _act(client, reply, action="approve").status_code == 403
    assert client.post(reverse("drafts:check", args=[reply.pk]), {"text": "x"}).status_code == 403


def test_ticket_and_reviewer_text_is_escaped(client_for, demo_docs):
    ticket = Ticket.objects.get(external_id="DEMO-1007")
    Ticket.objects.filter(pk=ticket.pk).update(body="<script>alert(1)</script> export fails")
    reply = _reply()
    client = client_for(factories.reviewer())
    text = reply.text + "\n\n<img src=x onerror=alert(2)>"
    _act(client, reply, action="save", text=text)
    html = client.get(reverse("drafts:review", args=[reply.pk])).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html and "&lt;img src=x" in html


def test_flagging_needs_a_reason_and_shows_on_the_queue(client_for, reply):
    client = client_for(factories.reviewer())
    assert _act(client, reply, action="flag", reason="").status_code == 400
    response = _act(client, reply, action="flag", reason="hallucination", note="Made up a limit")
    assert response.status_code == 302
    page = client.get(reverse("drafts:queue"), {"flagged": "1"}).content.decode()
    assert "DEMO-1007" in page and "flagged 1\u00d7" in page


def test_an_overlong_reply_is_refused_with_a_message(client_for, reply, settings):
    settings.DRAFT_REPLY_MAX_CHARS = 500
    response = _act(client_for(factories.reviewer()), reply, action="save", text="x" * 600)
    assert response.status_code == 400 and "at most 500 characters" in response.content.decode()


def test_the_ticket_page_says_where_the_reply_is_and_links_to_its_review(client_for, reply):
    client = client_for(factories.reviewer())
    html = client.get(reverse("tickets:detail", args=[reply.ticket_id])).content.decode()
    assert "Awaiting review" in html
    assert f'href="{reverse("drafts:review", args=[reply.pk])}">Review this reply' in html
    services.reply_approve(reply=reply, user=factories.reviewer(username="rob"), version=1)
    reply.refresh_from_db()
    services.reply_approve(reply=reply, user=factories.lead(username="lee"), version=reply.version)
    html = client.get(reverse("tickets:detail", args=[reply.ticket_id])).content.decode()
    assert "AI-assisted; reviewed by rob; approved by lee" in html


def test_a_reviewer_reading_a_reply_that_waits_for_a_lead_does_not_hold_it(client_for, reply):
    reply = services.reply_approve(reply=reply, user=factories.reviewer(), version=1)
    html = client_for(factories.reviewer()).get(reverse("drafts:review", args=[reply.pk]))
    assert "a support lead gives the final approval" in html.content.decode()
    assert Reply.objects.get(pk=reply.pk).claimed_by is None
    assert services.reply_hold(reply=reply, user=factories.lead())


def test_leaving_the_review_screen_lets_go_of_the_reply(client_for, reply):
    client = client_for(factories.reviewer())
    html = client.get(reverse("drafts:review", args=[reply.pk])).content.decode()
    release = reverse("drafts:release", args=[reply.pk])
    assert f'data-release-url="{release}"' in html
    assert Reply.objects.get(pk=reply.pk).claimed_by is not None
    assert client.post(release).status_code == 204
    assert Reply.objects.get(pk=reply.pk).claimed_by is None


def test_a_source_shows_the_section_its_sentence_sits_under(client_for, reply):
    html = client_for(factories.reviewer()).get(reverse("drafts:review", args=[reply.pk]))
    html = html.content.decode()
    assert "\u203a Audit log export fails with E5003" in html
    assert "## " not in html.split('id="sources-title"')[1]  # passages read without Markdown


def test_the_dashboard_counts_a_reply_approved_in_two_stages_once(client_for, reply):
    reply = services.reply_approve(reply=reply, user=factories.reviewer(), version=1)
    services.reply_approve(reply=reply, user=factories.lead(), version=reply.version)
    body = client_for(factories.lead()).get(reverse("oversight:dashboard")).content.decode()
    assert "Sent to a lead by reviewers</dt><dd>1</dd>" in body
    assert "Approved as the AI wrote them</dt><dd>1</dd>" in body
    assert "Approved after edits</dt><dd>0</dd>" in body
