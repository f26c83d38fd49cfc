"""Draft replies: quality and time per design on doc2dial, with the raw parts measured in the
same run so the overhead of drafting is visible.

References, on the same questions: raw retrieval (`chunks_search` alone) and raw generation (the
packaged model completing the "select" prompt, nothing else). Designs: "ranked" twice (the first
pass embeds and stores the sentences of every chunk it reads, the second finds them stored),
"select" and "write" with the real model. Quality figures are eval_answers' own."""

import json
import random
import time
from pathlib import Path

from django.conf import settings

from apps.core.stats import percentile
from apps.drafts import composing, evaluation
from apps.knowledge.embedding import embed
from apps.knowledge.models import ChunkSentence, ProductLine
from apps.knowledge.selectors import Filters, chunks_search
from apps.llm.backends import backend_get
from tests.bench.search import doc2dial_ingest

DOC2DIAL = settings.BASE_DIR.parent / "shared" / "data" / "doc2dial"
QUALITY = (
    "citation_gold_rate",
    "escalation_rate",
    "needs_human_rate",
    "supported_sentence_rate",
    "unsupported_sentences",
    "verbatim_quote_rate",
    "token_f1",
    "rouge_l",
    "total_ms_p50",
    "total_ms_p95",
    "ms_per_token_p50",
)


def _questions(n: int) -> list:
    questions = evaluation.questions_read(path=Path(DOC2DIAL / "queries.jsonl"))
    random.Random(0).shuffle(questions)
    return questions[:n]


def _timings(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None}
    return {"p50": round(percentile(values, 0.5), 1), "p95": round(percentile(values, 0.95), 1)}


def _raw_parts(questions: list) -> dict:
    """Retrieval alone and generation alone, per question."""
    lines = {p.name.lower(): p.pk for p in ProductLine.objects.all()}
    backend = backend_get()
    retrieval, generation, per_token = [], [], []
    for q in questions:
        started = time.perf_counter()
        vector = embed([q.question])[0]
        line = lines.get(q.product_line.lower())
        result = chunks_search(
            query=q.question,
            filters=Filters(product_lines=[line]) if line else None,
            k=settings.DRAFT_CHUNKS,
            query_vector=vector,
        )
        retrieval.append((time.perf_counter() - started) * 1000)
        sources = composing.source_sentences(
            result=result,
            query_vector=vector,
            limit=settings.DRAFT_SOURCE_SENTENCES,
            per_chunk=settings.DRAFT_SENTENCES_PER_CHUNK,
        )
        if not sources:
            continue
        prompt = composing.draft_prompt(design="select", message=q.question, sources=sources)
        schema = composing.select_schema([s.sid for s in sources]).model_json_schema()
        completion = backend.complete(prompt.text, json_schema=schema, max_tokens=40, seed=0)
        generation.append(completion.total_ms)
        if completion.ms_per_output_token:
            per_token.append(completion.ms_per_output_token)
    return {
        "retrieval_ms": _timings(retrieval),
        "generation_ms": _timings(generation),
        "generation_ms_per_token": _timings(per_token),
    }


def _design(questions: list, design: str) -> dict:
    report = evaluation.answers_evaluate(questions=questions, design=design)
    return {key: report["overall"][key] for key in QUALITY}


def run(*, questions: int = 60) -> dict:
    doc2dial_ingest()
    chosen = _questions(questions)
    ChunkSentence.objects.all().delete()
    results = {"questions": len(chosen), "k": settings.DRAFT_CHUNKS}
    results["ranked_cold"] = _design(chosen, "ranked")
    results["ranked"] = _design(chosen, "ranked")
    results["raw"] = _raw_parts(chosen)
    for design in ("select", "write"):
        results[design] = _design(chosen, design)
    print(json.dumps(results), flush=True)
    return results
