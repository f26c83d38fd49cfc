"""Tagging helpers shared by ingestion (services) and retrieval (selectors): pure functions
plus one read of the active patterns. Nothing here writes."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from apps.knowledge.models import ErrorCategory, ErrorCodePattern

logger = logging.getLogger(__name__)


def error_codes_find(*, text: str, patterns: list[re.Pattern]) -> list[str]:
    found: dict[str, None] = {}
    for pattern in patterns:
        for match in pattern.finditer(text):
            found[match.group(0)] = None
    return list(found)


def error_categories_for(*, codes: Iterable[str], categories: list[ErrorCategory]) -> list[str]:
    by_length = sorted(categories, key=lambda c: len(c.prefix), reverse=True)
    names: dict[str, None] = {}
    for code in codes:
        for category in by_length:
            if code.upper().startswith(category.prefix.upper()):
                names[category.name] = None
                break
    return list(names)


def active_patterns() -> list[re.Pattern]:
    compiled = []
    for pattern in ErrorCodePattern.objects.filter(is_active=True):
        try:
            compiled.append(re.compile(pattern.regex))
        except re.error:
            logger.warning("Skipping invalid error-code pattern %r", pattern.regex)
    return compiled
