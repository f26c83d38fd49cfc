"""Token-budgeted chunking that never cuts a sentence.

Text blocks are split into sentences, code blocks and tables are kept whole (split by lines
only when one alone is over budget). Units are packed into chunks of at most `max_tokens`;
each new chunk starts with the previous chunk's last whole sentences, up to `overlap_tokens`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from apps.knowledge.parsing import Block

TokenCounter = Callable[[list[str]], list[int]]

# A sentence ends at . ! or ? followed by space and something that can start a sentence.
# Abbreviations like "e.g." and "i.e." and decimals ("1.5") do not match.
_SENTENCE_END = re.compile(
    r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)(?<!\bvs)(?<!\bDr)(?<!\bMr)(?<!\bMs)(?<!\bNo)"
    r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9`*_])"
)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
# A piece of a page that is markup rather than prose: a heading, a code fence, a table row,
# HTML, a template tag, an image, a shell prompt or a block quote.
_MARKUP_LINE = re.compile(r"^\s*(#|```|\||<|\{\{|!\[|\$ |>)")


@dataclass
class Unit:
    text: str
    tokens: int
    heading_path: tuple[str, ...]
    block: int


@dataclass
class ChunkDraft:
    text: str
    heading_path: tuple[str, ...]
    token_count: int


def sentences_split(text: str) -> list[str]:
    """Sentences of a prose block; each line of a list stays its own unit."""
    pieces: list[str] = []
    for line_group in _line_groups(text):
        for sentence in _SENTENCE_END.split(line_group):
            if sentence.strip():
                pieces.append(sentence.strip())
    return pieces


def sentence_is_markup(sentence: str) -> bool:
    """The sentence is markup, not prose: neither a Q&A answer nor a reply may quote it."""
    return bool(_MARKUP_LINE.match(sentence))


def _line_groups(text: str) -> list[str]:
    """Join wrapped lines back into paragraphs; a blank line or a list item starts a new one."""
    groups: list[str] = []
    open_group = False
    for line in text.splitlines():
        if not line.strip():
            open_group = False
            continue
        continues = open_group and not _LIST_ITEM.match(line)
        if continues and (not _LIST_ITEM.match(groups[-1]) or line.startswith((" ", "\t"))):
            groups[-1] += " " + line.strip()
        else:
            groups.append(line.strip())
        open_group = True
    return groups


def units_from_blocks(blocks: list[Block], *, max_tokens: int, count: TokenCounter) -> list[Unit]:
    raw: list[tuple[str, tuple[str, ...], int]] = []
    for index, block in enumerate(blocks):
        if block.kind in ("code", "table", "heading"):
            raw.append((block.text, block.heading_path, index))
        else:
            raw.extend((s, block.heading_path, index) for s in sentences_split(block.text))
    counts = count([text for text, _, _ in raw])
    units: list[Unit] = []
    for (text, path, index), tokens in zip(raw, counts, strict=True):
        if tokens <= max_tokens:
            units.append(Unit(text, tokens, path, index))
        else:
            units.extend(_split_oversized(text, path, index, max_tokens=max_tokens, count=count))
    return units


def _split_oversized(
    text: str, path: tuple[str, ...], block: int, *, max_tokens: int, count: TokenCounter
) -> list[Unit]:
    """A single code block, table or run-on sentence over budget: split at lines, then words."""
    separator = "\n" if "\n" in text else " "
    parts = text.split(separator)
    part_tokens = count(parts)
    units: list[Unit] = []
    current: list[str] = []
    current_tokens = 0
    for part, tokens in zip(parts, part_tokens, strict=True):
        if tokens > max_tokens and separator == "\n":
            units.extend(_split_oversized(part, path, block, max_tokens=max_tokens, count=count))
            continue
        tokens = min(tokens, max_tokens)
        if current and current_tokens + tokens + 1 > max_tokens:
            units.append(Unit(separator.join(current), current_tokens, path, block))
            current, current_tokens = [], 0
        current.append(part)
        current_tokens += tokens + (1 if len(current) > 1 else 0)
    if current:
        units.append(Unit(separator.join(current), current_tokens, path, block))
    return units


def chunks_pack(units: list[Unit], *, max_tokens: int, overlap_tokens: int) -> list[ChunkDraft]:
    chunks: list[ChunkDraft] = []
    current: list[Unit] = []
    for unit in units:
        if current and sum(u.tokens for u in current) + unit.tokens > max_tokens:
            chunks.append(_draft(current))
            current = _overlap(current, overlap_tokens, room=max_tokens - unit.tokens)
        current.append(unit)
    if current and any(u.text.strip() for u in current):
        chunks.append(_draft(current))
    return chunks


def _overlap(previous: list[Unit], overlap_tokens: int, *, room: int) -> list[Unit]:
    """The trailing whole sentences of the previous chunk that fit in the overlap budget."""
    kept: list[Unit] = []
    total = 0
    for unit in reversed(previous):
        if total + unit.tokens > min(overlap_tokens, room):
            break
        kept.insert(0, unit)
        total += unit.tokens
    # A chunk that would be nothing but repeated headings adds no context.
    return kept if any(u.text and not u.text.startswith("#") for u in kept) else []


def _draft(units: list[Unit]) -> ChunkDraft:
    parts: list[str] = []
    for index, unit in enumerate(units):
        if index and units[index - 1].block == unit.block:
            parts.append(("\n" if _LIST_ITEM.match(unit.text) else " ") + unit.text)
        elif index:
            parts.append("\n\n" + unit.text)
        else:
            parts.append(unit.text)
    return ChunkDraft(
        text="".join(parts),
        heading_path=units[0].heading_path,
        token_count=sum(u.tokens for u in units),
    )


def chunks_build(
    blocks: list[Block], *, max_tokens: int, overlap_tokens: int, count: TokenCounter
) -> list[ChunkDraft]:
    units = units_from_blocks(blocks, max_tokens=max_tokens, count=count)
    return chunks_pack(units, max_tokens=max_tokens, overlap_tokens=overlap_tokens)
