from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def mark_quote(source: str, quote: str) -> SafeString:
    """Escape the source, then mark the quote where it appears (escaping first keeps it inert)."""
    escaped, needle = escape(source), escape((quote or "").strip())
    if not needle or needle not in escaped:
        return mark_safe(escaped)
    return mark_safe(escaped.replace(needle, f"<mark>{needle}</mark>", 1))
