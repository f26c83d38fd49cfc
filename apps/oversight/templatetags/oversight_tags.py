from django import template

register = template.Library()


@register.filter
def share(value) -> str:
    """A fraction as a percentage, "—" when there is nothing to divide."""
    try:
        return f"{float(value) * 100:.0f}%"
    except (TypeError, ValueError):
        return "—"


@register.filter
def span(seconds) -> str:
    """A duration in seconds, in the largest unit that reads well."""
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        return "—"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


@register.filter
def label(mapping: dict, key) -> str:
    return mapping.get(key, key) if mapping else key
