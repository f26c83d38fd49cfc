"""The OpenAI-compatible backend against a real server on loopback: llama-cpp-python's own
server, serving the same packaged GGUF."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from apps.llm.backends import BackendError, OpenAICompatibleBackend, model_path_ensure
from apps.llm.models import LLMCall
from apps.llm.prompts import prompt_render
from apps.llm.schemas import PlanAnswer, Triage
from apps.llm.services import structured_generate

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    port = _free_port()
    log = open(tmp_path_factory.mktemp("llm-server") / "server.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model_path_ensure()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--n_threads",
            "2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                    json.loads(response.read())
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the llama.cpp server did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _backend(url: str, **overrides) -> OpenAICompatibleBackend:
    options = {
        "base_url": url,
        "api_key": "",
        "model": "gemma",
        "timeout": 60,
        "retries": 1,
        "response_format": "json_object",
    }
    return OpenAICompatibleBackend(**{**options, **overrides})


def test_structured_calls_work_over_http(server_url):
    prompt = prompt_render("triage", message="I was billed twice for Enterprise.")
    result = structured_generate(
        purpose="test-http",
        prompt=prompt,
        schema=Triage,
        backend=_backend(server_url),
        max_tokens=48,
    )
    assert result.value is not None, result.errors
    call = LLMCall.objects.get()
    assert call.backend == "openai-http" and call.completion_tokens > 0 and call.valid


def test_the_server_is_held_to_the_schema(server_url):
    prompt = prompt_render("check", sentence="Pro keeps 30 days of history.")
    completion = _backend(server_url).complete(
        prompt.text, json_schema=PlanAnswer.model_json_schema(), max_tokens=24
    )
    assert set(json.loads(completion.text)) == {"plan"}


def test_an_unreachable_server_is_retried_then_reported_not_raised():
    dead = _backend(f"http://127.0.0.1:{_free_port()}/v1", retries=1, timeout=2)
    with pytest.raises(BackendError, match="unreachable after 2 tries"):
        dead.complete("hello", max_tokens=4)
    result = structured_generate(
        purpose="test-http",
        prompt=prompt_render("check", sentence="x"),
        schema=PlanAnswer,
        backend=dead,
    )
    assert result.needs_human and "unreachable" in LLMCall.objects.get().error
