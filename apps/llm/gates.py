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
_ASKING = (
    r"(what|which|who|whom|whose|when|where|why|how|is|are|am|was|were|do|does|did|can|could|"
    r"should|shall|will|would|may|might|must|has|have|had)\b"
)
# A question starts like one, possibly after a short lead-in ("For a Pro workspace, how…",
# "If no reset type is specified, what is the default?").
_QUESTION_START = re.compile(rf"^([^,?]{{1,60}}, )?{_ASKING}", re.IGNORECASE)
# "When the vents open, the alarm sounds?": a when/where clause followed by a statement.
_CLAUSE_THEN_STATEMENT = re.compile(
    rf"^(when|where|whenever|while|once|if)\b(?!\s+{_ASKING})[^,?]{{1,80}}, (?!{_ASKING})",
    re.IGNORECASE,
)
# "What is the format for this output?": which output, the question does not say.
_DEICTIC = re.compile(r"\b(this|these|those|the following)\b|\b(above|below)\W*$", re.IGNORECASE)
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
    return {_stem(w) for w in _content_tokens(text)}


def _content_tokens(text: str) -> list[str]:
    """The words content_words keeps, as the text writes them (lower-cased)."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS and len(w) > 1]


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


def gate_is_question(*, text: str, statement: str = "") -> GateResult:
    """Reads as a question a person could ask without the source at hand: ends with a
    question mark, starts like a question (a short lead-in clause aside), points at nothing it
    does not name ("this output"), and is not `statement` (the sentence it is about, when the
    caller has one) with its full stop turned into a question mark."""
    name = "is a question"
    stripped = " ".join(text.split())
    words = len(stripped.split())
    if not stripped.endswith("?"):
        return GateResult(name, False, "does not end with a question mark")
    if words < 3:  # "What is Sentinel?" is a fair question; "Why?" is not
        return GateResult(name, False, f"only {words} words")
    if not _QUESTION_START.match(stripped) or _CLAUSE_THEN_STATEMENT.match(stripped):
        return GateResult(name, False, "does not start like a question")
    if statement and _restates(stripped, statement):
        return GateResult(name, False, "is the sentence itself with a question mark")
    vague = _names_too_little(stripped)
    if vague is not None:
        return GateResult(name, False, vague)
    deictic = _DEICTIC.search(stripped)
    if deictic:
        return GateResult(
            name, False, f"points at something it does not name ({deictic.group(0).strip()!r})"
        )
    return GateResult(name, True, f"{words} words")


# Verbs that say nothing of what a question is about: "What does the document show?" asks
# about "document" alone.
_LIGHT_VERBS = frozenset(
    {
        "do",
        "does",
        "did",
        "done",
        "show",
        "shows",
        "need",
        "needs",
        "have",
        "has",
        "get",
        "gets",
        "mean",
        "means",
        "happen",
        "happens",
        "use",
        "uses",
        "make",
        "makes",
        "go",
        "take",
        "want",
        "know",
        "work",
        "give",
        "say",
        "find",
    }
)
# A name stands alone even as a question's only word ("What is Sentinel?"): code, an acronym,
# a capitalised word past the question's first.
_A_NAME = re.compile(r"`[^`]+`|\b[A-Z][A-Za-z]*[A-Z0-9]\w*\b|(?<=\s)[A-Z][a-z]+")


def _names_too_little(question: str) -> str | None:
    """ "Can you renew?", "Do you need a duplicate?": one plain word of subject matter is not
    a question anybody could answer without the page in front of them. "What is a shard?"
    asks for a definition and stands."""
    if _WHAT_IS.match(question) or _A_NAME.search(question):
        return None
    words = {w for w in _WORD.findall(question.lower()) if w not in STOP_WORDS and len(w) > 1}
    named = words - _LIGHT_VERBS
    if len(named) >= 2:
        return None
    return f"too vague to stand alone: it names only {', '.join(sorted(named)) or 'nothing'}"


def _restates(question: str, statement: str) -> bool:
    """The question is the statement's own words in the statement's own order (a question
    mark for the full stop, a word or two changed): a reviewer has nothing to approve."""
    asked, stated = _WORD.findall(question.lower()), _WORD.findall(statement.lower())
    if not asked or asked[:3] != stated[:3]:
        return False
    return SequenceMatcher(None, asked, stated, autojunk=False).ratio() >= 0.8


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
    shared = content_words(question) & content_words(support)
    # Named as the question writes them ("exclusive", not the stem "exclusiv").
    written = sorted({w for w in _content_tokens(question) if _stem(w) in shared})
    detail = f"similarity {similarity:.2f}, shared words: {', '.join(written[:6]) or 'none'}"
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

_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"forty|fifty|sixty|ninety|hundred|thousand|million|billion|dozen|half|twice|double|"
    r"triple|zero"
)
# An amount: a figure, a number word, or the words that answer "how many" without one
# ("all", "none", "unlimited"). How often has its own rule: "How often will ED review
# accounts?" is not answered by "ED will review accounts of all potential people".
_NUMBER = re.compile(
    rf"\d|\b({_NUMBER_WORDS}|once|all|none|unlimited|no limit|any number|free of charge|"
    r"no charge|no cost|no fee)\b",
    re.IGNORECASE,
)
_TIME_UNIT = (
    r"(milli|micro|nano)?seconds?|secs?|ms|minutes?|mins?|hours?|hrs?|days?|nights?|"
    r"weeks?|fortnights?|months?|quarters?|years?|decades?|business days?|working days?"
)
_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
# A time, a date or a duration ("within 10 days", "at age 62", "on July 1", "every night",
# "immediately"), or a clause saying when ("if …", "when you …", "before you take…"): what a
# "when" question asks for. Any figure is not one ("80 cents", "150 percent").
_TIME = re.compile(
    rf"(\b\d[\d,.]*\s*|\b({_NUMBER_WORDS}|a|an|several|few|many)\s+)(-\s*|to \d+\s*)?"
    rf"({_TIME_UNIT})\b|"
    rf"\b({_MONTHS})\.? \d|\b\d{{1,2}} ({_MONTHS})\b|\b(19|20)\d\d\b|\b\d{{1,2}}:\d\d\b|"
    r"\b(\d{1,2}\s?(a\.?m\.?|p\.?m\.?)|noon|midnight|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|weekends?|weekdays?|today|tomorrow|tonight|yesterday|"
    r"immediately|right away|at once|at any time|anytime|in advance|ahead of time|"
    r"beforehand|afterwards?|daily|nightly|weekly|monthly|yearly|annually|hourly|"
    r"periodically|at startup|on startup|at boot|on boot|on restart|at the (start|end|"
    r"beginning) of|ages? \d+|\d+ years old|deadline|in time|timeouts?|expires?|expired|"
    r"elapses?|elapsed|every (day|night|week|month|year|time)|each (day|week|month|year|"
    r"time))\b|"
    r"\b(if|when|whenever|once|unless|as soon as|after|before|until|till|while|during|"
    r"within|since|in case|as long as|provided that|prior to|upon|by the time)\b",
    re.IGNORECASE,
)
_CONCESSIVE_WHILE = re.compile(r"^\W*while\b", re.IGNORECASE)
# How often: a frequency.
_FREQUENCY = re.compile(
    rf"\b(every|each|per|a|an)( [\d,.]+| few| other| ({_NUMBER_WORDS}))? "
    rf"({_TIME_UNIT}|time|run|call|request)\b|"
    r"\b(\d+|once|twice|three|several|many) times?\b|"
    r"\b(always|never|whenever|each time|every time|continuously|constantly|periodically|"
    r"regularly|daily|nightly|weekly|monthly|yearly|annually|hourly|once|twice)\b",
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
    r"^what (?:is|are|was|were) (?P<article>a |an |the )?(?P<subject>.+?)\??$|"
    r"^what does (?:a |an |the )?(?P<meaning>.+?) mean\??$",
    re.IGNORECASE,
)
_DEFINES = (
    r"\b(is|are|was|were|means|mean|refers|stands|lets|allows|returns|stores|holds|"
    r"contains|shows|gives|makes|keeps|includes|provides|represents|describes|controls|"
    r"can|will|must|should|may|might|could|would|has|have)\b"
)
_MODAL = re.compile(r"^(can|will|must|should|may|might|could|would)$", re.IGNORECASE)
# "is persisted", "are ignored": the sentence says what happens to the subject, not what it
# is. "Is called", "is defined as", "is treated as" do say what it is.
_PARTICIPLE = re.compile(
    r"^([a-z]+ed|done|shown|given|known|sent|kept|held|set|made|written|taken|built|run|"
    r"found|left|put|paid|seen|read|chosen|spent|lost|meant|sold|told|hidden|broken)$",
    re.IGNORECASE,
)
_SAYS_WHAT = re.compile(
    r"^(called|named|known|defined|used|designed|meant|considered|treated|interpreted|"
    r"described|intended|based|composed|made|set)$",
    re.IGNORECASE,
)
# "default user for a new connection": what the subject names comes before these.
_OF_WHAT = re.compile(r"\s+(?:for|of|in|on|to|with|between|from|by|at|that|which)\s+", re.I)
# "What is the variant called?": the asking words around a subject.
_SUBJECT_TAIL = re.compile(r"\s+(called|for|used for|like|about|made of|made up of)$", re.I)


def _what_is_problem(article: str, subject: str, sentence: str) -> str | None:
    """Why the sentence does not answer "What is <subject>?" (None: it does).

    "What is persisted on disk?" asks what undergoes the verb: the sentence must hold that
    verb. "What is the variant called?" names no particular variant: too vague to stand
    alone. Otherwise the sentence must say what the subject is or does: the subject's content
    words before a defining verb in its first clause, the verb not a modal ("Your condition
    must limit…" says what it must do), nor a negation or a passive ("Specified fields … are
    ignored" says what happens to them)."""
    first = subject.split()[0] if subject.split() else ""
    if not article and first.islower() and _PARTICIPLE.match(first) and not _SAYS_WHAT.match(first):
        if content_words(first) & content_words(sentence):
            return None
        return f"asks what is {first}, and the sentence does not say"
    core = _SUBJECT_TAIL.sub("", subject.strip())
    vague = re.fullmatch(r"(?:(?:two|three|both|other|same|first|second|last) )?([a-z]+)", core)
    if article.strip().lower() == "the" and vague:
        return f"too vague to stand alone: which {vague.group(1)}?"
    wanted = content_words(core)
    if not wanted:
        return f"the sentence does not say what {subject!r} is"
    head = re.split(r"[,;:]\s", sentence, maxsplit=1)[0]
    match = re.search(_DEFINES, head, re.IGNORECASE)
    if match is None or _CONDITION.match(head.strip()) or re.match(r"to ", head, re.I):
        # A condition or a purpose ("To see the list … you can call…"), not a statement
        # about the subject.
        return f"the sentence does not say what {subject!r} is"
    before = head[: match.start()]
    if len(wanted & content_words(before)) < max(1, (len(wanted) + 1) // 2):
        return f"the sentence does not say what {subject!r} is"
    # The rest holds only when the sentence's subject is the question's own ("New connections
    # are authenticated with the default user" answers "What is the default user for a new
    # connection?" though its verb is passive).
    named = content_words(_OF_WHAT.split(core, maxsplit=1)[0])
    if not named & content_words(before):
        return None
    verb = match.group(1)
    after = head[match.end() :].split()
    if _MODAL.match(verb):
        return f"the sentence says what {subject!r} {verb.lower()} do, not what it is"
    if verb.lower() in ("is", "are", "was", "were") and after:
        following = after[1].lower() if len(after) > 1 else ""
        if after[0].lower() in ("not", "never"):
            return f"the sentence says what {subject!r} is not"
        if _PARTICIPLE.match(after[0]) and not _SAYS_WHAT.match(after[0]) and following != "as":
            return f"the sentence says what happens to {subject!r}, not what it is"
    return None


_WH = re.compile(r"^(what|which|who|whom|whose|where|when|why|how)\b")
# "When pooled storage reaches 100%, syncing pauses.": the condition a sentence opens with.
_OPENING_CONDITION = re.compile(r"^\W*(?:when|whenever|if|once)\s+(?P<clause>[^,;:]+)[,;:]", re.I)


def _misread(question: str, support: str) -> str | None:
    """Two ways a question reads its sentence backwards. It asks when something happens that
    the sentence only takes as its condition ("When does pooled storage reach 100%?" of "When
    pooled storage reaches 100%, syncing pauses."). Or it already holds all the sentence
    says, so the answer adds nothing ("What happens when the new form is used the command no
    longer returns OK?")."""
    asked = content_words(question) - _LIGHT_VERBS
    opening = _OPENING_CONDITION.match(support)
    if question.startswith("when ") and opening and asked <= content_words(opening["clause"]):
        return "asks when its condition happens; the sentence says what happens then"
    if _WH.match(question) and not content_words(support) - content_words(question):
        return "the question already says all the sentence says: the answer adds nothing"
    return None


_FIGURE_WORD = re.compile(rf"^(\d[\d,.]*|{_NUMBER_WORDS}|several|many|multiple)$", re.IGNORECASE)


def _how_many_problem(question: str, support: str) -> str | None:
    """ "How many <things>?" wants a figure counting those things in the sentence ("25
    members", "up to four credits"), not any figure ("How many positions…?" of "positions are
    encoded using 52 bit integers")."""
    asked = re.match(r"how many ([a-z][\w-]*)", question)
    if asked is None or asked.group(1) in ("times", "time"):
        return None
    thing = _stem(asked.group(1))
    words = _WORD.findall(support.lower())
    for index, word in enumerate(words):
        if _FIGURE_WORD.match(word) and thing in {_stem(w) for w in words[index + 1 : index + 4]}:
            return None
    return f"asks how many {asked.group(1)}, and the sentence counts no {asked.group(1)}"


def gate_answer_type(*, question: str, support: str) -> GateResult:
    """The sentence gives the kind of answer the question's form asks for: a number for how
    many, a time or condition for when, a reason for why, steps for how do I, a consequence
    and a condition for what happens if, and for what is X a sentence about X itself."""
    name = "asks what the sentence says"
    q = " ".join(question.lower().split())
    misread = _misread(q, support)
    if misread:
        return GateResult(name, False, misread)
    checks = [
        (("how often",), _FREQUENCY, "the sentence says nothing about how often"),
        (
            ("how long", "how soon"),
            _TIME,
            "the sentence holds no duration, time or condition for how long",
        ),
        (
            ("how many", "how much", "how far", "how big", "how large"),
            _NUMBER,
            "the sentence holds no number or amount",
        ),
        (
            ("what happens", "what will happen", "what if"),
            _CONDITION,
            "the sentence states no condition and its consequence",
        ),
        (
            ("when ",),
            _TIME,
            "asks when, but the sentence holds no time, date, duration or condition",
        ),
        (("why ",), _REASON, "the sentence gives no reason"),
        (("how do", "how can", "how should", "how to"), _STEPS, "the sentence gives no step"),
    ]
    # A sentence opening on "While" mostly concedes ("While many factors affect retirement
    # planning, …") rather than saying when.
    timed = _CONCESSIVE_WHILE.sub("", support)
    counted = _how_many_problem(q, support)
    if counted:
        return GateResult(name, False, counted)
    for starts, pattern, problem in checks:
        if q.startswith(starts):
            if pattern.search(timed if pattern is _TIME else support):
                return GateResult(name, True, f"'{starts[0].strip()}' answered by the sentence")
            return GateResult(name, False, problem)
    # Matched with its capitals: "What is the ACL?" names a thing, "What is the variant?" not.
    what_is = _WHAT_IS.match(" ".join(question.split()))
    if what_is:
        subject = what_is.group("subject") or what_is.group("meaning") or ""
        problem = _what_is_problem(what_is.group("article") or "", subject, support)
        if problem is None:
            return GateResult(name, True, f"the sentence says what {subject!r} is")
        return GateResult(name, False, problem)
    return GateResult(name, True, "no particular kind of answer asked for")
