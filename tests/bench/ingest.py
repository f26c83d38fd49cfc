"""Ingestion throughput: the whole pipeline (parse, chunk, tag, embed, store) against the raw
encode rate of the same chunk texts."""

import time

from django.conf import settings

from apps.knowledge import embedding, services
from apps.knowledge.models import Chunk, Document

REDIS_DOCS = settings.BASE_DIR.parent / "shared" / "data" / "redis-docs"


def _uploads(limit: int) -> list[services.UploadedFile]:
    paths = sorted(p for p in REDIS_DOCS.rglob("*.md") if p.is_file())
    paths = paths[:limit] if limit else paths
    return [
        services.UploadedFile(
            name=p.name, data=p.read_bytes(), external_id=str(p.relative_to(REDIS_DOCS))
        )
        for p in paths
    ]


def _timed_encode(texts: list[str]) -> float:
    started = time.perf_counter()
    embedding.embed(texts)
    return time.perf_counter() - started


def run(*, limit: int = 0) -> dict:
    embedding.embed(["warm up the model before timing"])
    Document.objects.all().delete()
    uploads = _uploads(limit)
    started = time.perf_counter()
    job = services.ingest_job_create(files=uploads, source="bench")
    services.ingest_job_run(job_id=job.pk)
    pipeline_seconds = time.perf_counter() - started
    chunks = list(Chunk.objects.select_related("document").order_by("id"))
    texts = [
        services.embedding_text(
            title=c.document.title,
            heading_path=tuple(filter(None, c.heading_path.split(" > "))),
            text=c.text,
        )
        for c in chunks
    ]
    raw_seconds = min(_timed_encode(texts) for _ in range(2))  # best of two: favours raw
    pipeline_rate = len(chunks) / pipeline_seconds
    raw_rate = len(chunks) / raw_seconds
    return {
        "files": len(uploads),
        "documents": Document.objects.count(),
        "chunks": len(chunks),
        "pipeline_seconds": round(pipeline_seconds, 2),
        "pipeline_chunks_per_second": round(pipeline_rate, 2),
        "raw_encode_seconds": round(raw_seconds, 2),
        "raw_encode_chunks_per_second": round(raw_rate, 2),
        "pipeline_to_raw_ratio": round(pipeline_rate / raw_rate, 3),
        "target_ratio": 0.8,
    }
