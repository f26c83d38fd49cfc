"""Retrieval evaluation: hit@k and MRR@10 of a labelled query set, overall and per product line,
and what each question got back.

A hit is any chunk of the gold document among the top k chunks.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.utils import timezone

from apps.core.stats import percentile
from apps.knowledge import embedding
from apps.knowledge.models import Chunk, Document, EvalRun, ProductLine
from apps.knowledge.selectors import Filters, chunks_search, vector_ranked


class QueryFileError(Exception):
    pass


APPROVED_PAIRS = "approved"


@dataclass
class EvalQuery:
    question: str
    gold_doc_id: str
    product_line: str = ""


def queries_parse(text: str) -> list[EvalQuery]:
    queries, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            queries.append(
                EvalQuery(
                    question=str(record["question"]),
                    gold_doc_id=str(record["gold_doc_id"]),
                    product_line=str(record.get("product_line") or record.get("domain") or ""),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            problems.append(f"line {number}: {type(exc).__name__}: {exc}")
    if problems:
        raise QueryFileError("Malformed query lines:\n" + "\n".join(problems[:20]))
    if not queries:
        raise QueryFileError("The query file has no queries.")
    return queries


# Labelled query sets offered by apps that sit above the knowledge base (synthetic Q&A offers
# its approved pairs), registered from their AppConfig.ready: the knowledge base never imports
# them, and works on its own when they are not installed.
_QUERY_SOURCES: dict[str, tuple[Callable[[], list[dict]], str]] = {}


def query_source_register(
    *, name: str, provider: Callable[[], list[dict]], empty_message: str
) -> None:
    """`provider` returns {"question", "gold_doc_id", "product_line"} dicts."""
    _QUERY_SOURCES[name] = (provider, empty_message)


def queries_from_source(*, name: str) -> list[EvalQuery]:
    if name not in _QUERY_SOURCES:
        raise QueryFileError(f"No labelled query set called {name!r} is available.")
    provider, empty_message = _QUERY_SOURCES[name]
    queries = [EvalQuery(**q) for q in provider()]
    if not queries:
        raise QueryFileError(empty_message)
    return queries


def queries_from_approved_pairs() -> list[EvalQuery]:
    """Validated synthetic Q&A as a labelled set: each question's gold is its source document."""
    return queries_from_source(name=APPROVED_PAIRS)


def retrieval_evaluate(
    *,
    queries: list[EvalQuery],
    ks: list[int],
    mode: str = "hybrid",
    use_filters: bool = False,
) -> dict:
    depth = max([*ks, 10])
    lines = {line.name.lower(): line.pk for line in ProductLine.objects.all()}
    lines.update({line.slug: line.pk for line in ProductLine.objects.all()})
    vectors = embedding.embed([q.question for q in queries]) if mode != "keyword" else None
    ranks: list[int | None] = []
    latencies: list[float] = []
    returned: list[list[dict]] = []
    for index, query in enumerate(queries):
        filters = Filters()
        if use_filters and query.product_line:
            pk = lines.get(query.product_line.lower())
            filters = Filters(product_lines=[pk] if pk else [-1])
        result = chunks_search(
            query=query.question,
            filters=filters,
            k=depth,
            mode=mode,
            infer_filters=False,
            query_vector=None if vectors is None else vectors[index],
        )
        latencies.append(result.elapsed_ms)
        docs = [hit.chunk.document.external_id for hit in result.hits]
        ranks.append(docs.index(query.gold_doc_id) + 1 if query.gold_doc_id in docs else None)
        returned.append(
            [
                {"id": hit.chunk.document.external_id, "title": hit.chunk.document.title}
                for hit in result.hits[:PER_QUERY_TOP]
            ]
        )
    summary = _summarise(queries, ranks, latencies, ks, mode, use_filters)
    summary["per_query"] = _per_query(queries, ranks, returned)
    return summary


# Results kept per question for the run's page: enough to see what came back instead.
PER_QUERY_TOP = 3


def _per_query(queries, ranks, returned) -> list[dict]:
    gold = {q.gold_doc_id for q in queries}
    titles = dict(Document.objects.filter(external_id__in=gold).values_list("external_id", "title"))
    return [
        {
            "question": query.question,
            "gold_doc_id": query.gold_doc_id,
            "gold_title": titles.get(query.gold_doc_id, ""),
            "product_line": query.product_line,
            "rank": rank,
            "top": top,
        }
        for query, rank, top in zip(queries, ranks, returned, strict=True)
    ]


def _metrics(ranks: list[int | None], ks: list[int]) -> dict:
    n = len(ranks) or 1
    out = {f"hit@{k}": round(sum(1 for r in ranks if r and r <= k) / n, 4) for k in ks}
    out["mrr@10"] = round(sum(1 / r for r in ranks if r and r <= 10) / n, 4)
    out["queries"] = len(ranks)
    return out


def _summarise(queries, ranks, latencies, ks, mode, use_filters) -> dict:
    per_line: dict[str, list[int | None]] = {}
    for query, rank in zip(queries, ranks, strict=True):
        per_line.setdefault(query.product_line or "(none)", []).append(rank)
    gold = {q.gold_doc_id for q in queries}
    indexed = set(
        Chunk.objects.filter(document__external_id__in=gold)
        .values_list("document__external_id", flat=True)
        .distinct()
    )
    return {
        "mode": mode,
        "use_filters": use_filters,
        "overall": _metrics(ranks, ks),
        "per_product_line": {line: _metrics(r, ks) for line, r in sorted(per_line.items())},
        "latency_ms": {
            "p50": round(percentile(latencies, 0.5) or 0.0, 2),
            "p95": round(percentile(latencies, 0.95) or 0.0, 2),
            "mean": round(statistics.fmean(latencies), 2) if latencies else 0.0,
        },
        "gold_documents_missing_from_index": len(gold - indexed),
    }


# --- calibrating the search's trust thresholds ---------------------------------------------------

CALIBRATION_FLOORS = (0.20, 0.25, 0.30, 0.35, 0.40, 0.45)
CALIBRATION_MARGINS = (0.0, 0.025, 0.05, 0.075, 0.10, 0.15, 0.20)


def similarity_calibrate(*, queries: list[EvalQuery]) -> dict:
    """The data behind RETRIEVAL_WEAK_SIMILARITY and RETRIEVAL_INFERRED_FILTER_MARGIN, from a
    labelled set whose questions name their product line. For each question, the best cosine
    similarity in its own product line (which holds the answer), in every other product line
    (which does not), in the whole index, and of its gold document.

    - A floor flags "no good match": it should catch the other lines' best matches and spare
      the own line's (`floors`: the share of each below it).
    - A margin drops an inferred filter when the best match without it is more similar by
      more than the margin: it should drop filters to another line and keep the right one
      (`margins`: the share of each dropped)."""
    lines = {line.name.lower(): line.pk for line in ProductLine.objects.all()}
    lines.update({line.slug: line.pk for line in ProductLine.objects.all()})
    labelled = [q for q in queries if q.product_line.lower() in lines]
    vectors = embedding.embed([q.question for q in labelled])
    own, other, gold, gaps_own, gaps_other = [], [], [], [], []
    for query, vector in zip(labelled, vectors, strict=True):
        everywhere = _best(vector, Filters())
        by_line = {pk: _best(vector, Filters(product_lines=[pk])) for pk in set(lines.values())}
        own_pk = lines[query.product_line.lower()]
        for pk, best in by_line.items():
            if best is None:
                continue
            (own if pk == own_pk else other).append(best)
            (gaps_own if pk == own_pk else gaps_other).append(everywhere - best)
        gold_best = _best_of_document(vector, query.gold_doc_id)
        if gold_best is not None:
            gold.append(gold_best)
    return {
        "queries": len(labelled),
        "best_similarity": {
            "gold_document": _spread(gold),
            "own_product_line": _spread(own),
            "other_product_lines": _spread(other),
        },
        "floors": {
            f"{floor:.2f}": {
                "own_line_flagged_weak": _share(own, lambda s, f=floor: s < f),
                "other_lines_flagged_weak": _share(other, lambda s, f=floor: s < f),
            }
            for floor in CALIBRATION_FLOORS
        },
        "margins": {
            f"{margin:.3f}": {
                "own_line_filter_dropped": _share(gaps_own, lambda g, m=margin: g > m),
                "other_line_filter_dropped": _share(gaps_other, lambda g, m=margin: g > m),
            }
            for margin in CALIBRATION_MARGINS
        },
    }


def _best(vector, filters: Filters) -> float | None:
    rows = vector_ranked(query_vector=vector, filters=filters, limit=1, exact=True)
    return 1.0 - float(rows[0][2]) if rows else None


def _best_of_document(vector, external_id: str) -> float | None:
    # A document has a few chunks: compared here, not through the HNSW index (which would
    # first find the nearest chunks of any document, then filter them away).
    stored = Chunk.objects.filter(document__external_id=external_id).values_list(
        "embedding", flat=True
    )
    similarities = [float(np.dot(np.asarray(e), vector)) for e in stored]
    return max(similarities, default=None)


def _spread(values: list[float]) -> dict:
    points = (0.05, 0.10, 0.25, 0.5, 0.75, 0.90, 0.95)
    return {f"p{round(p * 100)}": round(percentile(values, p) or 0.0, 3) for p in points} | {
        "n": len(values)
    }


def _share(values: list[float], test) -> float:
    return round(sum(1 for v in values if test(v)) / len(values), 4) if values else 0.0


def eval_run_create(
    *, name: str, queries: list[EvalQuery], mode: str, ks: list[int], use_filters: bool, user=None
) -> EvalRun:
    from apps.knowledge.services import chunk_config

    return EvalRun.objects.create(
        name=name,
        created_by=user,
        mode=mode,
        ks=ks,
        use_filters=use_filters,
        queries=[q.__dict__ for q in queries],
        chunk_config=chunk_config(),
    )


def eval_run_store(
    *, name: str, queries: list[EvalQuery], ks: list[int], results: dict, user=None
) -> EvalRun:
    """Keep a run measured outside the worker (the command) beside the browser's runs."""
    run = eval_run_create(
        name=name,
        queries=queries,
        mode=results["mode"],
        ks=ks,
        use_filters=results["use_filters"],
        user=user,
    )
    run.status, run.results, run.finished_at = EvalRun.Status.DONE, results, timezone.now()
    run.save(update_fields=["status", "results", "finished_at"])
    return run


def eval_run_execute(*, run_id: int) -> None:
    if not EvalRun.objects.filter(pk=run_id, status=EvalRun.Status.QUEUED).update(
        status=EvalRun.Status.RUNNING
    ):
        return
    run = EvalRun.objects.get(pk=run_id)
    try:
        results = retrieval_evaluate(
            queries=[EvalQuery(**q) for q in run.queries],
            ks=run.ks,
            mode=run.mode,
            use_filters=run.use_filters,
        )
        run.status, run.results = EvalRun.Status.DONE, results
    except Exception as exc:  # shown on the run's page instead of a silent failure
        run.status, run.error = EvalRun.Status.FAILED, f"{type(exc).__name__}: {exc}"
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "results", "error", "finished_at"])
