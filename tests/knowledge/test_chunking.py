import itertools
import re

import pytest

from apps.knowledge import embedding
from apps.knowledge.chunking import chunks_build, sentences_split
from apps.knowledge.parsing import Block


def _sentences(n: int) -> list[str]:
    return [
        f"Sentence number {i} explains how the Enterprise plan handles error E{1000 + i} "
        f"when the sync client retries an upload after {i} seconds."
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def count():
    return embedding.token_counts


def test_sentences_split_keeps_abbreviations_and_decimals_together():
    text = "Use e.g. the CLI. Version 1.5 is current! Does it work? Yes."
    assert sentences_split(text) == [
        "Use e.g. the CLI.",
        "Version 1.5 is current!",
        "Does it work?",
        "Yes.",
    ]


def test_chunks_stay_within_the_token_budget_and_never_cut_a_sentence(count):
    sentences = _sentences(60)
    chunks = chunks_build(
        [Block("text", " ".join(sentences), ())], max_tokens=300, overlap_tokens=50, count=count
    )
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.token_count <= 300
        assert count([chunk.text])[0] <= 300 + 5  # joins may add a token or two
    for sentence in sentences:
        assert any(sentence in chunk.text for chunk in chunks)
    pieces = [p for chunk in chunks for p in sentences_split(chunk.text)]
    assert set(pieces) == set(sentences)


def test_each_chunk_starts_with_whole_sentences_of_the_previous_one_up_to_the_overlap(count):
    chunks = chunks_build(
        [Block("text", " ".join(_sentences(40)), ())],
        max_tokens=120,
        overlap_tokens=50,
        count=count,
    )
    for previous, current in itertools.pairwise(chunks):
        first = sentences_split(current.text)[0]
        shared = [s for s in sentences_split(current.text) if s in previous.text]
        assert first in previous.text
        assert 0 < sum(count(shared)) <= 50


def test_zero_overlap_shares_nothing(count):
    chunks = chunks_build(
        [Block("text", " ".join(_sentences(30)), ())], max_tokens=100, overlap_tokens=0, count=count
    )
    seen = [s for chunk in chunks for s in sentences_split(chunk.text)]
    assert len(seen) == len(set(seen)) == 30


def test_code_blocks_and_tables_are_kept_whole_when_they_fit(count):
    code = "```\n" + "\n".join(f"skylark-sync --step {i}" for i in range(20)) + "\n```"
    blocks = [
        Block("text", " ".join(_sentences(5)), ("Guide",)),
        Block("code", code, ("Guide",)),
        Block("text", "After the code.", ("Guide", "Next")),
    ]
    chunks = chunks_build(blocks, max_tokens=300, overlap_tokens=50, count=count)
    assert sum(code in chunk.text for chunk in chunks) >= 1
    assert all(chunk.text.count("```") % 2 == 0 for chunk in chunks)


def test_an_oversized_code_block_is_split_at_line_boundaries(count):
    lines = [f"redis-cli SET key:{i} value-{i} EX 3600" for i in range(200)]
    chunks = chunks_build(
        [Block("code", "\n".join(lines), ())], max_tokens=120, overlap_tokens=0, count=count
    )
    assert len(chunks) > 3
    assert all(chunk.token_count <= 120 for chunk in chunks)
    rebuilt = [line for chunk in chunks for line in chunk.text.split("\n")]
    assert rebuilt == lines


def test_chunks_carry_the_heading_path_they_start_in(count):
    blocks = [
        Block("heading", "# Guide", ("Guide",)),
        Block("text", " ".join(_sentences(3)), ("Guide",)),
        Block("heading", "## Limits", ("Guide", "Limits")),
        Block("text", " ".join(_sentences(30)[10:]), ("Guide", "Limits")),
    ]
    chunks = chunks_build(blocks, max_tokens=150, overlap_tokens=0, count=count)
    assert chunks[0].heading_path == ("Guide",)
    assert chunks[-1].heading_path == ("Guide", "Limits")
    assert re.match(r"# Guide", chunks[0].text)


def test_paragraphs_and_headings_in_chunk_text_are_separate_sentences():
    text = "## Storage full\n\nE2051 appears when the workspace is full.\nIt pauses sync."
    assert sentences_split(text) == [
        "## Storage full",
        "E2051 appears when the workspace is full.",
        "It pauses sync.",
    ]
