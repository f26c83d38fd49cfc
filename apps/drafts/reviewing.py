"""A reply's text as people edit it: sentences with their [n] markers, checked again against
what they cite. Nothing here writes to the database.

The text a reviewer edits is the draft's reply with its markers ("Open Settings. [1]"). A
marker belongs to the sentence it ends (or sits in), so editing the words of a sentence keeps
its citation, and a reviewer can cite any source the draft was given by typing its number.
A sentence without a marker is a claim that cites nothing (unsupported) unless it is framing:
a greeting, a sign-off, or a framing sentence the app itself wrote into the draft.
"""

from __future__ import annotations

import re
from dataclasses import asdict

from apps.drafts.composing import (
    ReplySentence,
    SourceSentence,
    citation_numbers,
    markup_strip,
    sentences_judge,
)
from apps.drafts.models import Draft, DraftSource
from apps.knowledge.chunking import sentences_split

MARKER = re.compile(r"\[(\d{1,3})\]")
_LEADING_MARKERS = re.compile(r"^((?:\[\d{1,3}\]\s*)+)(.*)$", re.S)
# Framing needs no source, so it must be nothing but framing: a greeting or sign-off followed
# by at most six words that are names (capitalised) or the few words such lines are made of
# ("Thanks for your patience." is framing; "Thanks, we refunded you." and "Kind regards,
# your account has been upgraded." are claims).
_FRAMING_WORDS = (
    r"(?:[A-Z][\w'.-]*|all|team|there|everyone|for|your|the|our|patience|help|waiting|"
    r"reaching|out|contacting|us|writing|in|advance|and|from|support|again|very|much|so|"
    r"thanks|thank|you|details|message|question|letting|know)"
)
_FRAMING_TAIL = r"(?:[ ,]+" + _FRAMING_WORDS + r"){0,6}[ ]*[,!.]?"
# Only the opening word ignores case: a name in the tail must be capitalised.
_GREETING = re.compile(
    r"^(?i:hello|hi|hey|dear|good (?:morning|afternoon|evening))" + _FRAMING_TAIL + "$"
)
_SIGN_OFF = re.compile(
    r"^(?i:thanks|thank you|many thanks|best|regards|kind regards|best regards|best wishes|"
    r"sincerely|cheers)" + _FRAMING_TAIL + "$"
)


def source_numbers(*, draft: Draft) -> dict[int, DraftSource]:
    """Marker number → source: the draft's cited sources in the order its reply first cites
    them (the numbers its text already carries), then the sources it did not cite, so a
    reviewer can cite those too."""
    sources = list(draft.sources.all())
    order = citation_numbers([s.citations for s in draft.sentences.all()])
    by_sid = {s.sid: s for s in sources}
    numbered = {n: by_sid[sid] for sid, n in order.items() if sid in by_sid}
    for source in sources:
        if source.sid not in order:
            numbered[len(numbered) + 1] = source
    return numbered


_HEADING_LINE = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def source_section(source: DraftSource) -> str:
    """The section a source sentence sits in: the last heading above it in its chunk (a chunk
    may span several sections), else the chunk's heading path without the document title it
    usually starts with (the title is shown next to it)."""
    chunk = source.chunk
    if chunk is not None and chunk.text[source.start : source.end] == source.text:
        headings = _HEADING_LINE.findall(chunk.text[: source.start])
        if headings:
            return markup_strip(headings[-1]).strip()
    path = source.heading_path
    title = source.document_title
    if title and path.startswith(title):
        path = path[len(title) :].lstrip(" >\u203a")
    return path


_HEADING_MARKS = re.compile(r"^#{1,6}[ \t]+", re.M)
_FENCE = re.compile(r"^```[\w-]*[ \t]*$", re.M)


def passage_plain(text: str) -> str:
    """A passage around a quoted sentence as a reviewer reads it: without Markdown's heading
    hashes, code fences and emphasis marks (the words stay as they are)."""
    return markup_strip(_FENCE.sub("", _HEADING_MARKS.sub("", text)))


def text_clean(text: str) -> str:
    """The reply as a customer reads it: markers removed, spacing kept tidy."""
    paragraphs = [" ".join(MARKER.sub(" ", p).split()) for p in text.split("\n\n")]
    return "\n\n".join(p.replace(" .", ".").replace(" ,", ",") for p in paragraphs if p)


def _pieces(text: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, its marker numbers), a marker following a sentence end
    belonging to the sentence before it."""
    pieces: list[tuple[str, list[int]]] = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        for sentence in sentences_split(paragraph):
            leading = _LEADING_MARKERS.match(sentence)
            if leading and pieces:
                pieces[-1][1].extend(int(n) for n in MARKER.findall(leading.group(1)))
                sentence = leading.group(2).strip()
            if not sentence:
                continue
            numbers = [int(n) for n in MARKER.findall(sentence)]
            words = " ".join(MARKER.sub(" ", sentence).split())
            words = re.sub(r"\s+([.,;:!?])", r"\1", words)
            if words:
                pieces.append((words, numbers))
            elif pieces:
                pieces[-1][1].extend(numbers)
    return pieces


def _is_framing(text: str, framing: set[str]) -> bool:
    return text in framing or bool(_GREETING.match(text) or _SIGN_OFF.match(text))


def text_verify(*, text: str, draft: Draft) -> list[dict]:
    """Every sentence of `text`, judged again against the sources its markers cite (the
    verdict rules of the draft: verbatim quote, figures, similarity). A sentence the AI
    draft had word for word, with the same citations, keeps its verdict without a new
    embedding. `changed` marks sentences that are not the AI's."""
    numbers = source_numbers(draft=draft)
    known = {(s.text, tuple(s.citations)): s for s in draft.sentences.all()}
    framing = {s.text for s in draft.sentences.all() if s.kind == "framing"}
    sentences: list[ReplySentence] = []
    extras: list[dict] = []
    to_judge: list[ReplySentence] = []
    for words, marks in _pieces(text):
        marks = list(dict.fromkeys(marks))
        unknown = [n for n in marks if n not in numbers]
        sids = [numbers[n].sid for n in marks if n in numbers]
        if not marks and _is_framing(words, framing):
            sentence = ReplySentence("framing", words)
        else:
            sentence = ReplySentence("claim", words, sids)
            ai = known.get((words, tuple(sids)))
            if unknown:
                sentence.verdict = "unsupported"
                listed = ", ".join(f"[{n}]" for n in unknown)
                sentence.reason = f"Cites {listed}, which is not one of this draft's sources"
            elif ai is not None and ai.kind == "claim":
                sentence.verdict, sentence.similarity = ai.verdict, ai.similarity
                sentence.reason = ai.reason
            else:
                to_judge.append(sentence)
        sentences.append(sentence)
        extras.append({"markers": marks, "changed": (words, tuple(sids)) not in known})
    sources = [_as_source(s) for s in numbers.values()]
    sentences_judge(claims=to_judge, sources=sources)
    return [
        {**asdict(s), **extra, "reason": s.reason[:1].upper() + s.reason[1:]}
        for s, extra in zip(sentences, extras, strict=True)
    ]


def _as_source(source: DraftSource) -> SourceSentence:
    return SourceSentence(
        sid=source.sid,
        chunk=None,
        start=source.start,
        end=source.end,
        text=source.text,
        similarity=source.similarity,
    )


def verdict_counts(sentences: list[dict]) -> dict[str, int]:
    claims = [s for s in sentences if s["kind"] == "claim"]
    return {
        "sentence_count": len(claims),
        "unsupported_count": sum(1 for s in claims if s["verdict"] == "unsupported"),
        "weak_count": sum(1 for s in claims if s["verdict"] == "weak"),
    }
