"""Query latency and recall of the HNSW index, unfiltered and filtered, against an exact scan
of the same rows, at several index sizes. Vectors are synthetic: clustered like real
embeddings (100 topics), on 10 product lines of very different sizes."""

import statistics
import time

import numpy as np
from django.db import connection
from pgvector.psycopg import register_vector

from apps.core.stats import percentile
from apps.knowledge.models import Chunk, Document, ProductLine
from apps.knowledge.selectors import Filters, vector_ranked

DIMENSIONS = 384
# Share of chunks per product line: one line holds 40%, the rarest 0.5%.
LINE_SHARES = [0.40, 0.20, 0.12, 0.10, 0.07, 0.05, 0.03, 0.015, 0.01, 0.005]


def _vectors(rng, count: int, centres: np.ndarray) -> np.ndarray:
    topics = rng.integers(0, len(centres), size=count)
    vectors = centres[topics] + rng.normal(scale=0.6, size=(count, DIMENSIONS))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def _load(size: int, rng, centres) -> list[ProductLine]:
    Document.objects.all().delete()
    lines = [
        ProductLine.objects.get_or_create(name=f"bench-{i}", slug=f"bench-{i}")[0]
        for i in range(len(LINE_SHARES))
    ]
    document = Document.objects.create(
        external_id="bench",
        title="bench",
        format="text",
        raw=b"",
        content_hash="-",
        chunk_config="-",
    )
    assignment = rng.choice(len(lines), size=size, p=LINE_SHARES)
    vectors = _vectors(rng, size, centres)
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS chunk_embedding_hnsw")
    connection.ensure_connection()
    raw = connection.connection
    register_vector(raw)
    columns = (
        "document_id, ordinal, text, heading_path, token_count, product_line_id, error_codes, "
        "error_categories, embedding"
    )
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY knowledge_chunk ({columns}) FROM STDIN WITH (FORMAT BINARY)") as copy,
    ):
        copy.set_types(
            ["int8", "int4", "text", "varchar", "int4", "int8", "varchar[]", "varchar[]", "vector"]
        )
        for i in range(size):
            copy.write_row(
                [document.pk, i, f"chunk {i}", "", 1, lines[assignment[i]].pk, [], [], vectors[i]]
            )
    return lines


def _index() -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute(
            "CREATE INDEX chunk_embedding_hnsw ON knowledge_chunk USING hnsw "
            "(embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
        )
        cursor.execute("ANALYZE knowledge_chunk")
    return time.perf_counter() - started


def _measure(queries: np.ndarray, filters: Filters) -> dict:
    index_ms, exact_ms, recalls = [], [], []
    for query in queries:
        started = time.perf_counter()
        approx = vector_ranked(query_vector=query, filters=filters, limit=10)
        index_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        exact = vector_ranked(query_vector=query, filters=filters, limit=10, exact=True)
        exact_ms.append((time.perf_counter() - started) * 1000)
        truth = {row[0] for row in exact}
        recalls.append(len(truth & {row[0] for row in approx}) / max(1, len(truth)))
    return {
        "hnsw_ms_p50": round(percentile(index_ms, 0.5), 2),
        "hnsw_ms_p95": round(percentile(index_ms, 0.95), 2),
        "exact_ms_p50": round(percentile(exact_ms, 0.5), 2),
        "exact_ms_p95": round(percentile(exact_ms, 0.95), 2),
        "speedup_p50": round(percentile(exact_ms, 0.5) / max(percentile(index_ms, 0.5), 1e-9), 1),
        "recall_at_10": round(statistics.fmean(recalls), 4),
    }


def run(*, sizes: list[int], queries: int = 200) -> dict:
    rng = np.random.default_rng(42)
    centres = rng.normal(size=(100, DIMENSIONS))
    report = {}
    for size in sizes:
        lines = _load(size, rng, centres)
        build_seconds = _index()
        probes = _vectors(rng, queries, centres)
        report[str(size)] = {
            "index_build_seconds": round(build_seconds, 1),
            "unfiltered": _measure(probes, Filters()),
            "filtered_common_line_12pct": _measure(probes, Filters(product_lines=[lines[2].pk])),
            "filtered_rare_line_1pct": _measure(probes, Filters(product_lines=[lines[8].pk])),
            "filtered_two_lines": _measure(
                probes, Filters(product_lines=[lines[1].pk, lines[9].pk])
            ),
        }
        assert Chunk.objects.count() == size
    report["target_recall_with_filters"] = 0.95
    return report
