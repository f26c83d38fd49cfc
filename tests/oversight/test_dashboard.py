"""The leads' dashboard: role check, figures aggregated by the database, filters, the draft
section left honest while there are no draft replies, charts drawn by a local plotly.js."""

import datetime as dt
import json
import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.llm.models import LLMCall
from apps.oversight.services import Area, Decision, decision_record
from apps.synthetic import services
from tests import factories

pytestmark = pytest.mark.django_db
URL = reverse("oversight:dashboard")


def _figure(body: str, name: str) -> str:
    return re.search(rf'data-figure-value="{name}">([^<]*)<', body).group(1).strip()


def _reviewed(n: int = 3, *, names=("alice", "bob")):
    """n pairs: the first approved as written, the second edited, the rest rejected."""
    pairs = factories.qa_pairs(n)
    line = factories.ProductLineFactory(name="Skylark Pro")
    for pair in pairs:
        pair.product_line = line
        pair.save(update_fields=["product_line"])
    alice, bob = (factories.reviewer(username=name) for name in names)
    services.pair_approve(pair=pairs[0], user=alice, version=1)
    services.pair_approve(pair=pairs[1], user=bob, answer="Thirty days on Pro.", version=1)
    for pair in pairs[2:]:
        services.pair_reject(pair=pair, user=alice, reason="not_in_docs", version=1)
    return alice, bob


def test_reviewers_get_403_and_anonymous_users_the_login(client):
    assert client.get(URL).status_code == 302
    client.force_login(factories.reviewer())
    for name in ("dashboard", "log"):
        assert client.get(reverse(f"oversight:{name}")).status_code == 403
    assert client.get(reverse("oversight:export", args=["csv"])).status_code == 403


def test_a_lead_sees_the_review_figures(client):
    _reviewed(4)
    client.force_login(factories.lead())
    body = client.get(URL).content.decode()
    assert _figure(body, "qa-decisions") == "4"
    assert _figure(body, "qa-approved-unedited") == "1"
    assert _figure(body, "qa-approved-edited") == "1"
    assert _figure(body, "qa-rejected") == "2"
    assert _figure(body, "qa-approval-rate") == "50%"
    assert "Not in the docs" in body and "alice" in body and "bob" in body


def test_filters_narrow_the_figures(client):
    alice, _bob = _reviewed(4)
    client.force_login(factories.lead())
    body = client.get(URL, {"editor": alice.pk}).content.decode()
    assert _figure(body, "qa-decisions") == "3"  # one approval, two rejections
    body = client.get(URL, {"product_line": "Skylark Pro"}).content.decode()
    assert _figure(body, "qa-decisions") == "4"
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    body = client.get(URL, {"start": tomorrow, "end": tomorrow}).content.decode()
    assert "No Q&amp;A decisions in this range" in body


def test_a_bad_range_is_reported_and_the_default_range_shown(client):
    _reviewed(2)
    client.force_login(factories.lead())
    body = client.get(URL, {"start": "2026-05-02", "end": "2026-05-01"}).content.decode()
    assert "The range starts after it ends." in body
    assert _figure(body, "qa-decisions") == "2"
    body = client.get(URL, {"start": "not a date"}).content.decode()
    assert "Enter a valid date." in body


def test_the_draft_section_says_there_are_no_draft_replies_yet(client):
    _reviewed(2)
    client.force_login(factories.lead())
    body = client.get(URL).content.decode()
    assert 'id="no-drafts"' in body and "No draft replies yet" in body


def test_draft_decisions_fill_the_draft_section(client):
    now = timezone.now()
    with transaction.atomic():
        decision_record(
            area=Area.DRAFT,
            object_type="drafts.draft",
            object_id=1,
            object_version=1,
            decision=Decision.APPROVE,
            editor=factories.reviewer(),
            before={"text": "Hello. Pro keeps 30 days."},
            after={"text": "Hello. Pro keeps 30 days."},
            requested_at=now - dt.timedelta(hours=2),
            ai_created_at=now - dt.timedelta(hours=1),
            details={
                "sentences": 4,
                "unsupported": 1,
                "approved_sentences": 4,
                "approved_unsupported": 0,
            },
        )
    client.force_login(factories.lead())
    body = client.get(URL).content.decode()
    assert "No draft replies yet" not in body
    assert "Approved as the AI wrote them</dt><dd>1</dd>" in body
    assert "Unsupported sentences, AI drafts</dt><dd>25%</dd>" in body
    assert "Unsupported sentences, approved replies</dt><dd>0%</dd>" in body
    assert "Median time, ticket → draft</dt><dd>1.0 h</dd>" in body


def test_llm_calls_show_latency_and_validity(client):
    for ms, first_try in ((100, True), (300, False), (900, True)):
        LLMCall.objects.create(
            purpose="qa_pair",
            backend="fake",
            model="gemma",
            schema_name="QA",
            total_ms=ms,
            first_try_valid=first_try,
            valid=True,
            ms_per_output_token=10,
        )
    client.force_login(factories.lead())
    body = client.get(URL).content.decode()
    row = re.search(r"<td>gemma</td>.*?</tr>", body, re.S).group(0)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    assert cells[2:] == ["3", "67%", "100%", "300", "900", "10.0"]
    assert 'id="llm-latency"' in body


def test_the_page_makes_the_same_number_of_queries_for_few_or_many_entries(client):
    client.force_login(factories.lead())
    _reviewed(3)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    _reviewed(12, names=("carol", "dave"))
    with CaptureQueriesContext(connection) as many:
        client.get(URL)
    assert len(many) == len(few)


def test_charts_are_plotly_figures_drawn_by_the_local_plotly_js(client):
    _reviewed(3)
    client.force_login(factories.lead())
    body = client.get(URL).content.decode()
    scripts = re.findall(r'<script src="([^"]+)"', body)
    assert all(src.startswith("/") for src in scripts)  # nothing from a CDN
    plotly_url = next(src for src in scripts if "plotly" in src)
    trend = json.loads(
        re.search(r'id="qa-trend-data" type="application/json">(.*?)</script>', body).group(1)
    )
    assert {trace["name"] for trace in trend["data"]} == {
        "Approved as written",
        "Approved after edits",
        "Rejected",
    }
    script = client.get(plotly_url)
    assert script.status_code == 200 and script["Content-Type"] == "text/javascript"
    assert b"plotly.js" in b"".join(script.streaming_content)[:2000]


def test_names_in_charts_are_escaped(client):
    (pair,) = factories.qa_pairs(1)
    services.pair_reject(
        pair=pair, user=factories.reviewer(), reason="<b>odd</b>", version=1
    ) if False else None
    with transaction.atomic():
        decision_record(
            area=Area.QA,
            object_type="synthetic.qapair",
            object_id=pair.pk,
            object_version=1,
            decision=Decision.REJECT,
            reason='<a href="javascript:alert(1)">x</a>',
            editor=factories.reviewer(),
        )
    client.force_login(factories.lead())
    body = client.get(URL).content.decode()
    figure = re.search(r'id="qa-reasons-data" type="application/json">(.*?)</script>', body)
    labels = json.loads(figure.group(1))["data"][0]["y"]
    assert labels == ["&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;"]
    assert '<a href="javascript' not in body


def test_one_prompt_version_filters_decisions_and_model_calls_alike(client):
    from apps.llm.models import PromptVersion

    old, new = (
        PromptVersion.objects.create(name="qa_question", content_hash=digest * 16, text="…")
        for digest in ("aaaa", "bbbb")
    )
    for prompt in (old, new, new):
        LLMCall.objects.create(
            purpose="qa_pair",
            backend="fake",
            model="gemma",
            schema_name="QA",
            prompt_version=prompt,
        )
    pairs = factories.qa_pairs(3)
    for pair, prompt in zip(pairs, (old, new, new), strict=True):
        pair.prompt_version = f"qa_question@{prompt.content_hash[:12]}"
        pair.save(update_fields=["prompt_version"])
        services.pair_approve(pair=pair, user=factories.reviewer(), version=1)
    client.force_login(factories.lead())
    body = client.get(URL, {"prompt_version": "qa_question@bbbbbbbbbbbb"}).content.decode()
    assert _figure(body, "qa-decisions") == "2"
    row = re.search(r"<td>gemma</td>.*?</tr>", body, re.S).group(0)
    assert re.findall(r"<td[^>]*>([^<]*)</td>", row)[1:3] == ["qa_question@bbbbbbbbbbbb", "2"]


def test_the_range_menu_shows_the_range_the_figures_cover(client):
    client.force_login(factories.lead())
    page = client.get(URL).content.decode()
    assert '<option value="30" selected>Last 30 days</option>' in page
    page = client.get(URL, {"days": "7"}).content.decode()
    assert '<option value="7" selected>Last 7 days</option>' in page
