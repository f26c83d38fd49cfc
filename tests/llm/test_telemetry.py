import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.llm.models import LLMCall, PromptVersion
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
    cells = [c.split("</td>")[0] for c in row.split("<td>")[1:]]
    assert cells[:6] == ["draft", "3", "33.3%", "66.7%", "1", "2.00"]
    assert cells[6:9] == ["300", "900", "12.0"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert(1)" not in body


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
    assert {"check", "triage", "qa_pair"} <= set(prompt_names())
    for version in PromptVersion.objects.all():
        assert version.content_hash in body
