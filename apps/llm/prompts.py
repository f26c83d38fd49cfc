"""Prompt templates are versioned files in apps/llm/prompts/; each call records the template's
name and content hash, so any output can be traced to the exact wording that produced it."""

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

PROMPT_DIR = Path(__file__).resolve().parent / "prompts"


@dataclass(frozen=True)
class RenderedPrompt:
    name: str
    content_hash: str
    template: str
    text: str


@cache
def _template(name: str) -> tuple[str, str]:
    path = PROMPT_DIR / f"{name}.txt"
    if not path.is_file():
        raise ValueError(f"No prompt template named {name!r} in {PROMPT_DIR}.")
    text = path.read_text(encoding="utf-8")
    return text, hashlib.sha256(text.encode()).hexdigest()


def prompt_render(name: str, **variables: str) -> RenderedPrompt:
    """Fill a template; `$name` placeholders, every one must be given (KeyError otherwise)."""
    text, digest = _template(name)
    return RenderedPrompt(name, digest, text, Template(text).substitute(variables))


def prompt_names() -> list[str]:
    return sorted(p.stem for p in PROMPT_DIR.glob("*.txt"))


def prompt_versions_sync() -> None:
    """Record every template file as it is now, so admins see prompts before their first use."""
    from apps.llm.models import PromptVersion

    for name in prompt_names():
        text, digest = _template(name)
        PromptVersion.objects.get_or_create(name=name, content_hash=digest, defaults={"text": text})
