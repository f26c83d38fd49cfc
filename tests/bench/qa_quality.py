"""Synthetic Q&A quality on real docs with the configured model (the packaged Gemma 3 270M by
default): generation runs over `chunks` chunks of doc2dial and of redis-docs, through the
product's own services, and the automatic checks' verdicts.

Figures: share of pairs that pass every check (what reaches the review queue), the same on
the model's first try alone (the reference, measured in the same run: what retries and
questions the app composes add), how many queued questions the app composed, the share of
otherwise passing pairs that round-trip, distinct questions in the queue, pairs in the queue
whose question or answer is an id or a prompt example (must be 0), the reasons pairs were
refused, and the best and worst examples."""

import json
import os
import re
import time
from collections import Counter
from pathlib import Path

from django.conf import settings

from apps.knowledge import services as knowledge
from apps.knowledge.models import Document, ProductLine
from apps.llm import gates
from apps.llm.models import LLMCall
from apps.synthetic import quality, services
from apps.synthetic.models import QAPair

DATA = settings.BASE_DIR.parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
CORPORA = {
    "doc2dial": lambda: [
        knowledge.UploadedFile(
            name="corpus.jsonl", data=(DATA / "doc2dial" / "corpus.jsonl").read_bytes()
        )
    ],
    "redis-docs": lambda: [
        knowledge.UploadedFile(
            name=path.name, data=path.read_bytes(), external_id=f"redis/{path.name}"
        )
        for path in sorted((DATA / "redis-docs").rglob("*.md"))[:150]
    ],
}


def _load(name: str) -> list[int]:
    line = ProductLine.objects.get_or_create(name="Redis", slug="redis")[0]
    before = set(Document.objects.values_list("pk", flat=True))
    job = knowledge.ingest_job_create(
        files=CORPORA[name](),
        source="bench",
        product_line=line if name == "redis-docs" else None,
    )
    knowledge.ingest_job_run(job_id=job.pk)
    return sorted(set(Document.objects.values_list("pk", flat=True)) - before)


def _is_copy(text: str) -> bool:
    examples = quality.prompt_example_texts()
    return not gates.gate_not_prompt_copy(
        name="", text=text, examples=examples, limit=settings.SYNTHETIC_COPY_LIMIT
    ).passed


def _summary(run) -> dict:
    pairs = list(run.pairs.order_by("id"))
    queued = [p for p in pairs if p.status == QAPair.Status.PENDING]
    refused = [p for p in pairs if p.status == QAPair.Status.FAILED_CHECKS]
    reasons = Counter(c["name"] for p in refused for c in p.failed_checks)
    calls = LLMCall.objects.filter(pk__in=[p.llm_call_id for p in pairs if p.llm_call_id])
    first_try = sum(c.attempts == 1 and c.checks_passed for c in calls)
    others_pass = [
        p
        for p in pairs
        if p.checks and all(c["passed"] for c in p.checks if c["name"] != "finds its source")
    ]
    round_trip = [
        p
        for p in others_pass
        if any(c["name"] == "finds its source" and c["passed"] for c in p.checks)
    ]
    bad = [
        p
        for p in queued
        if not gates.gate_not_an_id(name="", text=p.question).passed
        or not gates.gate_not_an_id(name="", text=p.answer).passed
        or _is_copy(p.question)
        or _is_copy(p.answer)
    ]
    ranked = sorted(queued, key=_similarity, reverse=True)
    return {
        "pairs": len(pairs),
        "passed_every_check": len(queued),
        "pass_rate": round(len(queued) / len(pairs), 3) if pairs else None,
        "first_try_pass_rate": round(first_try / len(pairs), 3) if pairs else None,
        # The model is asked only about sentences the app cannot compose a question for.
        "model_asked": len(calls),
        "model_first_try_pass_rate": round(first_try / len(calls), 3) if calls else None,
        "model_output_invalid": sum(p.status == QAPair.Status.NEEDS_HUMAN for p in pairs),
        "round_trip_rate_of_otherwise_passing": (
            round(len(round_trip) / len(others_pass), 3) if others_pass else None
        ),
        "distinct_questions_in_queue": len({p.question.lower() for p in queued}),
        # Questions the app composed from the sentence after the model's failed the checks.
        "queued_composed_by_the_app": sum(p.question_composed for p in queued),
        "queued_with_id_or_prompt_example": len(bad),
        "refused_by_check": dict(reasons.most_common()),
        # Passed every other check, held back because the model wrote the question
        # (SYNTHETIC_QUEUE_MODEL_QUESTIONS off): what a person could still edit and approve.
        "model_questions_held": reasons[quality.MODEL_QUESTION_HELD],
        # Why the model was not asked at all: nothing that stands as an answer, or nothing
        # that answers one of the run's kinds of question (the label must be true).
        "not_asked_because": dict(
            Counter(
                c["detail"].split(" (")[0]
                for p in refused
                for c in p.failed_checks
                if c["name"] == "has a sentence to ask about"
            ).most_common()
        ),
        "attempts_per_pair": round(sum(c.attempts for c in calls) / len(calls), 2) if calls else 0,
        # Best and worst of the queue by how close question and answer are (the
        # answerability check's similarity): what a reviewer meets at either end.
        "best_queued": [[p.kind, p.question, p.answer] for p in ranked[:3]],
        "worst_queued": [[p.kind, p.question, p.answer] for p in ranked[::-1][:3]],
        "examples_refused": [
            [p.question, p.answer[:120], [c["detail"] for c in p.failed_checks][:2]]
            for p in refused[:4]
        ],
    }


def _loaded(name: str) -> list[int]:
    """The corpus as an earlier run of this bench ingested it (QA_BENCH_REUSE=1: iterate on
    the prompt or the checks without ingesting again)."""
    redis = Document.objects.filter(external_id__startswith="redis/")
    documents = redis if name == "redis-docs" else Document.objects.exclude(pk__in=redis)
    return sorted(documents.values_list("pk", flat=True))


def run(*, chunks: int) -> dict:
    reuse = os.environ.get("QA_BENCH_REUSE") == "1" and Document.objects.exists()
    if not reuse:
        Document.objects.all().delete()
    QAPair.objects.all().delete()
    report = {}
    everything = {}
    # QA_BENCH_CORPORA=redis-docs: one corpus only, while iterating.
    names = [n for n in os.environ.get("QA_BENCH_CORPORA", "").split(",") if n] or CORPORA
    for name in names:
        documents = _loaded(name) if reuse else _load(name)
        # QA_BENCH_KINDS=…,fact: measure kinds the product does not offer yet.
        kinds = [k for k in os.environ.get("QA_BENCH_KINDS", "").split(",") if k]
        generation = services.generation_run_create(
            kinds=kinds, per_chunk=1, chunk_limit=chunks, seed=7, documents=documents
        )
        started = time.perf_counter()
        services.generation_run_execute(run_id=generation.pk)
        generation.refresh_from_db()
        report[name] = {
            "status": generation.status,
            "error": generation.error,
            "seconds": round(time.perf_counter() - started, 1),
            **_summary(generation),
        }
        everything[name] = [
            _pair_row(p) for p in generation.pairs.select_related("llm_call").order_by("id")
        ]
    # Every pair with its checks, for reading what the figures stand for (QA_BENCH_PAIRS: another
    # file, to keep the pairs of a run to compare with the next).
    pairs_file = Path(os.environ.get("QA_BENCH_PAIRS") or RESULTS / "qa_pairs.json")
    pairs_file.write_text(json.dumps(everything, indent=1, ensure_ascii=False))
    return report


def _pair_row(pair) -> dict:
    return {
        "status": pair.status,
        "kind": pair.kind,
        "composed": pair.question_composed,
        "question": pair.question,
        "answer": pair.answer,
        "failed": [f"{c['name']}: {c['detail']}" for c in pair.failed_checks],
        "raw": pair.raw_output if pair.status == QAPair.Status.NEEDS_HUMAN else "",
        # What the model wrote on each try, for calibrating a check on more than the final
        # questions.
        "tries": pair.llm_call.raw_outputs if pair.llm_call_id else [],
    }


def _similarity(pair) -> float:
    """The answerability check's embedding similarity, as stored with the pair."""
    for check in pair.checks:
        found = re.match(r"similarity (-?[\d.]+)", check["detail"])
        if check["name"] == "answerable from the source" and found:
            return float(found.group(1))
    return 0.0
