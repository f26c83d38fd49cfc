"""The LLM layer against raw llama-cpp-python on the same model, prompts and settings:
overhead of a full structured call (grammar, validation, telemetry) on total time, and the
cost of the grammar (constrained against unconstrained ms per output token)."""

import json
import statistics
import time

from django.conf import settings
from llama_cpp import LlamaGrammar

from apps.llm.backends import LlamaCppBackend, _gbnf_for, model_path_ensure
from apps.llm.prompts import prompt_render
from apps.llm.schemas import Triage
from apps.llm.services import structured_generate

MESSAGES = [
    "I was charged twice for the Pro plan this month.",
    "Uploads stop with ERR_SYNC_TIMEOUT behind our proxy. Enterprise workspace.",
    "Since the SSO switch nobody can sign in, E1042 everywhere.",
    "Our workspace is full and sync paused with E2051. Pro plan.",
    "How do I restore a file I deleted last week?",
]
MAX_TOKENS = 48


def _raw(llm, prompt: str, grammar) -> tuple[float, int]:
    started = time.perf_counter()
    out = llm.create_completion(
        prompt, max_tokens=MAX_TOKENS, temperature=0.0, repeat_penalty=1.0, grammar=grammar
    )
    return (time.perf_counter() - started) * 1000, out["usage"]["completion_tokens"]


def _summary(samples: list[tuple[float, int]]) -> dict:
    totals = [ms for ms, _ in samples]
    per_token = [ms / max(tokens, 1) for ms, tokens in samples]
    return {
        "total_ms_median": round(statistics.median(totals), 1),
        "ms_per_token_median": round(statistics.median(per_token), 2),
        "tokens_per_second": round(1000 / statistics.median(per_token), 1),
        "tokens_median": statistics.median(t for _, t in samples),
    }


def run(*, repeats: int = 2) -> dict:
    backend = LlamaCppBackend(
        model_path=model_path_ensure(), n_ctx=2048, n_threads=settings.LLM_THREADS, n_gpu_layers=0
    )
    schema = Triage.model_json_schema()
    grammar = LlamaGrammar.from_string(_gbnf_for(json.dumps(schema, sort_keys=True)), verbose=False)
    prompts = [prompt_render("triage", message=m) for m in MESSAGES]
    backend.complete(prompts[0].text, max_tokens=4)  # warm up
    results: dict[str, list] = {
        k: []
        for k in ("raw_free", "raw_grammar", "layer_free", "layer_grammar", "layer_structured")
    }
    for _ in range(repeats):
        for prompt in prompts:
            results["raw_free"].append(_raw(backend.llm, prompt.text, None))
            results["raw_grammar"].append(_raw(backend.llm, prompt.text, grammar))
            free = backend.complete(prompt.text, max_tokens=MAX_TOKENS)
            results["layer_free"].append((free.total_ms, free.completion_tokens))
            constrained = backend.complete(prompt.text, json_schema=schema, max_tokens=MAX_TOKENS)
            results["layer_grammar"].append((constrained.total_ms, constrained.completion_tokens))
            started = time.perf_counter()
            result = structured_generate(
                purpose="bench",
                prompt=prompt,
                schema=Triage,
                backend=backend,
                max_attempts=1,
                max_tokens=MAX_TOKENS,
            )
            results["layer_structured"].append(
                ((time.perf_counter() - started) * 1000, result.call.completion_tokens)
            )
    report = {name: _summary(samples) for name, samples in results.items()}
    report["grammar_cost_layer"] = round(
        report["layer_grammar"]["ms_per_token_median"]
        / report["layer_free"]["ms_per_token_median"],
        2,
    )
    report["grammar_cost_raw_llama_cpp"] = round(
        report["raw_grammar"]["ms_per_token_median"] / report["raw_free"]["ms_per_token_median"], 2
    )
    report["structured_call_overhead_vs_raw_grammar"] = round(
        report["layer_structured"]["total_ms_median"] / report["raw_grammar"]["total_ms_median"]
        - 1,
        3,
    )
    report["targets"] = {"grammar_cost_layer": "<= 1.3", "overhead": "<= 0.10"}
    return report
