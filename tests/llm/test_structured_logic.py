"""The retry/validation logic around a backend, with a scripted backend standing in for the
model (the real models are exercised in test_local_model.py and test_http_server.py)."""

import pytest

from apps.llm.backends import BackendError, BackendUnavailable
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


class _RecordingBackend(ScriptedBackend):
    """Also notes how each attempt asked to be decoded."""

    def __init__(self, *outputs):
        super().__init__(*outputs)
        self.sampling: list[dict] = []

    def complete(self, prompt, *, json_schema=None, max_tokens=256, **sampling):
        self.sampling.append(sampling)
        return super().complete(prompt, json_schema=json_schema, max_tokens=max_tokens)


def test_the_first_try_is_greedy_and_each_retry_samples_with_its_own_seed(settings):
    settings.LLM_TEMPERATURE, settings.LLM_RETRY_TEMPERATURE = 0.0, 0.7
    backend = _RecordingBackend("{", "{", '{"plan": "Pro"}')
    structured_generate(purpose="test", prompt=_prompt(), schema=PlanAnswer, backend=backend)
    assert backend.sampling == [
        {"temperature": 0.0, "seed": 0},
        {"temperature": 0.7, "seed": 1},
        {"temperature": 0.7, "seed": 2},
    ]


def test_a_failed_check_is_retried_with_its_reasons_and_recorded_apart_from_validity():
    backend = ScriptedBackend('{"plan": "S1"}', '{"plan": "Enterprise"}')

    def no_ids(value):
        return ["the plan is a sentence id"] if value.plan.startswith("S") else []

    result = structured_generate(
        purpose="test", prompt=_prompt(), schema=PlanAnswer, backend=backend, check=no_ids
    )
    assert result.value == PlanAnswer(plan="Enterprise")
    assert "checks: the plan is a sentence id" in backend.prompts[1]
    call = LLMCall.objects.get()
    assert (call.first_try_valid, call.valid, call.checks_passed, call.needs_human) == (
        True,
        True,
        True,
        False,
    )


def test_output_the_checks_keep_refusing_is_returned_as_refused_with_the_reasons():
    backend = ScriptedBackend(when_empty='{"plan": "S1"}')
    result = structured_generate(
        purpose="test",
        prompt=_prompt(),
        schema=PlanAnswer,
        backend=backend,
        check=lambda value: ["the plan is a sentence id"],
        max_attempts=2,
    )
    assert result.value is None and result.needs_human
    assert result.refused == PlanAnswer(plan="S1")
    assert result.problems == ["the plan is a sentence id"]
    call = LLMCall.objects.get()
    assert (call.valid, call.checks_passed, call.needs_human, call.attempts) == (
        True,
        False,
        True,
        2,
    )
    assert call.result == {"plan": "S1"}


def test_a_retry_can_use_a_reformulated_prompt():
    backend = ScriptedBackend("{", '{"plan": "Pro"}')
    other = prompt_render("check", sentence="Pro keeps 30 days of history.")
    structured_generate(
        purpose="test",
        prompt=_prompt(),
        schema=PlanAnswer,
        backend=backend,
        retry_prompt=lambda attempt: other,
    )
    assert backend.prompts[1] == other.text


def test_an_unreachable_backend_is_told_apart_from_a_refused_request():
    down = structured_generate(
        purpose="test",
        prompt=_prompt(),
        schema=PlanAnswer,
        backend=ScriptedBackend(BackendUnavailable("connection refused")),
    )
    refused = structured_generate(
        purpose="test",
        prompt=_prompt(),
        schema=PlanAnswer,
        backend=ScriptedBackend(BackendError("The prompt leaves no room to answer.")),
    )
    assert down.backend_failed and down.raw_outputs == []
    assert not refused.backend_failed and refused.needs_human
