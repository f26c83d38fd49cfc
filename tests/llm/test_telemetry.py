import datetime as dt
import random
import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.core.stats import percentile
from apps.llm.models import LLMCall, PromptVersion
from apps.llm.selectors import telemetry_by_purpose
from tests import factories

pytestmark = pytest.mark.django_db


def _call(purpose, *, valid, attempts, total_ms, per_token, raw="{}"):
    version, _ = PromptVersion.objects.get_or_create(
        name="check", content_hash="h" * 64, defaults={"text": "t"}
    )
    return LLMCall.objects.create(
        purpose=purpose,
        backend="llama.cpp",
        model="m.gguf",
        prompt_version=version,
        schema_name="S",
        attempts=attempts,
        valid=valid,
        first_try_valid=valid and attempts == 1,
        needs_human=not valid,
        total_ms=total_ms,
        ms_per_output_token=per_token,
        raw_outputs=[raw],
        error="" if valid else "plan: field required",
    )


def test_leads_see_latency_and_validity_per_purpose(client):
    _call("draft", valid=True, attempts=1, total_ms=100, per_token=10)
    _call("draft", valid=True, attempts=2, total_ms=300, per_token=12)
    _call(
        "draft",
        valid=False,
        attempts=3,
        total_ms=900,
        per_token=14,
        raw="<script>alert(1)</script>",
    )
    client.force_login(factories.lead())
    body = client.get(reverse("llm:telemetry")).content.decode()
    row = body[body.index("<td>draft</td>") :].split("</tr>")[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert cells[:3] == ["draft", "llama.cpp · m.gguf", "check@hhhhhhhhhh"]
    # calls, valid first try, after retries, passed checks (no checks: —), needs a human
    assert cells[3:9] == ["3", "33.3%", "66.7%", "—", "1", "2.00"]
    assert cells[9:12] == ["300", "900", "12.0"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert(1)" not in body


def _figures(purpose: str) -> dict:
    return next(row for row in telemetry_by_purpose() if row["purpose"] == purpose)


def test_an_even_count_takes_the_median_rank_rounded_to_even():
    # 0-based rank round(0.5 * 3) = round(1.5) = 2 (interpolating would give 25, taking the
    # lower middle 20); six values: round(2.5) = 2, where rounding halves up would give rank 3.
    for ms in (40, 10, 30, 20):
        _call("four", valid=True, attempts=1, total_ms=ms, per_token=None)
    for ms in (6, 1, 5, 2, 4, 3):
        _call("six", valid=True, attempts=1, total_ms=ms, per_token=ms / 10)
    four, six = _figures("four"), _figures("six")
    assert (four["p50_ms"], four["p95_ms"], four["ms_per_token_p50"]) == (30, 40, None)
    assert (six["p50_ms"], six["p95_ms"], six["ms_per_token_p50"]) == (3, 6, 0.3)


def test_p95_of_twenty_calls_is_the_nineteenth_slowest_and_tokens_skip_calls_without_them():
    # round(0.95 * 19) = round(18.05) = 18: the 19th value in order.
    for i in range(1, 21):
        _call(
            "twenty", valid=i % 4 != 0, attempts=1, total_ms=i * 10, per_token=i if i % 2 else None
        )
    row = _figures("twenty")
    assert (row["calls"], row["valid"], row["needs_human"]) == (20, 15, 5)
    assert row["p50_ms"] == 110 and row["p95_ms"] == 190
    # Odd i only: 1, 3, ..., 19; round(0.5 * 9) = round(4.5) = 4, the fifth: 9.
    assert row["ms_per_token_p50"] == 9


def test_the_database_figures_equal_the_python_percentile_helper_for_every_count():
    rng = random.Random(3)
    expected = {}
    for n in range(1, 31):
        totals = [round(rng.uniform(1, 5000), 3) for _ in range(n)]
        per_token = [rng.choice([None, round(rng.uniform(1, 50), 3)]) for _ in range(n)]
        for total, tokens in zip(totals, per_token, strict=True):
            _call(f"n{n:02}", valid=True, attempts=1, total_ms=total, per_token=tokens)
        present = [t for t in per_token if t is not None]
        expected[f"n{n:02}"] = (
            percentile(totals, 0.5),
            percentile(totals, 0.95),
            percentile(present, 0.5),
        )
    rows = {
        r["purpose"]: (r["p50_ms"], r["p95_ms"], r["ms_per_token_p50"])
        for r in telemetry_by_purpose()
    }
    assert rows == expected


def test_telemetry_is_aggregated_in_one_query_that_returns_one_row_per_purpose():
    for i in range(30):
        _call(("draft", "triage")[i % 2], valid=True, attempts=1, total_ms=i, per_token=1)
    with CaptureQueriesContext(connection) as queries:
        rows = telemetry_by_purpose()
    assert [r["purpose"] for r in rows] == ["draft", "triage"]
    assert len(queries) == 1 and "GROUP BY" in queries[0]["sql"]


def test_only_calls_since_the_given_time_are_counted():
    old = _call("draft", valid=False, attempts=3, total_ms=5000, per_token=50)
    LLMCall.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=8))
    _call("draft", valid=True, attempts=1, total_ms=100, per_token=10)
    [row] = telemetry_by_purpose(since=timezone.now() - dt.timedelta(days=7))
    assert (row["calls"], row["needs_human"], row["p95_ms"], row["attempts"]) == (1, 0, 100, 1)


def test_the_needs_human_filter_shows_only_those_calls(client):
    _call("draft", valid=True, attempts=1, total_ms=1, per_token=1, raw="good-output")
    _call("draft", valid=False, attempts=3, total_ms=1, per_token=1, raw="bad-output")
    client.force_login(factories.lead())
    body = client.get(reverse("llm:telemetry"), {"needs_human": "1"}).content.decode()
    assert "bad-output" in body and "good-output" not in body


def test_reviewers_cannot_see_telemetry(client):
    client.force_login(factories.reviewer())
    assert client.get(reverse("llm:telemetry")).status_code == 403


@pytest.mark.slow
def test_llm_check_prints_backend_model_output_and_timings(capsys):
    call_command("llm_check")
    out = capsys.readouterr().out
    assert "backend: llama.cpp" in out and "gemma-3-270m" in out
    assert "ms/token" in out and "tokens/s" in out
    assert "structured (PlanAnswer):" in out
    assert LLMCall.objects.filter(purpose="llm_check").count() == 1


def test_admins_see_every_prompt_template_even_before_its_first_use(client):
    client.force_login(factories.admin())
    body = client.get("/admin/llm/promptversion/").content.decode()
    from apps.llm.prompts import prompt_names

    assert set(PromptVersion.objects.values_list("name", flat=True)) == set(prompt_names())
    assert {"check", "triage", "qa_question"} <= set(prompt_names())
    for version in PromptVersion.objects.all():
        assert version.content_hash in body


def test_a_new_prompt_version_gets_its_own_row_with_validity_and_checks_apart(client):
    old = PromptVersion.objects.create(name="qa_question", content_hash="a" * 64, text="old")
    new = PromptVersion.objects.create(name="qa_question", content_hash="b" * 64, text="new")
    for version, checks in ((old, [False, False, True]), (new, [True, True, None])):
        for passed in checks:
            LLMCall.objects.create(
                purpose="synthetic_qa",
                backend="llama.cpp",
                model="gemma.gguf",
                prompt_version=version,
                schema_name="QuestionDraft",
                attempts=1,
                first_try_valid=True,
                valid=True,
                checks_passed=passed,
                needs_human=passed is False,
                total_ms=100,
            )
    rows = {row["prompt"]: row for row in telemetry_by_purpose()}
    assert set(rows) == {"qa_question@aaaaaaaaaa", "qa_question@bbbbbbbbbb"}
    assert rows["qa_question@aaaaaaaaaa"]["valid_rate"] == 1.0
    assert rows["qa_question@aaaaaaaaaa"]["checks_rate"] == pytest.approx(1 / 3)
    assert rows["qa_question@bbbbbbbbbb"]["checks_rate"] == 1.0  # the call without checks aside
    client.force_login(factories.lead())
    page = client.get(reverse("llm:telemetry")).content.decode()
    assert "Passed checks" in page and "qa_question@bbbbbbbbbb" in page
    # Each figure is explained in a line, and dates stay on one line.
    assert "half of the calls took at most p50 milliseconds" in page
    assert '<td class="nowrap">' in page
