import json

from django.core.management.base import BaseCommand

from apps.llm.backends import backend_get
from apps.llm.prompts import prompt_render
from apps.llm.schemas import PlanAnswer
from apps.llm.services import structured_generate


class Command(BaseCommand):
    help = (
        "Show the configured model backend, run a short free and a short structured "
        "generation, and print their timings. Run it first after configuring a model."
    )

    def handle(self, *args, **options):
        backend = backend_get()
        self.stdout.write(f"backend: {backend.name}\nmodel:   {backend.model}")
        prompt = prompt_render("check", sentence="Enterprise keeps 365 days of version history.")
        free = backend.complete(prompt.text, max_tokens=24)
        self._timings("free generation", free.text, free)
        result = structured_generate(
            purpose="llm_check", prompt=prompt, schema=PlanAnswer, max_tokens=24
        )
        call = result.call
        self.stdout.write(
            f"\nstructured ({PlanAnswer.__name__}): "
            f"{json.dumps(call.result) if call.valid else 'INVALID: ' + call.error}\n"
            f"  attempts {call.attempts}, {call.completion_tokens} tokens, "
            f"{call.total_ms:.0f} ms total, "
            f"{_fmt(call.ms_per_output_token)} ms/token"
        )

    def _timings(self, label: str, text: str, completion) -> None:
        per_token = completion.ms_per_output_token
        rate = f"{1000 / per_token:.1f} tokens/s" if per_token else "n/a"
        self.stdout.write(
            f"\n{label}: {text.strip()[:200]!r}\n"
            f"  prompt {completion.prompt_tokens} tokens, output {completion.completion_tokens} "
            f"tokens, first token {_fmt(completion.time_to_first_token_ms)} ms, "
            f"{_fmt(per_token)} ms/token ({rate}), total {completion.total_ms:.0f} ms"
        )


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.1f}"
