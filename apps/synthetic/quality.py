"""What the model is asked for a pair, and the automatic checks a pair passes before a person
sees it.

The packaged model is a small *base* model: it continues patterns well and follows
instructions badly. So the app picks the supporting sentence itself (informative sentences
first, by the kind of question), the model only writes a short question for that sentence by
continuing neutral-domain examples, and the answer is the sentence itself (extractive). The
checks then refuse what is still wrong: a copied example, an id, a question the sentence does
not answer, a question the product's own search cannot lead back to its source, a duplicate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field

from apps.knowledge import embedding
from apps.knowledge.chunking import sentences_split
from apps.knowledge.models import Chunk
from apps.knowledge.selectors import Filters, chunks_search
from apps.llm import gates
from apps.llm.prompts import RenderedPrompt, prompt_render
from apps.synthetic.selectors import duplicate_earliest

PROMPT_NAME = "qa_question"
_EXAMPLE = re.compile(r'^Fact: (?P<fact>.+)\nJSON: \{"question": "(?P<question>.+)"\}$', re.M)
_DIGIT = re.compile(r"\d")
_CODE = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|\b[A-Z]{1,4}\d{3,}\b")
_STEP = re.compile(r"\b(click|open|run|set|use|go to|select|enable|disable|choose|add)\b", re.I)
_CONDITION = re.compile(r"\b(if|when|unless|after|before|once)\b", re.I)
_MARKUP = re.compile(r"^\s*(#|```|\||<|\{\{|!\[)")
# A sentence that leans on what came before it ("This is obtained by using the -r switch.",
# "In this case…", "the example above") cannot be an answer on its own: a reviewer saw such
# pairs pass every check, so they are not asked about at all.
_NEEDS_CONTEXT = re.compile(
    r"^\W*(this|these|that|those|it|they|such|here|there|see|also|however|otherwise)\b|"
    r"\b(this|that|these|those) (case|example|option|command|mode|setting|step|page|one)s?\b|"
    r"\b(above|below|the following|as follows|previous(ly)?)\b",
    re.IGNORECASE,
)
# Words a question kind is about: a sentence holding them makes a better pair of that kind.
_KIND_SIGNAL = {
    "limits": _DIGIT,
    "error_code": _CODE,
    "how_to": _STEP,
    "what_if": _CONDITION,
    "plan_difference": re.compile(r"\b(plan|only|not available|unlike|while)\b", re.I),
}


class QuestionDraft(BaseModel):
    """All the model writes: a question. The answer is the chosen sentence itself."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=10, max_length=200)


@dataclass(frozen=True)
class Support:
    index: int
    sentence: str


# --- choosing what to ask about ----------------------------------------------------------


def support_candidates(*, text: str, kind: str) -> list[Support]:
    """Sentences worth a question, best first: whole sentences of prose (not headings, code or
    table rows, not ones that only make sense after the sentence before them) of 6 to 60
    words, ranked by content words plus a bonus for what the kind of question is about
    (figures for limits, codes for error codes, …). Ties keep text order."""
    signal = _KIND_SIGNAL.get(kind)
    scored = []
    for index, sentence in enumerate(sentences_split(text)):
        words = len(sentence.split())
        if not 6 <= words <= 60 or _MARKUP.match(sentence) or sentence.rstrip()[-1:] not in ".!":
            continue
        if _NEEDS_CONTEXT.search(sentence):
            continue
        score = len(gates.content_words(sentence)) + (
            4 if signal and signal.search(sentence) else 0
        )
        scored.append((-score, index, sentence))
    return [Support(index, sentence) for _, index, sentence in sorted(scored)]


def support_for_slot(*, text: str, kind: str, n: int) -> Support | None:
    """The n-th pair of a chunk asks about its n-th best sentence, so pairs of one chunk
    differ."""
    candidates = support_candidates(text=text, kind=kind)
    return candidates[n % len(candidates)] if candidates else None


# --- the prompt ------------------------------------------------------------------------------


def question_prompt(*, sentence: str, attempt: int = 0) -> RenderedPrompt:
    """The few-shot prompt; a retry shows the examples in another order (a base model leans on
    the last example it saw), on top of sampling."""
    prompt = prompt_render(PROMPT_NAME, sentence=" ".join(sentence.split()))
    if attempt == 0:
        return prompt
    blocks = prompt.text.split("\n\n")
    head, examples, tail = blocks[0], blocks[1:-1], blocks[-1]
    shift = attempt % len(examples)
    rotated = examples[shift:] + examples[:shift]
    text = "\n\n".join([head, *rotated, tail])
    return RenderedPrompt(prompt.name, prompt.content_hash, prompt.template, text)


def prompt_example_texts() -> list[str]:
    """Every fact and question the prompt shows: output resembling one is a copy."""
    template = prompt_render(PROMPT_NAME, sentence="").template
    return [text for match in _EXAMPLE.finditer(template) for text in match.groups()]


# --- the checks -----------------------------------------------------------------------------


def pair_checks(
    *, question: str, answer: str, quote: str, chunk: Chunk | None, before: int | None = None
) -> list[gates.GateResult]:
    """Every automatic check on a pair's text, in the order a reviewer reads them."""
    examples = prompt_example_texts()
    limit = settings.SYNTHETIC_COPY_LIMIT
    results = [
        gates.gate_is_question(text=question),
        gates.gate_not_an_id(name="question", text=question),
        gates.gate_not_prompt_copy(name="question", text=question, examples=examples, limit=limit),
        gates.gate_not_empty(name="answer", text=answer),
        gates.gate_not_an_id(name="answer", text=answer),
        gates.gate_not_truncated(name="answer", text=answer),
        gates.gate_not_prompt_copy(name="answer", text=answer, examples=examples, limit=limit),
    ]
    if not question.strip() or not quote.strip():
        return results
    results.append(gates.gate_answer_type(question=question, support=quote))
    question_vector, quote_vector = embedding.embed([question, quote])
    results.append(
        gates.gate_answerable(
            question=question,
            support=quote,
            similarity=float(question_vector @ quote_vector),
            min_similarity=settings.SYNTHETIC_ANSWERABLE_SIMILARITY,
            min_shared=1,
        )
    )
    if chunk is not None:
        rank = round_trip_rank(question=question, vector=question_vector, chunk=chunk, quote=quote)
        results.append(gates.gate_round_trip(rank=rank, k=settings.SYNTHETIC_ROUND_TRIP_K))
    results.append(duplicate_gate(vector=question_vector, before=before))
    return results


def round_trip_rank(*, question: str, vector, chunk: Chunk, quote: str) -> int | None:
    """Where the product's own search (hybrid, within the pair's product line) puts the source:
    the chunk itself, or a chunk of the same document holding the quoted sentence (chunks
    overlap)."""
    filters = Filters(product_lines=[chunk.product_line_id] if chunk.product_line_id else [])
    result = chunks_search(
        query=question,
        filters=filters,
        k=settings.SYNTHETIC_ROUND_TRIP_K,
        infer_filters=False,
        query_vector=vector,
    )
    wanted = " ".join(quote.split())
    for rank, hit in enumerate(result.hits, start=1):
        same = hit.chunk.pk == chunk.pk
        holds = hit.chunk.document_id == chunk.document_id and wanted in " ".join(
            hit.chunk.text.split()
        )
        if same or holds:
            return rank
    return None


def duplicate_gate(*, vector, before: int | None) -> gates.GateResult:
    earliest = duplicate_earliest(embedding=vector, before=before)
    if earliest is None:
        return gates.gate_not_duplicate(duplicate_of=None)
    return gates.gate_not_duplicate(duplicate_of=earliest.pk, similarity=1 - earliest.distance)


def checks_as_json(results: list[gates.GateResult], *, version: int) -> list[dict]:
    """Stored with the pair version they were run on: after an edit, the screen says whether
    it shows the checks of the AI's text or of the edited one."""
    return [{**result.as_dict(), "version": version} for result in results]
