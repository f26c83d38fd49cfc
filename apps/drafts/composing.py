"""Drafting a cited reply: retrieve, number the source sentences, let the model choose (or
write against) them, compose the reply, and judge every sentence against what it cites.

Nothing here writes to the database except the LLM call record: `draft_compose` returns a
`Composed` that services store as a draft, and that `eval_answers` scores without storing.

Why the model only chooses by default: the packaged Gemma 3 270M is a base model. Asked to
write, it copies its examples or drifts from the sources; asked to pick sentence ids from an
enum, it cannot cite what it was not given, and the reply quotes the docs verbatim (the app
renders every quote from the stored sentence, never from model text). A bigger model behind
LLM_MODEL_PATH or LLM_BASE_URL can use the "write" design: short sentences each bound to an
id, each judged against the sentence it cites. Both are measured by `eval_answers`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, create_model

from apps.knowledge.chunking import sentence_is_markup, sentences_split
from apps.knowledge.embedding import embed, embedding_model, is_common_word
from apps.knowledge.models import Chunk
from apps.knowledge.selectors import (
    Filters,
    SearchResult,
    chunks_search,
    terms_unknown,
)
from apps.knowledge.services import chunk_sentences_ensure
from apps.knowledge.tagging import active_patterns, error_codes_find
from apps.llm import gates
from apps.llm.prompts import RenderedPrompt, prompt_render
from apps.llm.services import StructuredResult, structured_generate

RANKED, SELECT, WRITE = "ranked", "select", "write"
DESIGNS = (RANKED, SELECT, WRITE)
PROMPTS = {SELECT: "draft_select", WRITE: "draft_write"}
# Source sentences worth citing: whole sentences of prose, not headings or single words.
_MIN_WORDS, _MAX_WORDS = 4, 80
# Numbers, limits, versions and error codes: a reply sentence may only state the ones its
# sources state (a near-paraphrase with the wrong figure reads as supported by meaning).
_FIGURE = re.compile(r"\b(?:[A-Z][A-Z0-9]*[_-][A-Z0-9_-]+|\d+(?:[.,:]\d+)*%?)")


@dataclass
class SourceSentence:
    sid: str
    chunk: Chunk
    start: int
    end: int
    text: str  # exactly chunk.text[start:end]
    similarity: float  # to the ticket

    @property
    def display(self) -> str:
        return " ".join(self.text.split())


@dataclass
class ReplySentence:
    kind: str  # "claim" or "framing"
    text: str
    citations: list[str] = field(default_factory=list)
    verdict: str = ""
    similarity: float | None = None
    reason: str = ""


@dataclass
class Composed:
    status: str  # a Draft.Status value
    design: str
    text: str
    sentences: list[ReplySentence]
    sources: list[SourceSentence]
    escalation_reason: str
    retrieval: dict
    best_similarity: float | None
    checks: list[dict]
    structured: StructuredResult | None
    retrieval_ms: float
    model_ms: float
    total_ms: float

    @property
    def claims(self) -> list[ReplySentence]:
        return [s for s in self.sentences if s.kind == "claim"]

    def count(self, verdict: str) -> int:
        return sum(1 for s in self.claims if s.verdict == verdict)

    @property
    def cited(self) -> set[str]:
        return {sid for s in self.claims for sid in s.citations}


# --- retrieval and source sentences ----------------------------------------------------------


def ticket_query(*, subject: str, body: str, max_words: int = 200) -> str:
    """What retrieval reads: the subject and the start of the body (the embedding model reads
    256 tokens; a long message's first paragraphs carry the problem)."""
    words = " ".join(part for part in (subject.strip(), body.strip()) if part).split()
    return " ".join(words[:max_words])


def _normal_text(text: str) -> str:
    return " ".join(text.split()).lower()


# Markdown a customer should not see in a reply: emphasis and code marks around words.
_MARKUP_MARKS = re.compile(r"(\*\*|__|`)")


def markup_strip(text: str) -> str:
    """Text without Markdown's emphasis and code marks; words and spacing as they are."""
    return _MARKUP_MARKS.sub("", text)


def reply_form(text: str) -> str:
    """A quoted sentence as the reply shows it: its words verbatim, without Markdown marks."""
    return " ".join(markup_strip(text).split())


def _citable(sentence: str) -> bool:
    words = len(sentence.split())
    return _MIN_WORDS <= words <= _MAX_WORDS and not sentence_is_markup(sentence)


def source_sentences(
    *, result: SearchResult, query_vector: np.ndarray, limit: int, per_chunk: int
) -> list[SourceSentence]:
    """The `limit` sentences of the retrieved chunks closest to the ticket (at most `per_chunk`
    from one chunk, so one long page does not crowd out the others), numbered S1.. best
    first. Sentence vectors are stored per chunk (computed on first use)."""
    chunks = [hit.chunk for hit in result.hits]
    ensured = chunk_sentences_ensure(chunks=chunks)
    found = [
        (chunk, sentence)
        for chunk in chunks
        for sentence in ensured[chunk.pk]
        if _citable(chunk.text[sentence.start : sentence.end])
    ]
    if not found:
        return []
    vectors = np.array([np.asarray(sentence.embedding, dtype=np.float32) for _, sentence in found])
    similarities = vectors @ query_vector
    chosen, per, seen = [], {}, set()
    for index in np.argsort(-similarities, kind="stable"):
        chunk, sentence = found[index]
        # Overlapping chunks hold the same sentence twice: it is offered (and cited) once.
        text = _normal_text(chunk.text[sentence.start : sentence.end])
        if per.get(chunk.pk, 0) >= per_chunk or text in seen:
            continue
        seen.add(text)
        per[chunk.pk] = per.get(chunk.pk, 0) + 1
        chosen.append((chunk, sentence, float(similarities[index])))
        if len(chosen) == limit:
            break
    return [
        SourceSentence(f"S{n}", chunk, s.start, s.end, chunk.text[s.start : s.end], similarity)
        for n, (chunk, s, similarity) in enumerate(chosen, start=1)
    ]


# A name in a question: a capitalised word that does not start its sentence, or a token
# mixing letters and digits (an error code, a model number).
_NAME = re.compile(
    r"(?:(?<=[\w,;:)'\"] )|(?<=\())[A-Z][\w-]*|\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]+"
)


def question_names(text: str) -> list[str]:
    """Names the ticket's questions use (its sentences ending with '?', or the whole text when
    none does): what a reply must be about."""
    sentences = [s for s in sentences_split(text) if s.rstrip().endswith("?")] or [text]
    names = [m.group(0).strip("-") for s in sentences for m in _NAME.finditer(s)]
    return [n for n in names if _is_name(n)]


def _is_name(word: str) -> bool:
    """A code (letters and digits), an acronym, or a capitalised word that is not an everyday
    one (the embedding model's vocabulary holds everyday words whole): "E2051", "ARM", "Okta"
    and "Raspberry" are names; "Can", "Friday" and shouted "AGAIN" are not."""
    lower = word.lower()
    if lower in gates.STOP_WORDS:
        return False
    if any(ch.isdigit() for ch in word):
        return True
    if word.isupper():
        return len(word) <= 3 or not is_common_word(lower)
    return not is_common_word(lower)


_CAPITALISED = re.compile(r"\b[A-Z][\w-]*")


def names_missing(*, claim: str, cited: str) -> list[str]:
    """Names (products, vendors, acronyms) a claim uses that the text it cites never does: a
    sentence about Okta citing a passage about SAML in general is not supported by it,
    however alike the two read."""
    present = cited.lower()
    names = dict.fromkeys(m.group(0).strip("-") for m in _CAPITALISED.finditer(claim))
    return [n for n in names if _is_name(n) and n.lower() not in present]


def retrieval_summary(result: SearchResult) -> dict:
    """What a reviewer needs to trust the retrieval: filters applied and inferred (names),
    whether an inferred filter was dropped, and the notices the search screen shows."""
    from apps.knowledge.models import ProductLine

    ids = {*result.filters.product_lines, *result.inferred.product_lines}
    names = dict(ProductLine.objects.filter(pk__in=ids).values_list("pk", "name"))
    return {
        "product_lines": [names.get(pk, str(pk)) for pk in result.filters.product_lines],
        "inferred_product_lines": [names.get(pk, str(pk)) for pk in result.inferred.product_lines],
        "error_categories": result.filters.error_categories,
        "inferred_error_categories": result.inferred.error_categories,
        "dropped_inferred": result.dropped_inferred,
        # Not the search screen's "no good match" note: drafting judges sentences instead.
        "notices": result.notices(weak=False),
        "hits": len(result.hits),
    }


# --- the model's part --------------------------------------------------------------------------


def select_schema(sids: list[str]) -> type[BaseModel]:
    """The ids are an enum: the model cannot cite a sentence it was not given."""
    return create_model(
        "DraftSelection",
        __config__=ConfigDict(extra="forbid"),
        ids=(list[_literal(sids)], Field(max_length=3)),
    )


def write_schema(sids: list[str]) -> type[BaseModel]:
    sentence = create_model(
        "DraftSentenceOut",
        __config__=ConfigDict(extra="forbid"),
        source=(_literal(sids), ...),
        text=(str, Field(min_length=8, max_length=240)),
    )
    return create_model(
        "DraftWriting",
        __config__=ConfigDict(extra="forbid"),
        sentences=(list[sentence], Field(max_length=3)),
    )


def _literal(values: list[str]):
    from typing import Literal

    return Literal[tuple(values)]


def draft_prompt(*, design: str, message: str, sources: list[SourceSentence]) -> RenderedPrompt:
    listed = "\n".join(f"{s.sid}: {s.display}" for s in sources)
    # Line breaks inside the message would read as the start of the next field to a model
    # that continues patterns.
    return prompt_render(PROMPTS[design], message=" ".join(message.split()), sources=listed)


def prompt_example_texts(design: str) -> list[str]:
    """The example sentences the prompt shows: a written reply must not copy them."""
    template = draft_prompt(design=design, message="", sources=[]).template
    return [m for m in re.findall(r'"text": "([^"]+)"', template)]


def _write_check(design: str):
    examples = prompt_example_texts(design)

    def check(value: BaseModel) -> list[str]:
        problems = []
        for s in value.sentences:
            for result in (
                gates.gate_not_an_id(name="sentence", text=s.text),
                gates.gate_not_prompt_copy(
                    name="sentence", text=s.text, examples=examples, limit=0.8
                ),
            ):
                if not result.passed:
                    problems.append(f"{result.name}: {result.detail}")
        return problems

    return check


def model_choose(
    *, design: str, message: str, sources: list[SourceSentence], backend=None
) -> StructuredResult:
    sids = [s.sid for s in sources]
    prompt = draft_prompt(design=design, message=message, sources=sources)
    if design == SELECT:
        return structured_generate(
            purpose="draft_reply",
            prompt=prompt,
            schema=select_schema(sids),
            max_tokens=40,
            backend=backend,
        )
    return structured_generate(
        purpose="draft_reply",
        prompt=prompt,
        schema=write_schema(sids),
        max_tokens=200,
        backend=backend,
        check=_write_check(design),
    )


# --- composing and judging -------------------------------------------------------------------


def greeting(customer_name: str) -> str:
    first = customer_name.split()[0] if customer_name.strip() else ""
    return f"Hello {first}," if first else "Hello,"


CLOSING = "If this does not solve it, reply to this message and we will look into it further."
ESCALATION_TEXT = (
    "The documentation does not answer this ticket; a person must write this reply. "
    "Reason: {reason}"
)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def off_topic_codes(*, ticket: str, sources: list[SourceSentence]) -> list[SourceSentence]:
    """The sources minus sentences about another error code than the ticket's: a ticket quoting
    E2051 is not answered by what ERR_SYNC_TIMEOUT means. Without codes in the ticket, all."""
    patterns = active_patterns()
    codes = set(error_codes_find(text=ticket, patterns=patterns))
    if not codes:
        return sources
    kept = []
    for source in sources:
        named = set(error_codes_find(text=source.text, patterns=patterns))
        if not named or named & codes:
            kept.append(source)
    return kept


def ranked_claims(*, sources: list[SourceSentence], limit: int) -> list[ReplySentence]:
    """No model: the sentences closest to the ticket within DRAFT_RELEVANCE_MARGIN of the best
    (a weaker one is noise to remove). First the best sentence of each document, then second
    sentences of the same documents (at most DRAFT_SENTENCES_PER_DOCUMENT each) while room is
    left: a reply quoting two pages is right more often than one quoting one page twice when
    that page is the wrong one (doc2dial, README), and the next sentence of the right page is
    often the fix. Best first."""
    if not sources:
        return []
    floor = max(
        settings.DRAFT_MIN_SIMILARITY, sources[0].similarity - settings.DRAFT_RELEVANCE_MARGIN
    )
    relevant = [s for s in sources if s.similarity >= floor]
    chosen: list[SourceSentence] = []
    for cap in range(1, settings.DRAFT_SENTENCES_PER_DOCUMENT + 1):
        for source in relevant:
            per_document = sum(1 for c in chosen if c.chunk.document_id == source.chunk.document_id)
            if len(chosen) < limit and source not in chosen and per_document < cap:
                chosen.append(source)
    chosen.sort(key=lambda s: -s.similarity)
    return [ReplySentence("claim", reply_form(s.text), [s.sid]) for s in chosen]


def claims_from(
    *, design: str, value: BaseModel, sources: list[SourceSentence]
) -> list[ReplySentence]:
    by_sid = {s.sid: s for s in sources}
    if design == SELECT:
        # In source order within the reply would scatter a page's steps; keep the order the
        # model gave, but each sentence once.
        ids = list(dict.fromkeys(value.ids))
        return [ReplySentence("claim", reply_form(by_sid[sid].text), [sid]) for sid in ids]
    return [
        ReplySentence("claim", " ".join(s.text.split()), [s.source])
        for s in value.sentences
        if s.source in by_sid
    ]


def sentences_judge(*, claims: list[ReplySentence], sources: list[SourceSentence]) -> None:
    """A support verdict for every claim, against the sentences it cites: the app's, never the
    model's. Verbatim quotes are supported; otherwise embedding similarity decides, and a figure
    or code the cited text does not state makes the sentence unsupported whatever its meaning."""
    by_sid = {s.sid: s for s in sources}
    pending = []
    for claim in claims:
        cited = [by_sid[sid] for sid in claim.citations if sid in by_sid]
        if not cited:
            claim.verdict, claim.reason = "unsupported", "cites no source"
            continue
        cited_text = " ".join(s.display for s in cited)
        missing = sorted(set(_FIGURE.findall(claim.text)) - set(_FIGURE.findall(cited_text)))
        unnamed = names_missing(claim=claim.text, cited=cited_text)
        if any(claim.text == reply_form(s.text) for s in cited):
            claim.verdict, claim.similarity, claim.reason = "supported", 1.0, "quotes its source"
        elif missing:
            claim.verdict = "unsupported"
            claim.reason = f"states {', '.join(missing)}, which the cited text does not"
        elif unnamed:
            claim.verdict = "unsupported"
            claim.reason = f"names {', '.join(unnamed)}, which the cited text does not"
        else:
            pending.append((claim, cited_text))
    if not pending:
        return
    vectors = embed([t for c, _ in pending for t in (c.text, _)])
    for n, (claim, _) in enumerate(pending):
        similarity = float(vectors[2 * n] @ vectors[2 * n + 1])
        claim.similarity = similarity
        if similarity >= settings.DRAFT_SUPPORTED_SIMILARITY:
            claim.verdict, claim.reason = "supported", f"similarity {similarity:.2f} to its source"
        elif similarity >= settings.DRAFT_WEAK_SIMILARITY:
            claim.verdict, claim.reason = "weak", f"only {similarity:.2f} like its source"
        else:
            claim.verdict, claim.reason = "unsupported", f"{similarity:.2f} like its source"


def citation_numbers(citations: list[list[str]]) -> dict[str, int]:
    """Marker number of each cited source id: the order in which the reply first cites them.
    The one numbering of a draft, for its text, its page and its review."""
    numbers: dict[str, int] = {}
    for sids in citations:
        for sid in sids:
            numbers.setdefault(sid, len(numbers) + 1)
    return numbers


def reply_text(sentences: list[ReplySentence], sources: list[SourceSentence]) -> str:
    """Claims carry numbered markers [1].. in the order sources are first cited."""
    numbers = citation_numbers([s.citations for s in sentences])
    lines = []
    for s in sentences:
        marks = "".join(f"[{numbers[sid]}]" for sid in s.citations)
        lines.append(f"{s.text} {marks}".strip())
    return "\n\n".join(lines)


def _claims_gate(name: str, results: list[gates.GateResult]) -> gates.GateResult:
    """One line of the report for a gate run on every claim (the shared Q&A gates)."""
    failed = [r.detail for r in results if not r.passed]
    return gates.GateResult(name, not failed, "; ".join(failed) or "every sentence")


def draft_checks(
    *,
    composed_claims: list[ReplySentence],
    sources: list[SourceSentence],
    examples: list[str] = (),
) -> list[gates.GateResult]:
    """What a reviewer sees as the draft's check report."""
    sids = {s.sid for s in sources}
    cited = [sid for c in composed_claims for sid in c.citations]
    verbatim = all(s.chunk.text[s.start : s.end] == s.text for s in sources)
    unsupported = sum(1 for c in composed_claims if c.verdict == "unsupported")
    weak = sum(1 for c in composed_claims if c.verdict == "weak")
    best = max((s.similarity for s in sources if s.sid in set(cited)), default=0.0)
    texts = [c.text for c in composed_claims]
    return [
        _claims_gate(
            "no sentence is an id", [gates.gate_not_an_id(name="sentence", text=t) for t in texts]
        ),
        _claims_gate(
            "nothing copied from the prompt",
            [
                gates.gate_not_prompt_copy(
                    name="sentence", text=t, examples=list(examples), limit=0.8
                )
                for t in texts
            ],
        ),
        gates.GateResult(
            "cites only given sources",
            all(sid in sids for sid in cited),
            f"cites {', '.join(dict.fromkeys(cited)) or 'nothing'}",
        ),
        gates.GateResult(
            "quotes are verbatim", verbatim, "every quote is the stored sentence of its chunk"
        ),
        gates.GateResult(
            "every sentence supported",
            bool(composed_claims) and unsupported == 0,
            f"{len(composed_claims)} sentence(s): {unsupported} unsupported, {weak} weak",
        ),
        gates.GateResult(
            "cited text matches the ticket",
            best >= settings.DRAFT_MIN_SIMILARITY,
            f"best cited sentence {best:.2f} like the ticket "
            f"(needs {settings.DRAFT_MIN_SIMILARITY:.2f})",
        ),
    ]


def draft_compose(
    *,
    subject: str,
    body: str,
    customer_name: str = "",
    product_line_id: int | None = None,
    design: str | None = None,
    k: int | None = None,
    backend=None,
) -> Composed:
    """Everything a draft is, computed; nothing stored but the LLM call."""
    design = design or settings.DRAFT_DESIGN
    # A worker's first draft loads the embedding model (seconds): that is start-up, not this
    # draft's retrieval, so it happens before the clock starts.
    embedding_model()
    started = time.perf_counter()
    query = ticket_query(subject=subject, body=body)
    query_vector = embed([query])[0]
    explicit = Filters(product_lines=[product_line_id]) if product_line_id else None
    result = chunks_search(
        query=query, filters=explicit, k=k or settings.DRAFT_CHUNKS, query_vector=query_vector
    )
    sources = source_sentences(
        result=result,
        query_vector=query_vector,
        limit=settings.DRAFT_SOURCE_SENTENCES,
        per_chunk=settings.DRAFT_SENTENCES_PER_CHUNK,
    )
    sources = _renumbered(off_topic_codes(ticket=f"{subject} {body}", sources=sources))
    unknown = terms_unknown(terms=question_names(body))
    retrieval_ms = (time.perf_counter() - started) * 1000
    outcome = _Outcome(design, result, sources, retrieval_ms, started, customer_name)
    reason = _escalation_reason(result, sources, unknown)
    if reason:
        return outcome.escalated(reason)
    if design == RANKED:
        return outcome.finished(None)
    message = ticket_query(subject=subject, body=body, max_words=120)
    structured = model_choose(design=design, message=message, sources=sources, backend=backend)
    return outcome.finished(structured)


def _renumbered(sources: list[SourceSentence]) -> list[SourceSentence]:
    for n, source in enumerate(sources, start=1):
        source.sid = f"S{n}"
    return sources


def _escalation_reason(
    result: SearchResult, sources: list[SourceSentence], unknown: list[str]
) -> str:
    """Why the documentation cannot answer, or "" when it may. Measured on sentences, not
    chunks: a ticket is longer and vaguer than a search, and the one sentence that answers
    it says more than the page around it (see DRAFT_MIN_SIMILARITY)."""
    if not result.hits or not sources:
        return "no document matches the ticket under the filters used."
    if unknown:
        return (
            f"the ticket asks about {', '.join(unknown)}, which the documentation never mentions."
        )
    best = sources[0].similarity
    if best < settings.DRAFT_MIN_SIMILARITY:
        return (
            f"the closest sentence in the documentation is only {best:.2f} similar to the "
            f"ticket (a useful one is at least {settings.DRAFT_MIN_SIMILARITY:.2f})."
        )
    return ""


@dataclass
class _Outcome:
    design: str
    result: SearchResult
    sources: list[SourceSentence]
    retrieval_ms: float
    started: float
    customer_name: str

    def _composed(self, **fields) -> Composed:
        defaults = {
            "design": self.design,
            "sources": self.sources,
            "retrieval": retrieval_summary(self.result),
            # The best sentence, what escalation is decided on (a page's similarity is lower).
            "best_similarity": self.sources[0].similarity if self.sources else None,
            "retrieval_ms": self.retrieval_ms,
            "total_ms": (time.perf_counter() - self.started) * 1000,
            "escalation_reason": "",
            "checks": [],
            "structured": None,
            "model_ms": 0.0,
        }
        return Composed(**{**defaults, **fields})

    def escalated(self, reason: str, **fields) -> Composed:
        reason = _sentence(reason)
        text = ESCALATION_TEXT.format(reason=reason)
        return self._composed(
            status="escalated",
            text=text,
            sentences=[],
            escalation_reason=reason,
            **fields,
        )

    def finished(self, structured: StructuredResult | None) -> Composed:
        if structured is None:
            claims = ranked_claims(sources=self.sources, limit=settings.DRAFT_REPLY_SENTENCES)
            return self._judged(claims, None, 0.0)
        model_ms = structured.call.total_ms
        if structured.needs_human:
            return self._composed(
                status="needs_human",
                text="",
                sentences=[],
                structured=structured,
                model_ms=model_ms,
                escalation_reason="The model gave no valid output after "
                f"{structured.call.attempts} attempt(s); its raw output is kept.",
            )
        claims = claims_from(design=self.design, value=structured.value, sources=self.sources)
        return self._judged(claims, structured, model_ms)

    def _judged(
        self, claims: list[ReplySentence], structured: StructuredResult | None, model_ms: float
    ) -> Composed:
        if not claims:
            reason = "no retrieved sentence is close enough to the ticket."
            if structured is not None:
                reason = "the model found no sentence in the retrieved passages that answers it."
            return self.escalated(reason, structured=structured, model_ms=model_ms)
        sentences_judge(claims=claims, sources=self.sources)
        examples = prompt_example_texts(self.design) if self.design in PROMPTS else []
        results = draft_checks(composed_claims=claims, sources=self.sources, examples=examples)
        sentences = [
            ReplySentence("framing", greeting(self.customer_name)),
            *claims,
            ReplySentence("framing", CLOSING),
        ]
        return self._composed(
            status="failed_checks" if gates.gates_failed(results) else "ready",
            text=reply_text(sentences, self.sources),
            sentences=sentences,
            checks=[r.as_dict() for r in results],
            structured=structured,
            model_ms=model_ms,
        )
