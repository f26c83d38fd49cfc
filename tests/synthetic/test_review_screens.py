import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.oversight.models import EditLogEntry
from apps.synthetic import services
from apps.synthetic.models import GenerationRun, QAPair, Review
from tests import factories

pytestmark = pytest.mark.django_db


HX = {"HX-Request": "true"}


def test_two_reviewers_are_never_given_the_same_pair_and_claims_expire():
    first, second, _ = factories.qa_pairs()
    alice, bob = factories.reviewer(), factories.reviewer()
    assert services.pair_claim(user=alice) == first
    assert services.pair_claim(user=bob) == second
    assert services.pair_claim(user=alice) == first  # still hers
    QAPair.objects.filter(pk=first.pk).update(claimed_until=timezone.now() - dt.timedelta(1))
    assert services.pair_claim(user=factories.reviewer()) == first


def test_approving_swaps_in_the_next_pair_without_a_page_load(client):
    first, second, _ = factories.qa_pairs()
    client.force_login(factories.reviewer())
    page = client.post(reverse("synthetic:review_next"), {"run": first.run_id}, headers=HX)
    assert f"Pair {first.pk}" in page.content.decode()
    response = client.post(
        reverse("synthetic:review_act", args=[first.pk]),
        {"action": "approve", "run": first.run_id, "version": first.version},
        headers=HX,
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert f"Pair {second.pk}" in body and 'hx-swap-oob="true"' in body
    assert response["HX-Push-Url"].startswith(reverse("synthetic:review", args=[second.pk]))
    first.refresh_from_db()
    assert first.status == QAPair.Status.APPROVED and first.claimed_by is None


def test_editing_then_approving_logs_each_change(client):
    (pair,) = factories.qa_pairs(1)
    reviewer = factories.reviewer()
    client.force_login(reviewer)
    response = client.post(
        reverse("synthetic:review_act", args=[pair.pk]),
        {
            "action": "edit",
            "question": pair.question,
            "answer": "Thirty days on the Pro plan.",
            "quote": pair.quote,
            "note": "clearer",
            "version": pair.version,
        },
        headers=HX,
    )
    assert f"Pair {pair.pk}: edited and approved." in response.content.decode()
    pair.refresh_from_db()
    assert pair.status == QAPair.Status.APPROVED and pair.answer == "Thirty days on the Pro plan."
    entry = EditLogEntry.objects.get()
    assert (entry.decision, entry.edited, entry.changed_fields) == ("approve", True, ["answer"])
    assert (entry.before["answer"], entry.editor, entry.note) == (
        "30 days on Pro.",
        reviewer,
        "clearer",
    )
    assert Review.objects.get().edited


def test_rejecting_needs_a_reason(client):
    (pair,) = factories.qa_pairs(1)
    client.force_login(factories.reviewer())
    refused = client.post(
        reverse("synthetic:review_act", args=[pair.pk]),
        {"action": "reject", "version": pair.version},
        headers=HX,
    )
    assert refused.status_code == 200 and "Choose why" in refused.content.decode()
    client.post(
        reverse("synthetic:review_act", args=[pair.pk]),
        {"action": "reject", "reason": "not_in_docs", "version": pair.version},
        headers=HX,
    )
    pair.refresh_from_db()
    assert pair.status == QAPair.Status.REJECTED
    assert Review.objects.get().reason == "not_in_docs"


def test_an_unverified_quote_must_be_fixed_before_approval(client):
    (pair,) = factories.qa_pairs(1, verified=False)
    QAPair.objects.filter(pk=pair.pk).update(quote="Pro keeps 60 days.")
    client.force_login(factories.reviewer())
    url = reverse("synthetic:review_act", args=[pair.pk])
    refused = client.post(url, {"action": "approve", "version": pair.version}, headers=HX)
    assert refused.status_code == 200 and "not word for word" in refused.content.decode()
    fixed = {
        "action": "edit",
        "question": pair.question,
        "answer": pair.answer,
        "quote": "Pro keeps 30 days\n of version history.",
        "version": pair.version,
    }
    client.post(url, fixed, headers=HX)
    pair.refresh_from_db()
    assert pair.status == QAPair.Status.APPROVED and pair.verified


def test_two_approvals_need_two_different_reviewers_and_agreement_is_measured(client):
    from apps.synthetic.selectors import reviewer_agreement

    first, second = factories.qa_pairs(2, required_approvals=2)
    alice, bob = factories.reviewer(), factories.reviewer()
    services.pair_approve(pair=first, user=alice)
    first.refresh_from_db()
    assert first.status == QAPair.Status.PENDING
    with pytest.raises(services.ReviewError, match="already reviewed"):
        services.pair_approve(pair=first, user=alice)
    assert services.pair_claim(user=alice) == second  # her queue skips what she reviewed
    services.pair_approve(pair=first, user=bob)
    first.refresh_from_db()
    assert first.status == QAPair.Status.APPROVED
    services.pair_approve(pair=second, user=alice)
    services.pair_reject(pair=second, user=bob, reason="wrong")
    assert reviewer_agreement(run=first.run) == {"pairs": 2, "agreed": 1, "rate": 0.5}


def test_leads_start_runs_watch_them_and_download_exports(client, monkeypatch):
    queued = []
    monkeypatch.setattr("apps.synthetic.tasks.generation_run_execute.delay", queued.append)
    client.force_login(factories.lead())
    line = factories.ProductLineFactory(name="Pro", slug="pro")
    factories.chunk(line)
    with_commit = client.post(
        reverse("synthetic:runs"),
        {
            "product_lines": [line.pk],
            "kinds": ["limits", "how_to"],
            "chunk_limit": 5,
            "per_chunk": 1,
            "required_approvals": 2,
            "seed": 0,
        },
    )
    run = GenerationRun.objects.get()
    assert with_commit["Location"] == reverse("synthetic:run_detail", args=[run.pk])
    assert run.required_approvals == 2 and list(run.product_lines.all()) == [line]
    refused = client.post(
        reverse("synthetic:runs"),
        {
            "kinds": ["limits"],
            "chunk_limit": 5,
            "per_chunk": 1,
            "required_approvals": 1,
            "seed": 0,
            "document_titles": "no such title anywhere",
        },
    )
    assert "No document title contains" in refused.content.decode()
    polling = client.get(reverse("synthetic:run_detail", args=[run.pk]), headers=HX)
    assert 'hx-trigger="every 2s"' in polling.content.decode()
    (pair,) = factories.qa_pairs(1)
    services.pair_approve(pair=pair, user=factories.reviewer())
    client.post(reverse("synthetic:exports"), {"format": "chat", "val_fraction": 0, "seed": 0})
    from apps.synthetic.models import FinetuneExport

    export = FinetuneExport.objects.get()
    download = client.get(reverse("synthetic:export_download", args=[export.pk, "train"]))
    assert json.loads(download.content.decode().splitlines()[0])["messages"][1]["content"] == (
        pair.question
    )
    assert "attachment" in download["Content-Disposition"]


def _next(client, current, direction="next", **filters):
    return client.post(
        reverse("synthetic:review_next"),
        {"current": current.pk, "direction": direction, **filters},
        headers=HX,
    )


def test_past_the_last_pending_pair_the_queue_wraps_around_and_says_so(client):
    pairs = factories.qa_pairs(5)
    client.force_login(factories.reviewer())
    wrapped = _next(client, pairs[-1]).content.decode()
    assert f"Pair {pairs[0].pk}" in wrapped and "All done" not in wrapped
    assert "back to the first pending pair. 5 pairs left for you" in wrapped
    backwards = _next(client, pairs[0], "previous").content.decode()
    assert f"Pair {pairs[-1].pk}" in backwards and "back to the last pending pair" in backwards


def test_approving_the_last_pair_wraps_to_the_pairs_skipped_earlier(client):
    first, _second, third = factories.qa_pairs(3)
    client.force_login(factories.reviewer())
    response = client.post(
        reverse("synthetic:review_act", args=[third.pk]),
        {"action": "approve", "version": third.version},
        headers=HX,
    )
    body = response.content.decode()
    assert f"Pair {first.pk}" in body and "2 pairs left for you" in body


def test_the_only_pending_pair_left_is_shown_again_not_all_done(client):
    (pair,) = factories.qa_pairs(1)
    client.force_login(factories.reviewer())
    body = _next(client, pair).content.decode()
    assert f"Pair {pair.pk}" in body and "the only pair left for you" in body


def test_all_done_only_when_nothing_is_left_for_this_reviewer_and_says_what_waits_elsewhere(
    client,
):
    first, second = factories.qa_pairs(2)
    other_run = factories.qa_pairs(1)[0]
    alice, bob = factories.reviewer(), factories.reviewer()
    assert services.pair_claim(user=bob, filters={"run_id": first.run_id}) == first
    client.force_login(alice)
    services.pair_approve(pair=second, user=alice)
    body = _next(client, second, run=first.run_id).content.decode()
    assert "All done" in body
    assert "1 pending pair is held by another reviewer right now" in body
    assert "1 more waits for you outside these filters" in body
    assert f"Pair {other_run.pk}" not in body
