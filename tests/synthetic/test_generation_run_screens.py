import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.synthetic.models import GenerationRun, QAPair
from tests import factories

pytestmark = pytest.mark.django_db


def _run_form(**overrides) -> dict:
    return {
        "kinds": ["limits", "error_code"],
        "chunk_limit": 5,
        "per_chunk": 1,
        "required_approvals": 1,
        "seed": 0,
        **overrides,
    }


def _pairs_with_statuses(*statuses) -> GenerationRun:
    pairs = factories.qa_pairs(len(statuses))
    for pair, status in zip(pairs, statuses, strict=True):
        QAPair.objects.filter(pk=pair.pk).update(status=status)
    run = pairs[0].run
    GenerationRun.objects.filter(pk=run.pk).update(kinds=["limits", "error_code"])
    return run


def _row(page: str, run: GenerationRun) -> str:
    return re.search(rf'<tr data-run="{run.pk}">.*?</tr>', page, re.S).group(0)


def test_the_runs_list_shows_kind_labels_and_each_runs_pairs_by_state(client):
    run = _pairs_with_statuses(
        "pending", "pending", "approved", "rejected", "needs_human", "failed_checks"
    )
    client.force_login(factories.lead())
    row = _row(client.get(reverse("synthetic:runs")).content.decode(), run)
    assert "Limits and quotas, Error codes" in row and "error_code" not in row
    cells = re.findall(r'<td class="num">(.*?)</td>', row)
    assert [re.sub(r"<[^>]+>", "", cell) for cell in cells] == ["6", "2", "1", "1", "1"]
    # The pairs the checks refused are one click away, with their reasons.
    assert f"?run={run.pk}&amp;status=failed_checks" in row


def test_the_runs_list_counts_pairs_in_one_grouped_query_whatever_the_number_of_runs(client):
    client.force_login(factories.lead())
    _pairs_with_statuses("pending")
    with CaptureQueriesContext(connection) as one_run:
        client.get(reverse("synthetic:runs"))
    for _ in range(4):
        _pairs_with_statuses("pending", "approved")
    with CaptureQueriesContext(connection) as five_runs:
        client.get(reverse("synthetic:runs"))
    assert len(five_runs) == len(one_run)


def test_the_run_page_shows_kind_labels_and_its_pairs_by_state(client):
    run = _pairs_with_statuses("pending", "approved", "approved", "rejected", "failed_checks")
    client.force_login(factories.lead())
    page = client.get(reverse("synthetic:run_detail", args=[run.pk])).content.decode()
    assert "kinds: Limits and quotas, Error codes ·" in page
    counts = re.search(r'<p class="stat" id="run-counts">(.*?)</p>', page, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", counts) == (
        "5 pairs: 1 pending · 2 approved · 1 rejected by reviewers · 1 rejected by checks"
    )


def test_a_run_on_product_lines_without_documents_is_refused_before_it_starts(client, monkeypatch):
    queued = []
    monkeypatch.setattr("apps.synthetic.tasks.generation_run_execute.delay", queued.append)
    factories.chunk(factories.ProductLineFactory(name="Pro"))
    empty = factories.ProductLineFactory(name="Free")
    client.force_login(factories.lead())
    refused = client.post(reverse("synthetic:runs"), _run_form(product_lines=[empty.pk]))
    body = refused.content.decode()
    assert refused.status_code == 200
    assert "No chunks match: the selected product lines (Free) have no documents yet." in body
    assert not GenerationRun.objects.exists() and queued == []


def test_a_title_filter_outside_the_chosen_product_lines_is_refused_with_the_reason(client):
    pro, enterprise = (factories.ProductLineFactory(name=n) for n in ("Pro", "Enterprise"))
    factories.chunk(pro, title="Pro sync limits")
    factories.chunk(enterprise, title="Enterprise audit")
    client.force_login(factories.lead())
    body = client.post(
        reverse("synthetic:runs"),
        _run_form(product_lines=[enterprise.pk], document_titles="sync limits"),
    ).content.decode()
    assert "no document whose title contains “sync limits” belongs to" in body
    assert not GenerationRun.objects.exists()


def test_an_empty_knowledge_base_is_named_as_the_reason(client):
    client.force_login(factories.lead())
    body = client.post(reverse("synthetic:runs"), _run_form()).content.decode()
    assert "No chunks match: the knowledge base has no documents yet." in body


def test_chunks_without_a_product_line_count_when_no_line_is_chosen(client, monkeypatch):
    monkeypatch.setattr("apps.synthetic.tasks.generation_run_execute.delay", lambda pk: None)
    factories.chunk(None)
    client.force_login(factories.lead())
    started = client.post(reverse("synthetic:runs"), _run_form(), follow=True)
    assert GenerationRun.objects.count() == 1
    assert "it samples 1 of 1 matching chunk." in started.content.decode()
