"""Retrieval evaluation: hit@k and MRR@10 of a labelled query set, overall and per product line.

A hit is any chunk of the gold document among the top k chunks.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from apps.core.stats import percentile
from apps.knowledge import embedding
from apps.knowledge.models import Chunk, EvalRun, ProductLine
from apps.knowledge.selectors import Filters, chunks_search


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
    return _summarise(queries, ranks, latencies, ks, mode, use_filters)


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
