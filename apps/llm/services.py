"""Structured calls: a Pydantic model in, a validated instance (or a 'needs human' result that
keeps every raw output) out. Never raises for bad model output; every call is recorded."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from pydantic import BaseModel, ValidationError

from apps.llm.backends import BackendError, BackendUnavailable, Completion, backend_get
from apps.llm.models import LLMCall, PromptVersion
from apps.llm.prompts import RenderedPrompt

logger = logging.getLogger(__name__)


# Checks run on a schema-valid object; each returns what is wrong with it ("" when nothing).
Check = Callable[[BaseModel], list[str]]


@dataclass
class StructuredResult:
    value: BaseModel | None  # valid against the schema and passed the checks
    call: LLMCall
    raw_outputs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # The last schema-valid object the checks refused, and why: kept for the record.
    refused: BaseModel | None = None
    problems: list[str] = field(default_factory=list)
    backend_failed: bool = False

    @property
    def needs_human(self) -> bool:
        return self.value is None


def attempt_sampling(attempt: int) -> dict:
    """The first try decodes as configured (greedy by default); a retry samples with a seeded
    temperature, since greedy decoding of a near-identical prompt repeats the same output."""
    if attempt == 0:
        return {"temperature": settings.LLM_TEMPERATURE, "seed": 0}
    return {"temperature": max(settings.LLM_RETRY_TEMPERATURE, 0.01), "seed": attempt}


def _retry_prompt(prompt: str, raw: str, error: str) -> str:
    """The first prompt plus what went wrong, so the model can correct itself."""
    return (
        f"{prompt}{raw}\n\nThat JSON was rejected: {error}\nWrite the corrected JSON only.\nJSON: "
    )


def _validate(schema: type[BaseModel], raw: str) -> tuple[BaseModel | None, str]:
    try:
        return schema.model_validate_json(raw.strip()), ""
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'output'}: {e['msg']}" for e in exc.errors()
        )
        return None, problems[:500]


def structured_generate(
    *,
    purpose: str,
    prompt: RenderedPrompt,
    schema: type[BaseModel],
    max_attempts: int | None = None,
    max_tokens: int = 256,
    backend=None,
    check: Check | None = None,
    retry_prompt: Callable[[int], RenderedPrompt] | None = None,
) -> StructuredResult:
    """Generate, validate against `schema`, run `check`; retry what fails with the error fed
    back (or with `retry_prompt(attempt)`, a reformulated prompt instead) and a sampled
    decode."""
    backend = backend or backend_get()
    attempts = max_attempts or settings.LLM_MAX_ATTEMPTS
    json_schema = schema.model_json_schema()
    outcome = _Attempts()
    text = prompt.text
    for attempt in range(attempts):
        try:
            completion = backend.complete(
                text, json_schema=json_schema, max_tokens=max_tokens, **attempt_sampling(attempt)
            )
        except BackendError as exc:
            outcome.errors.append(f"backend: {exc}")
            outcome.backend_failed = isinstance(exc, BackendUnavailable)
            break
        error = outcome.judge(schema, completion, check)
        if not error:
            break
        # A reformulated prompt replaces the first one (a base model continues patterns and
        # does not read corrections); otherwise the error is fed back for the model to fix.
        if retry_prompt:
            text = retry_prompt(attempt + 1).text
        else:
            text = _retry_prompt(prompt.text, completion.text, error)
    call = llm_call_record(
        purpose=purpose,
        prompt=prompt,
        schema=schema,
        backend=backend,
        completions=outcome.completions,
        raws=outcome.raws,
        errors=outcome.errors,
        value=outcome.value,
        schema_valid=outcome.schema_valid,
        first_try_schema_valid=outcome.first_try_schema_valid,
        checks_passed=None if check is None or not outcome.schema_valid else outcome.passed,
    )
    return StructuredResult(
        value=outcome.value if outcome.passed else None,
        call=call,
        raw_outputs=outcome.raws,
        errors=outcome.errors,
        refused=None if outcome.passed else outcome.value,
        problems=outcome.problems,
        backend_failed=outcome.backend_failed,
    )


@dataclass
class _Attempts:
    """What the tries of one structured call produced so far."""

    completions: list[Completion] = field(default_factory=list)
    raws: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    value: BaseModel | None = None
    passed: bool = False
    problems: list[str] = field(default_factory=list)
    schema_valid: bool = False
    first_try_schema_valid: bool = False
    backend_failed: bool = False

    def judge(self, schema: type[BaseModel], completion: Completion, check: Check | None) -> str:
        """'' when this attempt is accepted, else the error to feed back."""
        self.completions.append(completion)
        self.raws.append(completion.text)
        value, error = _validate(schema, completion.text)
        if value is None:
            self.errors.append(error)
            return error
        self.first_try_schema_valid |= len(self.completions) == 1
        self.schema_valid, self.value = True, value
        self.problems = [p for p in (check(value) if check else []) if p]
        self.passed = not self.problems
        if self.passed:
            return ""
        error = "checks: " + "; ".join(self.problems)
        self.errors.append(error)
        return error


def llm_call_record(
    *,
    purpose: str,
    prompt: RenderedPrompt,
    schema: type[BaseModel],
    backend,
    completions: list[Completion],
    raws: list[str],
    errors: list[str],
    value: BaseModel | None,
    schema_valid: bool | None = None,
    first_try_schema_valid: bool | None = None,
    checks_passed: bool | None = None,
) -> LLMCall:
    """One row per structured call. `valid`/`first_try_valid` are about the schema (did the
    model produce a well-formed object, and on the first try); `checks_passed` is about the
    quality gates run on it (None when the call had none)."""
    version, _ = PromptVersion.objects.get_or_create(
        name=prompt.name, content_hash=prompt.content_hash, defaults={"text": prompt.template}
    )
    if schema_valid is None:
        schema_valid = value is not None
    if first_try_schema_valid is None:
        first_try_schema_valid = schema_valid and len(completions) == 1
    accepted = schema_valid and checks_passed is not False
    last = completions[-1] if completions else None
    return LLMCall.objects.create(
        purpose=purpose,
        backend=backend.name,
        model=backend.model,
        prompt_version=version,
        schema_name=schema.__name__,
        prompt_tokens=sum(c.prompt_tokens for c in completions),
        completion_tokens=sum(c.completion_tokens for c in completions),
        time_to_first_token_ms=completions[0].time_to_first_token_ms if completions else None,
        ms_per_output_token=last.ms_per_output_token if last else None,
        total_ms=sum(c.total_ms for c in completions),
        attempts=len(completions),
        first_try_valid=first_try_schema_valid,
        valid=schema_valid,
        checks_passed=checks_passed,
        needs_human=not accepted,
        error="\n".join(errors),
        raw_outputs=raws,
        result=json.loads(value.model_dump_json()) if value is not None else None,
    )
