import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.knowledge.models import IngestItem, IngestJob
from apps.synthetic import services
from apps.synthetic.models import QAPair
from tests import factories

pytestmark = pytest.mark.django_db


def _pairs_in(line_name: str, n: int) -> list[QAPair]:
    pairs = factories.qa_pairs(n)
    line = factories.ProductLineFactory(name=line_name)
    QAPair.objects.filter(pk__in=[p.pk for p in pairs]).update(product_line=line)
    return pairs


def _row(page: str, slug: str) -> str:
    found = re.search(rf'<tr data-line="{slug}">.*?</tr>', page, re.S)
    assert found, f"no row for {slug}"
    return found.group(0)


def test_a_reviewers_home_shows_the_pairs_waiting_for_them_by_product_line(client):
    pro = _pairs_in("Pro", 3)
    enterprise = _pairs_in("Enterprise", 2)
    reviewer, other = factories.reviewer(), factories.reviewer()
    services.pair_claim(user=other, filters={"pk": pro[0].pk})  # held by someone else
    services.pair_approve(pair=enterprise[0], user=reviewer)  # reviewed by them already
    QAPair.objects.filter(pk=pro[1].pk).update(status=QAPair.Status.APPROVED)  # not pending
    client.force_login(reviewer)
    page = client.get(reverse("home")).content.decode()
    assert '<strong data-count="waiting">2</strong> Q&amp;A pairs to review' in page
    assert '<td class="num">1</td>' in _row(page, "pro")
    assert '<td class="num">1</td>' in _row(page, "enterprise")
    assert "1 pending pair is held by another reviewer right now" in page
    assert "Knowledge base" not in page  # the lead's view, not the reviewer's work


def test_the_link_on_home_starts_reviewing_that_product_line(client):
    _pairs_in("Pro", 1)
    (enterprise,) = _pairs_in("Enterprise", 1)
    client.force_login(factories.reviewer())
    page = client.get(reverse("home")).content.decode()
    row = _row(page, "enterprise")
    assert f'action="{reverse("synthetic:review_next")}"' in row
    assert 'name="product_line" value="enterprise"' in row
    started = client.post(reverse("synthetic:review_next"), {"product_line": "enterprise"})
    assert started["Location"].startswith(reverse("synthetic:review", args=[enterprise.pk]))


def test_with_nothing_waiting_the_home_says_so(client):
    client.force_login(factories.reviewer())
    page = client.get(reverse("home")).content.decode()
    assert "No Q&amp;A pair is waiting for you" in page and "Start reviewing" not in page


def test_the_home_counts_in_the_database_whatever_the_number_of_lines_and_jobs(client):
    lead = factories.lead()
    client.force_login(lead)
    _pairs_in("Pro", 2)
    IngestJob.objects.create(status=IngestJob.Status.DONE)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("home"))
    for name in ("Enterprise", "Free", "Team"):
        _pairs_in(name, 3)
    for _ in range(4):
        IngestJob.objects.create(status=IngestJob.Status.FAILED)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("home"))
    assert len(many) == len(few)


def test_a_leads_home_lists_ingest_jobs_with_their_real_status_and_counts(client):
    partial = IngestJob.objects.create(status=IngestJob.Status.PARTIAL)
    IngestItem.objects.create(job=partial, name="a.md", status=IngestItem.Status.DONE)
    IngestItem.objects.create(job=partial, name="b.md", status=IngestItem.Status.FAILED)
    IngestJob.objects.create(status=IngestJob.Status.FAILED)
    IngestJob.objects.create(status=IngestJob.Status.DONE)
    IngestJob.objects.create(status=IngestJob.Status.DONE)
    stalled = IngestJob.objects.create(status=IngestJob.Status.RUNNING)
    IngestJob.objects.filter(pk=stalled.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(hours=1)
    )
    client.force_login(factories.lead())
    page = client.get(reverse("home")).content.decode()
    assert 'data-status="done">Done: 2</span>' in page
    assert 'data-status="partial">Done with failures: 1</span>' in page
    assert 'data-status="failed">Failed: 1</span>' in page
    assert 'data-status="stale">Stalled: 1</span>' in page
    job = re.search(rf"Job {partial.pk}</a>.*?</li>", page, re.S).group(0)
    assert "Done with failures" in job and "2 files" in job and "1 failed" in job


def test_a_reviewer_does_not_see_the_ingest_jobs(client):
    IngestJob.objects.create(status=IngestJob.Status.FAILED)
    client.force_login(factories.reviewer())
    assert "Ingest jobs" not in client.get(reverse("home")).content.decode()


def test_home_tells_a_reviewer_how_many_tickets_have_a_draft_to_review(client):
    from apps.tickets.models import Ticket

    statuses = ["awaiting_review", "awaiting_review", "awaiting_lead", "escalated", "drafting"]
    for n, status in enumerate(statuses):
        Ticket.objects.create(external_id=f"T-{n}", body="Help", source="web", status=status)
    client.force_login(factories.reviewer())
    page = client.get(reverse("home")).content.decode()
    assert re.search(r'data-count="tickets">2</strong> tickets with a draft reply to review', page)
    assert "1 escalated to a person" in page and "1 being drafted" in page
    assert "1 awaiting a lead's approval" in page
    # Each figure opens the reply queue at its stage.
    assert f'href="{reverse("drafts:queue")}?stage=lead"' in page


def test_home_tells_a_lead_when_a_webhook_delivery_failed(client):
    from apps.delivery.models import Delivery
    from apps.tickets.services import api_client_create
    from tests.delivery.conftest import reply_for, ticket_for

    helpdesk, _ = api_client_create(name="Bridge")
    reply = reply_for(ticket_for(helpdesk))
    client.force_login(factories.lead())
    assert "deliveries-attention" not in client.get(reverse("home")).content.decode()
    Delivery.objects.create(
        reply=reply,
        ticket=reply.ticket,
        api_client=helpdesk,
        event=Delivery.Event.REPLY_APPROVED,
        body="{}",
        status=Delivery.Status.FAILED,
    )
    page = client.get(reverse("home")).content.decode()
    assert "1 webhook delivery failed" in page
    assert f'href="{reverse("delivery:list")}?status=failed"' in page
