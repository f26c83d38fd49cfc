"""Structured calls: a Pydantic model in, a validated instance (or a 'needs human' result that
keeps every raw output) out. Never raises for bad model output; every call is recorded."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from django.conf import settings
from pydantic import BaseModel, ValidationError

from apps.llm.backends import BackendError, Completion, backend_get
from apps.llm.models import LLMCall, PromptVersion
from apps.llm.prompts import RenderedPrompt

logger = logging.getLogger(__name__)


@dataclass
class StructuredResult:
    value: BaseModel | None
    call: LLMCall
    raw_outputs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def needs_human(self) -> bool:
        return self.value is None


def _retry_prompt(prompt: str, raw: str, error: str) -> str:
    """The first prompt plus what went wrong, so the model can correct itself (and the
    in-process backend reuses the evaluated prefix)."""
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
) -> StructuredResult:
    backend = backend or backend_get()
    attempts = max_attempts or settings.LLM_MAX_ATTEMPTS
    json_schema = schema.model_json_schema()
    text = prompt.text
    raws: list[str] = []
    errors: list[str] = []
    completions: list[Completion] = []
    value = None
    for _ in range(attempts):
        try:
            completion = backend.complete(text, json_schema=json_schema, max_tokens=max_tokens)
        except BackendError as exc:
            errors.append(f"backend: {exc}")
            break
        completions.append(completion)
        raws.append(completion.text)
        value, error = _validate(schema, completion.text)
        if value is not None:
            break
        errors.append(error)
        text = _retry_prompt(prompt.text, completion.text, error)
    call = llm_call_record(
        purpose=purpose,
        prompt=prompt,
        schema=schema,
        backend=backend,
        completions=completions,
        raws=raws,
        errors=errors,
        value=value,
    )
    return StructuredResult(value=value, call=call, raw_outputs=raws, errors=errors)


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
) -> LLMCall:
    version, _ = PromptVersion.objects.get_or_create(
        name=prompt.name, content_hash=prompt.content_hash, defaults={"text": prompt.template}
    )
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
        first_try_valid=value is not None and len(completions) == 1,
        valid=value is not None,
        needs_human=value is None,
        error="\n".join(errors),
        raw_outputs=raws,
        result=json.loads(value.model_dump_json()) if value is not None else None,
    )
