"""The retry/validation logic around a backend, with a scripted backend standing in for the
model (the real models are exercised in test_local_model.py and test_http_server.py)."""

import pytest

from apps.llm.backends import BackendError
from apps.llm.models import LLMCall, PromptVersion
from apps.llm.prompts import prompt_render
from apps.llm.schemas import PlanAnswer, Triage, choice_model
from apps.llm.services import structured_generate
from tests.fakes import ScriptedBackend

pytestmark = pytest.mark.django_db


def _prompt():
    return prompt_render("check", sentence="Enterprise keeps 365 days of history.")


def test_a_valid_first_answer_is_returned_and_recorded():
    result = structured_generate(
        purpose="test",
        prompt=_prompt(),
        schema=PlanAnswer,
        backend=ScriptedBackend('{"plan": "Enterprise"}'),
    )
    assert result.value == PlanAnswer(plan="Enterprise")
    call = LLMCall.objects.get()
    assert (call.attempts, call.first_try_valid, call.valid, call.needs_human) == (
        1,
        True,
        True,
        False,
    )
    assert call.result == {"plan": "Enterprise"}
    assert call.ms_per_output_token == pytest.approx(20.0)
    assert call.prompt_version.name == "check"


def test_invalid_output_is_retried_with_the_validation_error_fed_back():
    backend = ScriptedBackend(
        '{"plan": ',
        '{"category": "billing", "urgency": "urgent!!"}',
        '{"category": "billing", "urgency": "high", "product_line": "Pro"}',
    )
    result = structured_generate(
        purpose="test", prompt=prompt_render("triage", message="x"), schema=Triage, backend=backend
    )
    assert result.value.urgency == "high"
    assert len(backend.prompts) == 3
    assert "That JSON was rejected" in backend.prompts[1]
    assert "urgency" in backend.prompts[2]
    call = LLMCall.objects.get()
    assert call.attempts == 3 and call.valid and not call.first_try_valid
    assert call.raw_outputs[0] == '{"plan": '


def test_after_the_last_attempt_the_call_goes_to_a_human_with_every_raw_output_kept():
    result = structured_generate(
        purpose="test",
        prompt=_prompt(),
        schema=PlanAnswer,
        backend=ScriptedBackend("nope", "{}", '{"plan": 5}'),
        max_attempts=3,
    )
    assert result.needs_human and result.value is None
    assert result.raw_outputs == ["nope", "{}", '{"plan": 5}']
    call = LLMCall.objects.get()
    assert call.needs_human and not call.valid and call.raw_outputs == result.raw_outputs
    assert "plan" in call.error


def test_a_backend_failure_never_raises_into_the_caller():
    result = structured_generate(
        purpose="test",
        prompt=_prompt(),
        schema=PlanAnswer,
        backend=ScriptedBackend(BackendError("connection refused")),
    )
    assert result.needs_human
    assert "connection refused" in LLMCall.objects.get().error


def test_constrained_choices_are_enums_in_the_schema():
    model = choice_model("Cite", "sentence_id", ["S1", "S2"])
    assert model.model_json_schema()["properties"]["sentence_id"]["enum"] == ["S1", "S2"]
    result = structured_generate(
        purpose="test",
        prompt=_prompt(),
        schema=model,
        backend=ScriptedBackend('{"sentence_id": "S9"}', '{"sentence_id": "S2"}'),
    )
    assert result.value.sentence_id == "S2"


def test_each_template_version_is_stored_once():
    for _ in range(2):
        structured_generate(
            purpose="test",
            prompt=_prompt(),
            schema=PlanAnswer,
            backend=ScriptedBackend('{"plan": "Pro"}'),
        )
    assert PromptVersion.objects.filter(name="check").count() == 1
    version = PromptVersion.objects.get()
    assert len(version.content_hash) == 64 and "$sentence" in version.text


def test_a_prompt_needs_every_variable():
    with pytest.raises(KeyError):
        prompt_render("triage")
