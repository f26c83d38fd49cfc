"""What the screens say about pairs the checks refused, chunks with nothing to ask about, and
decisions already taken: the reason in words a reviewer can read without hovering."""

import pytest
from django.urls import reverse

from apps.synthetic import services
from apps.synthetic.models import GenerationRun, QAPair
from tests import factories

pytestmark = pytest.mark.django_db


def _check(name: str, passed: bool, detail: str = "") -> dict:
    return {"name": name, "passed": passed, "detail": detail, "version": 1}


@pytest.fixture
def pairs():
    refused, answered, other = factories.qa_pairs(3)
    QAPair.objects.filter(pk=refused.pk).update(
        status=QAPair.Status.FAILED_CHECKS,
        checks=[
            _check("answerable from the source", True),
            _check("finds its source", False, "source chunk not in the top 5"),
            _check("not a duplicate", False, "same as pair #1"),
        ],
    )
    QAPair.objects.filter(pk=answered.pk).update(
        status=QAPair.Status.FAILED_CHECKS,
        question="",
        answer="",
        quote="",
        checks=[_check("has a sentence to ask about", False, "only code")],
    )
    return {"refused": refused, "nothing": answered, "other": other}


def test_the_queue_names_the_check_a_pair_failed_without_hovering(client, pairs):
    client.force_login(factories.reviewer())
    queue = client.get(reverse("synthetic:queue"), {"status": "failed_checks"})
    body = queue.content.decode()
    assert "failed: finds its source (+1 more)" in body
    assert '<span class="muted small">source chunk not in the top 5</span>' in body


def test_a_chunk_with_nothing_to_ask_about_is_not_shown_as_a_failed_pair(client, pairs):
    client.force_login(factories.reviewer())
    queue = client.get(reverse("synthetic:queue"), {"status": "nothing_to_ask"}).content.decode()
    assert "nothing to ask about</span>" in queue and "failed:" not in queue
    page = client.get(reverse("synthetic:review", args=[pairs["nothing"].pk])).content.decode()
    assert '<span class="badge badge-partial">Nothing to ask about</span>' in page
    assert "Rejected by checks</span>" not in page
    assert "<h3>Answer</h3>" not in page and "<h3>Supporting quote</h3>" not in page


def test_a_pair_whose_quote_supports_it_but_failed_another_check_says_both(client, pairs):
    client.force_login(factories.reviewer())
    page = client.get(reverse("synthetic:review", args=[pairs["refused"].pk])).content.decode()
    assert "supported, but failed another check" in page
    assert "not shown to support the answer" not in page


def test_a_rejected_pairs_page_names_the_reason_chosen(client, pairs):
    lead = factories.lead()
    services.pair_reject(pair=pairs["other"], user=lead, reason="unclear", note="too vague")
    client.force_login(lead)
    page = client.get(reverse("synthetic:review", args=[pairs["other"].pk])).content.decode()
    assert "Rejected as “unclear” by" in page and "too vague" in page


def test_a_run_that_asked_for_more_chunks_than_exist_says_so(client):
    run = GenerationRun.objects.create(
        status=GenerationRun.Status.DONE, chunk_limit=15, total_chunks=10, done_chunks=10
    )
    client.force_login(factories.lead())
    page = client.get(reverse("synthetic:run_detail", args=[run.pk])).content.decode()
    assert "(asked for 15: the chosen documents have only 10)" in page
