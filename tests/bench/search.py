"""Hybrid search latency when documents keep large uploads: the lean hit loading (chunk,
document title and line, never the upload) against the previous loading (every document
column, `raw` included), on the same queries in the same run.

Corpus: the doc2dial documents (../shared/data/doc2dial), ingested through the real pipeline,
then each document's stored upload replaced by `raw_mb` MB of random bytes, as a PDF of that
size would leave it (its streams are already compressed, so TOAST cannot shrink them).
Questions: the first `queries` doc2dial user questions, embedded once beforehand, so both
paths are timed on the database work and the fusion alone."""

import json
import statistics
import time
from contextlib import contextmanager

import numpy as np
from django.conf import settings
from django.db import connection

from apps.core.stats import percentile
from apps.knowledge import embedding, selectors, services
from apps.knowledge.models import Chunk, Document
from apps.knowledge.selectors import Hit, chunks_search

DOC2DIAL = settings.BASE_DIR.parent / "shared" / "data" / "doc2dial"


def _attach_whole_documents(hits: list[Hit]) -> None:
    """The loading this bench measures against, as it was: every column of the chunk, its
    document and its product line."""
    chunks = Chunk.objects.select_related("document", "product_line").in_bulk(
        [hit.chunk for hit in hits]
    )
    for hit in hits:
        hit.chunk = chunks[hit.chunk]


@contextmanager
def _whole_documents():
    lean = selectors._attach_chunks
    selectors._attach_chunks = _attach_whole_documents
    try:
        yield
    finally:
        selectors._attach_chunks = lean


def doc2dial_ingest() -> None:
    """An index holding the doc2dial documents alone, ingested through the real pipeline."""
    Document.objects.all().delete()
    corpus = DOC2DIAL / "corpus.jsonl"
    job = services.ingest_job_create(
        files=[services.UploadedFile(name="corpus.jsonl", data=corpus.read_bytes())],
        source="bench",
    )
    services.ingest_job_run(job_id=job.pk)


def _load(raw_mb: float) -> None:
    doc2dial_ingest()
    rng = np.random.default_rng(5)
    size = int(raw_mb * 1024 * 1024)
    with connection.cursor() as cursor:
        for pk in Document.objects.values_list("pk", flat=True):
            cursor.execute(
                "UPDATE knowledge_document SET raw = %s WHERE id = %s", [rng.bytes(size), pk]
            )
        cursor.execute("VACUUM ANALYZE knowledge_document")
        cursor.execute("ANALYZE knowledge_chunk")


def _timed(question: str, vector) -> tuple[float, int]:
    started = time.perf_counter()
    result = chunks_search(query=question, k=10, mode="hybrid", query_vector=vector)
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, len({hit.chunk.document_id for hit in result.hits})


def _summary(samples: list[float]) -> dict:
    return {
        "ms_p50": round(percentile(samples, 0.5), 2),
        "ms_p95": round(percentile(samples, 0.95), 2),
        "ms_mean": round(statistics.fmean(samples), 2),
    }


def run(*, queries: int = 200, raw_mb: float = 2.0) -> dict:
    embedding.embed(["warm up the model before timing"])
    _load(raw_mb)
    lines = DOC2DIAL.joinpath("queries.jsonl").read_text().splitlines()[:queries]
    questions = [json.loads(line)["question"] for line in lines]
    vectors = embedding.embed(questions)
    # What the search page adds before either path: embedding its one question.
    embed_ms = []
    for question in questions[:20]:
        started = time.perf_counter()
        embedding.embed([question])
        embed_ms.append((time.perf_counter() - started) * 1000)
    # One untimed pass of each: both then read from warm caches.
    for question, vector in zip(questions, vectors, strict=True):
        _timed(question, vector)
        with _whole_documents():
            _timed(question, vector)
    lean_ms, whole_ms, documents = [], [], []
    for i, (question, vector) in enumerate(zip(questions, vectors, strict=True)):
        # Alternate which path goes first, so neither always finds the other's cache.
        for path in ("lean", "whole") if i % 2 == 0 else ("whole", "lean"):
            if path == "lean":
                elapsed, distinct = _timed(question, vector)
                lean_ms.append(elapsed)
                documents.append(distinct)
            else:
                with _whole_documents():
                    whole_ms.append(_timed(question, vector)[0])
    lean, whole = _summary(lean_ms), _summary(whole_ms)
    return {
        "documents": Document.objects.count(),
        "chunks": Chunk.objects.count(),
        "raw_mb_per_document": raw_mb,
        "queries": len(questions),
        "k": 10,
        "mode": "hybrid",
        "documents_per_result_mean": round(statistics.fmean(documents), 2),
        "raw_mb_not_read_per_search": round(statistics.fmean(documents) * raw_mb, 1),
        "embed_one_question_ms_p50": round(percentile(embed_ms, 0.5), 2),
        "lean": lean,
        "reference_whole_document": whole,
        "speedup_p50": round(whole["ms_p50"] / max(lean["ms_p50"], 1e-9), 1),
        "speedup_p95": round(whole["ms_p95"] / max(lean["ms_p95"], 1e-9), 1),
    }
