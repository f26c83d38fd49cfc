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


# --- does the sentence give the kind of answer the question asks for? -------------------------

_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|hundred|thousand|"
    r"million|once|twice|half|all|none|every|each|unlimited)\b",
    re.IGNORECASE,
)
_TIME_OR_CONDITION = re.compile(
    r"\d|\b(if|when|whenever|after|before|once|until|while|during|every|daily|weekly|monthly|"
    r"immediately|as soon as|at|on|by|since|within)\b",
    re.IGNORECASE,
)
_CONDITION = re.compile(r"\b(if|when|whenever|once|unless|after|in case)\b", re.IGNORECASE)
_REASON = re.compile(
    r"\b(because|so that|so|since|due to|in order|to avoid|to prevent|to make|means|"
    r"as a result|otherwise)\b",
    re.IGNORECASE,
)
_STEPS = re.compile(
    r"\b(by|use|using|run|open|click|set|choose|select|enable|disable|go to|call|send|add|"
    r"remove|sign|restart|pause|check|contact|configure|pass|specify|wait|upgrade)\b",
    re.IGNORECASE,
)
# "What is X?" / "What are X?" / "What does X mean?": X must be what the sentence is about.
_WHAT_IS = re.compile(
    r"^what (?:is|are|was|were) (?:a |an |the )?(?P<subject>.+?)\??$|"
    r"^what does (?:a |an |the )?(?P<meaning>.+?) mean\??$",
    re.IGNORECASE,
)
_DEFINES = (
    r"\b(is|are|was|were|means|mean|refers|stands|lets|allows|returns|stores|holds|"
    r"contains|shows|gives|makes|keeps|includes|provides|can|will|must|should|has|have)\b"
)


def _subject_defined(subject: str, sentence: str) -> bool:
    """The sentence says what the subject is or does: the subject's content words appear
    before a defining verb within the sentence's first clause, not merely somewhere in it
    ("the TILT mode is exited" at the end of an if-clause does not say what TILT mode is)."""
    wanted = content_words(subject)
    if not wanted:
        return False
    head = re.split(r"[,;:]\s", sentence, maxsplit=1)[0]
    match = re.search(_DEFINES, head, re.IGNORECASE)
    if match is None or _CONDITION.match(head.strip()):
        return False  # an instruction or a condition, not a statement about the subject
    before = head[: match.start()]
    return len(wanted & content_words(before)) >= max(1, (len(wanted) + 1) // 2)


def gate_answer_type(*, question: str, support: str) -> GateResult:
    """The sentence gives the kind of answer the question's form asks for: a number for how
    many, a time or condition for when, a reason for why, steps for how do I, a consequence
    and a condition for what happens if, and for what is X a sentence about X itself."""
    name = "asks what the sentence says"
    q = " ".join(question.lower().split())
    checks = [
        (
            ("how many", "how much", "how long", "how often", "how far", "how big", "how large"),
            _NUMBER,
            "the sentence holds no number or amount",
        ),
        (
            ("what happens", "what will happen", "what if"),
            _CONDITION,
            "the sentence states no condition and its consequence",
        ),
        (("when ",), _TIME_OR_CONDITION, "the sentence holds no time or condition"),
        (("why ",), _REASON, "the sentence gives no reason"),
        (("how do", "how can", "how should", "how to"), _STEPS, "the sentence gives no step"),
    ]
    for starts, pattern, problem in checks:
        if q.startswith(starts):
            if pattern.search(support):
                return GateResult(name, True, f"'{starts[0].strip()}' answered by the sentence")
            return GateResult(name, False, problem)
    what_is = _WHAT_IS.match(q)
    if what_is:
        subject = what_is.group("subject") or what_is.group("meaning") or ""
        if _subject_defined(subject, support):
            return GateResult(name, True, f"the sentence is about {subject!r}")
        return GateResult(name, False, f"the sentence does not say what {subject!r} is")
    return GateResult(name, True, "no particular kind of answer asked for")
