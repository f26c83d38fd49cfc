"""The in-process backend with the real packaged GGUF."""

import json

import pytest
from llama_cpp import LlamaGrammar
from pydantic import BaseModel, ConfigDict, model_validator

from apps.llm.backends import _gbnf_for
from apps.llm.models import LLMCall
from apps.llm.prompts import prompt_render
from apps.llm.schemas import PlanAnswer, Triage, choice_model
from apps.llm.services import structured_generate

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def test_a_structured_call_returns_a_valid_object(local_backend):
    prompt = prompt_render("check", sentence="Enterprise keeps 365 days of history.")
    result = structured_generate(
        purpose="test", prompt=prompt, schema=PlanAnswer, backend=local_backend, max_tokens=24
    )
    assert isinstance(result.value, PlanAnswer)
    call = LLMCall.objects.get()
    assert call.backend == "llama.cpp" and call.model.endswith(".gguf")
    assert call.completion_tokens > 0 and call.time_to_first_token_ms > 0


def test_enum_fields_can_only_take_their_values(local_backend):
    prompt = prompt_render(
        "triage",
        message="The desktop app says ERR_SYNC_TIMEOUT on every "
        "upload since Monday. We are on the Pro plan.",
    )
    result = structured_generate(
        purpose="test", prompt=prompt, schema=Triage, backend=local_backend, max_tokens=48
    )
    assert result.value is not None
    assert result.value.category in {"billing", "sign_in", "sync", "storage", "other"}


def test_only_given_ids_can_be_produced(local_backend):
    cite = choice_model("Cite", "sentence_id", ["S3", "S7", "S12"])
    prompt = prompt_render("check", sentence="Pick one.")
    for _ in range(2):
        completion = local_backend.complete(
            prompt.text, json_schema=cite.model_json_schema(), max_tokens=16
        )
        assert json.loads(completion.text)["sentence_id"] in {"S3", "S7", "S12"}


def test_fast_grammar_decoding_matches_llama_cpp_full_vocabulary_decoding(local_backend):
    """The shortcut (check the model's best tokens first) must change speed, not output."""
    prompt = prompt_render("triage", message="I cannot log in, it says E1042.").text
    schema = Triage.model_json_schema()
    ours = local_backend.complete(prompt, json_schema=schema, max_tokens=48).text
    raw = local_backend.llm.create_completion(
        prompt,
        max_tokens=48,
        temperature=0.0,
        repeat_penalty=1.0,
        grammar=LlamaGrammar.from_string(
            _gbnf_for(json.dumps(schema, sort_keys=True)), verbose=False
        ),
    )["choices"][0]["text"]
    assert ours == raw


class QuotedAnswer(BaseModel):
    """A rule no grammar can express: the quote must appear verbatim in the source."""

    model_config = ConfigDict(extra="forbid")
    answer: str
    quote: str

    @model_validator(mode="after")
    def quote_is_verbatim(self):
        source = "Enterprise workspaces keep 365 days of version history for every file."
        if self.quote.strip() not in source or len(self.quote.strip()) < 20:
            raise ValueError("quote must be copied verbatim from the source sentence")
        return self


def test_output_that_keeps_failing_validation_goes_to_a_human_with_nothing_lost(local_backend):
    prompt = prompt_render("check", sentence="Enterprise keeps 365 days. Quote it in 'quote'.")
    result = structured_generate(
        purpose="test-hard",
        prompt=prompt,
        schema=QuotedAnswer,
        backend=local_backend,
        max_attempts=3,
        max_tokens=40,
    )
    call = LLMCall.objects.get()
    assert result.needs_human and result.value is None
    assert call.attempts == 3 and call.needs_human and not call.valid
    assert call.raw_outputs == result.raw_outputs and all(result.raw_outputs)
    assert all(json.loads(raw).keys() == {"answer", "quote"} for raw in call.raw_outputs)
    assert "verbatim" in call.error


def test_sampled_decoding_is_reproducible_per_seed_and_can_differ_from_greedy(local_backend):
    """A retry must be able to say something else: greedy decoding of the same prompt repeats
    itself, seeded sampling does not (and the same seed gives the same text again)."""
    prompt = prompt_render("triage", message="My invoice is wrong and I cannot sign in.").text
    schema = Triage.model_json_schema()
    greedy = {local_backend.complete(prompt, json_schema=schema, max_tokens=48).text for _ in "ab"}
    sampled = [
        local_backend.complete(
            prompt, json_schema=schema, max_tokens=48, temperature=1.0, seed=seed
        ).text
        for seed in (1, 2, 3, 4, 1)
    ]
    assert len(greedy) == 1
    assert sampled[0] == sampled[4]
    assert len(set(sampled) | greedy) > 1
    assert all(Triage.model_validate_json(text) for text in sampled)
