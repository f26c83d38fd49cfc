import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_STOP = {
    "the",
    "and",
    "for",
    "how",
    "what",
    "does",
    "can",
    "you",
    "your",
    "with",
    "this",
    "that",
    "are",
    "is",
    "do",
    "to",
    "of",
    "in",
    "on",
    "a",
    "an",
    "my",
    "i",
    "it",
}


@register.filter
def highlight(text: str, terms) -> SafeString:
    """Escape `text`, then wrap query terms (and words sharing their first five letters,
    a cheap stand-in for stemming) in <mark>. Escaping first keeps document text inert."""
    escaped = escape(text)
    words = [t for t in (terms or []) if len(t) > 2 and t.lower() not in _STOP]
    if not words:
        return mark_safe(escaped)
    stems = sorted({re.escape(w.lower()[:5]) for w in words}, key=len, reverse=True)
    pattern = re.compile(rf"\b(?:{'|'.join(stems)})\w*", re.IGNORECASE)
    return mark_safe(pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", escaped))


@register.filter
def get_item(mapping: dict, key):
    return mapping.get(key) if mapping else None


@register.filter
def percent(value) -> str:
    try:
        return f"{float(value) * 100:.1f}%"
    except (TypeError, ValueError):
        return "—"


@register.filter
def chunking(config: str, style: str = "") -> str:
    """A stored chunk configuration in words (see services.chunk_config_describe);
    `chunking:"short"` for a table cell."""
    from apps.knowledge.services import chunk_config_describe

    return chunk_config_describe(config or "", short=style == "short")


@register.filter
def figure(value, digits: int = 3) -> str:
    """A number with `digits` decimals, or "—" when there is none (a run without results)."""
    try:
        return f"{float(value):.{int(digits)}f}"
    except (TypeError, ValueError):
        return "—"
