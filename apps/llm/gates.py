"""Quality gates: automatic checks that model output must pass before a person sees it.

Each gate is a small pure function returning a `GateResult` (name, passed, a sentence a
reviewer can read). Callers measure what needs the rest of the product (embedding similarity,
retrieval rank, duplicates) and hand the figures in, so this module stays free of the apps
above it: synthetic Q&A uses it for pairs, draft replies for each cited sentence.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher

# An answer or question that is only a sentence id ("S1", "s12", "[S3]", "S1, S2").
_ID_ONLY = re.compile(r"^\W*(?:s\d+\W*)+$", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?")
_QUESTION_START = re.compile(
    r"^(what|which|who|whom|whose|when|where|why|how|is|are|am|was|were|do|does|did|can|could|"
    r"should|shall|will|would|may|might|must|has|have|had)\b",
    re.IGNORECASE,
)
_SENTENCE_END = ".?!)\"'`\u201d\u2019"
# Words that carry no content of their own: what two texts share beyond these says they are
# about the same thing.
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "get",
        "gets",
        "got",
        "use",
        "used",
        "using",
        "one",
        "also",
        "may",
        "might",
        "must",
        "shall",
        "per",
        "via",
    ]
)


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


def gates_failed(results: list[GateResult]) -> list[GateResult]:
    return [r for r in results if not r.passed]


def gates_summary(results: list[GateResult]) -> list[str]:
    """The reasons of the failed gates, for a retry prompt or a rejection note."""
    return [f"{r.name}: {r.detail}" for r in gates_failed(results)]


def content_words(text: str) -> set[str]:
    """Lower-cased words minus stop words, with a light suffix strip so that 'limits' and
    'limit', 'syncing' and 'sync' meet."""
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in STOP_WORDS and len(w) > 1}


def _stem(word: str) -> str:
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + ("y" if suffix == "ies" else "")
            break
    # "rotate", "rotated" and "rotating" all become "rotat".
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def similarity_ratio(a: str, b: str) -> float:
    """How alike two texts read, 0..1, ignoring case and spacing."""
    a, b = " ".join(a.lower().split()), " ".join(b.lower().split())
    return SequenceMatcher(None, a, b, autojunk=False).ratio() if a and b else 0.0


# --- the gates -------------------------------------------------------------------------------


def gate_not_empty(*, name: str, text: str, min_words: int = 2) -> GateResult:
    words = len(text.split())
    if words < min_words:
        return GateResult(f"{name} not empty", False, f"has {words} word(s), needs {min_words}")
    return GateResult(f"{name} not empty", True, f"{words} words")


def gate_not_an_id(*, name: str, text: str) -> GateResult:
    if _ID_ONLY.match(text.strip() or "S0"):
        return GateResult(f"{name} is not an id", False, f"is only a sentence id ({text!r})")
    return GateResult(f"{name} is not an id", True, "real text")


def gate_not_truncated(*, name: str, text: str) -> GateResult:
    """Ends like a finished sentence (a cut-off output ends mid-word or on a comma)."""
    stripped = text.rstrip()
    if stripped and stripped[-1] in _SENTENCE_END:
        return GateResult(f"{name} complete", True, "ends as a sentence")
    return GateResult(f"{name} complete", False, f"ends mid-sentence ({stripped[-20:]!r})")


def gate_is_question(*, text: str) -> GateResult:
    stripped = text.strip()
    words = len(stripped.split())
    if not stripped.endswith("?"):
        return GateResult("is a question", False, "does not end with a question mark")
    if words < 3:  # "What is Sentinel?" is a fair question; "Why?" is not
        return GateResult("is a question", False, f"only {words} words")
    if not _QUESTION_START.match(stripped) and words < 6:
        return GateResult("is a question", False, "does not read as a question")
    return GateResult("is a question", True, f"{words} words")


def gate_not_prompt_copy(*, name: str, text: str, examples: list[str], limit: float) -> GateResult:
    """Not a copy or near-copy of any text the prompt itself showed the model."""
    closest = max((similarity_ratio(text, example) for example in examples), default=0.0)
    if closest >= limit:
        return GateResult(
            f"{name} not copied from the prompt",
            False,
            f"{closest:.0%} like a prompt example (limit {limit:.0%})",
        )
    return GateResult(f"{name} not copied from the prompt", True, f"closest {closest:.0%}")


def gate_answerable(
    *, question: str, support: str, similarity: float, min_similarity: float, min_shared: int
) -> GateResult:
    """The supporting sentence is about what the question asks: their embeddings are close
    enough and they share content words (either alone is fooled too easily)."""
    shared = sorted(content_words(question) & content_words(support))
    detail = f"similarity {similarity:.2f}, shared words: {', '.join(shared[:6]) or 'none'}"
    passed = similarity >= min_similarity and len(shared) >= min_shared
    return GateResult("answerable from the source", passed, detail)


def gate_round_trip(*, rank: int | None, k: int) -> GateResult:
    """The question, searched with the product's own retrieval, finds its source chunk."""
    if rank is None or rank > k:
        return GateResult("finds its source", False, f"source chunk not in the top {k}")
    return GateResult("finds its source", True, f"source chunk ranked #{rank}")


def gate_not_duplicate(*, duplicate_of: int | None, similarity: float | None = None) -> GateResult:
    if duplicate_of is not None:
        close = f" ({similarity:.2f})" if similarity is not None else ""
        return GateResult("not a duplicate", False, f"same as pair #{duplicate_of}{close}")
    return GateResult("not a duplicate", True, "no near-duplicate")
