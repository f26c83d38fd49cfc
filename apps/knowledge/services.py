"""Writes for the knowledge base: ingest jobs, documents and their chunks."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from apps.knowledge import embedding
from apps.knowledge.chunking import ChunkDraft, chunks_build
from apps.knowledge.models import (
    Chunk,
    Document,
    ErrorCategory,
    ErrorCodePattern,
    IngestItem,
    IngestJob,
    ProductLine,
)
from apps.knowledge.parsing import (
    ParsedDocument,
    ParseError,
    format_for,
    parse_file,
    parse_jsonl,
)

logger = logging.getLogger(__name__)

# Documents embedded together: large enough to fill the model's batches, small enough that a
# killed worker loses little work.
EMBED_GROUP_CHUNKS = 256


@dataclass
class UploadedFile:
    name: str
    data: bytes
    external_id: str = ""
    mtime: dt.datetime | None = None


@dataclass
class PreparedDocument:
    parsed: ParsedDocument
    raw: bytes
    content_hash: str
    product_line: ProductLine | None
    drafts: list[ChunkDraft]
    codes: list[list[str]]
    fallback_date: dt.date | None = None  # file time, when the document names no date


# --- configuration --------------------------------------------------------------------------


def chunk_config() -> str:
    """What a document's chunks depend on besides its content; a change re-chunks it."""
    return (
        f"{settings.CHUNK_TOKENS}/{settings.CHUNK_OVERLAP_TOKENS}/"
        f"{settings.EMBEDDING_MAX_TOKENS}/{embedding.model_path()[-40:]}"
    )


def chunk_budget(prefix_tokens: int = 0) -> int:
    return max(16, min(settings.CHUNK_TOKENS, embedding.max_tokens() - prefix_tokens))


# --- product lines and error codes -----------------------------------------------------------


def product_line_get_or_create(*, name: str) -> ProductLine | None:
    name = name.strip()
    if not name:
        return None
    slug = slugify(name)[:100] or "product-line"
    existing = ProductLine.objects.filter(Q(name__iexact=name) | Q(slug=slug)).first()
    if existing:
        return existing
    return ProductLine.objects.create(name=name[:100], slug=slug)


def error_codes_find(*, text: str, patterns: list[re.Pattern]) -> list[str]:
    found: dict[str, None] = {}
    for pattern in patterns:
        for match in pattern.finditer(text):
            found[match.group(0)] = None
    return list(found)


def error_categories_for(*, codes: Iterable[str], categories: list[ErrorCategory]) -> list[str]:
    by_length = sorted(categories, key=lambda c: len(c.prefix), reverse=True)
    names: dict[str, None] = {}
    for code in codes:
        for category in by_length:
            if code.upper().startswith(category.prefix.upper()):
                names[category.name] = None
                break
    return list(names)


def active_patterns() -> list[re.Pattern]:
    compiled = []
    for pattern in ErrorCodePattern.objects.filter(is_active=True):
        try:
            compiled.append(re.compile(pattern.regex))
        except re.error:
            logger.warning("Skipping invalid error-code pattern %r", pattern.regex)
    return compiled


# --- preparing and storing documents -----------------------------------------------------------


def embedding_text(*, title: str, heading_path: tuple[str, ...], text: str) -> str:
    """What the model embeds: the chunk with its document title and section for context."""
    path = [h for h in heading_path if h and h != title]
    header = " > ".join([title, *path])
    return f"{header}\n\n{text}"


def document_prepare(
    *,
    parsed: ParsedDocument,
    raw: bytes,
    product_line: ProductLine | None,
    patterns: list[re.Pattern],
    fallback_date: dt.date | None = None,
) -> PreparedDocument:
    # Every chunk is embedded behind its title and section path: budget for the longest one
    # (plus a small margin for tokens merging at the seam) so nothing is cut by the model.
    paths = {block.heading_path for block in parsed.blocks} or {()}
    prefixes = [embedding_text(title=parsed.title, heading_path=p, text="") for p in paths]
    prefix_tokens = max(embedding.token_counts(prefixes)) + 2
    drafts = chunks_build(
        parsed.blocks,
        max_tokens=chunk_budget(prefix_tokens),
        overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
        count=embedding.token_counts,
    )
    if not drafts:
        raise ParseError("No readable text was found in the document.")
    return PreparedDocument(
        parsed=parsed,
        raw=raw,
        content_hash=hashlib.sha256(raw).hexdigest(),
        product_line=product_line,
        drafts=drafts,
        codes=[error_codes_find(text=d.text, patterns=patterns) for d in drafts],
        fallback_date=fallback_date,
    )


def document_unchanged(*, external_id: str, content_hash: str, product_line) -> bool:
    return Document.objects.filter(
        external_id=external_id,
        content_hash=content_hash,
        chunk_config=chunk_config(),
        product_line=product_line,
        status=Document.Status.READY,
    ).exists()


def documents_store(*, prepared: list[PreparedDocument]) -> list[Document]:
    """Embed the chunks of several documents in one batch, then write each document with its
    chunks in its own transaction: a search sees either the old or the new version, whole."""
    vectors = documents_embed(prepared=prepared)
    categories = list(ErrorCategory.objects.all())
    return [_document_write(p, v, categories) for p, v in zip(prepared, vectors, strict=True)]


def documents_embed(*, prepared: list[PreparedDocument]) -> list[list]:
    """One encode call for all chunks of all documents (fuller batches, less padding), split
    back per document."""
    texts = [
        embedding_text(title=p.parsed.title, heading_path=d.heading_path, text=d.text)
        for p in prepared
        for d in p.drafts
    ]
    vectors = iter(embedding.embed(texts))
    return [[next(vectors) for _ in p.drafts] for p in prepared]


def _document_write(
    item: PreparedDocument, vectors: list, categories: list[ErrorCategory]
) -> Document:
    parsed = item.parsed
    updated = parsed.updated_at or item.fallback_date
    with transaction.atomic():
        document, _ = Document.objects.select_for_update().update_or_create(
            external_id=parsed.external_id,
            defaults={
                "title": parsed.title,
                "format": parsed.format,
                "product_line": item.product_line,
                "source_url": parsed.url[:1000],
                "source_updated_at": updated,
                "metadata": parsed.metadata,
                "raw": item.raw,
                "content_hash": item.content_hash,
                "chunk_config": chunk_config(),
                "status": Document.Status.READY,
                "chunk_count": len(item.drafts),
            },
        )
        document.chunks.all().delete()
        Chunk.objects.bulk_create(
            Chunk(
                document=document,
                ordinal=ordinal,
                text=draft.text,
                heading_path=" > ".join(draft.heading_path)[:1000],
                token_count=draft.token_count,
                product_line=item.product_line,
                error_codes=codes,
                error_categories=error_categories_for(codes=codes, categories=categories),
                source_updated_at=updated,
                embedding=vector,
            )
            for ordinal, (draft, codes, vector) in enumerate(
                zip(item.drafts, item.codes, vectors, strict=True)
            )
        )
        document.chunks.update(
            search_vector=SearchVector("heading_path", weight="A", config="english")
            + SearchVector("text", weight="B", config="english")
        )
    return document


# --- ingest jobs ---------------------------------------------------------------------------


def ingest_job_create(
    *,
    files: list[UploadedFile],
    user=None,
    product_line: ProductLine | None = None,
    source: str = "upload",
) -> IngestJob:
    """Record a job and its files. Zip archives are opened here, one item per member, so a
    bad member fails alone. Nothing is parsed yet: that is the worker's job."""
    with transaction.atomic():
        job = IngestJob.objects.create(created_by=user, product_line=product_line, source=source)
        items = [item for upload in files for item in _items_for(job, upload)]
        _refuse_duplicates(items)
        IngestItem.objects.bulk_create(items)
    return job


def _items_for(job: IngestJob, upload: UploadedFile) -> list[IngestItem]:
    external_id = upload.external_id or upload.name
    if PurePosixPath(upload.name.lower()).suffix == ".zip":
        return _zip_items(job, upload, external_id)
    item = IngestItem(
        job=job,
        name=upload.name[:500],
        external_id=external_id[:500],
        size=len(upload.data),
        content=upload.data,
        file_mtime=upload.mtime,
    )
    problem = upload_problem(name=upload.name, size=len(upload.data))
    if problem:
        item.status, item.error, item.content = IngestItem.Status.FAILED, problem, None
    return [item]


def _refuse_duplicates(items: list[IngestItem]) -> None:
    """Two files with one id in one upload would overwrite each other: refuse the later ones
    with a message instead of silently keeping only the last."""
    seen: set[str] = set()
    for item in items:
        if item.external_id in seen and item.status != IngestItem.Status.FAILED:
            item.status, item.content = IngestItem.Status.FAILED, None
            item.error = (
                f"Another file in this upload is also called {item.external_id!r}. Upload the "
                "folder or a .zip so each file keeps its path."
            )
        seen.add(item.external_id)


def upload_problem(*, name: str, size: int) -> str:
    """Why a file is refused before parsing, or "" when it may go on."""
    if format_for(name) is None:
        suffix = PurePosixPath(name).suffix or "no extension"
        return (
            f"Unsupported file type ({suffix}). Use Markdown, reStructuredText, HTML, "
            "plain text, PDF, JSONL or a .zip of them."
        )
    if size > settings.UPLOAD_MAX_FILE_BYTES:
        limit_mb = settings.UPLOAD_MAX_FILE_BYTES / 1024 / 1024
        return f"The file is {size / 1024 / 1024:.1f} MB; the limit is {limit_mb:.0f} MB."
    if size == 0:
        return "The file is empty."
    return ""


def _zip_items(job: IngestJob, upload: UploadedFile, external_id: str) -> list[IngestItem]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(upload.data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        return [
            IngestItem(
                job=job,
                name=upload.name,
                external_id=external_id,
                status=IngestItem.Status.FAILED,
                error=f"Not a readable zip: {exc}",
            )
        ]
    items = []
    budget = settings.UPLOAD_MAX_BYTES
    for member in members:
        name = member.filename
        if "__MACOSX" in name or PurePosixPath(name).name.startswith("."):
            continue
        item = IngestItem(
            job=job,
            name=f"{upload.name}/{name}"[:500],
            external_id=f"{external_id}/{name}"[:500],
            size=member.file_size,
        )
        # file_size is declared by the archive: checked before decompressing (zip bombs).
        problem = upload_problem(name=name, size=member.file_size)
        if not problem and member.file_size > budget:
            problem = "The archive expands beyond the upload limit; this member was not read."
        if problem:
            item.status, item.error = IngestItem.Status.FAILED, problem
        else:
            try:
                item.content = archive.read(member)
                budget -= len(item.content)
            except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
                item.status, item.error = IngestItem.Status.FAILED, f"Corrupt member: {exc}"
        items.append(item)
    if not items:
        items.append(
            IngestItem(
                job=job,
                name=upload.name,
                external_id=external_id,
                status=IngestItem.Status.FAILED,
                error="The zip holds no files reviewdesk can read.",
            )
        )
    return items


def ingest_job_run(*, job_id: int, progress: Callable[[IngestItem], None] | None = None) -> None:
    """Process every pending item of a job. Safe to run again after a crash: items left
    'running' by a dead worker go back to pending, and stored documents are skipped by hash."""
    claimed = IngestJob.objects.filter(
        pk=job_id, status__in=[IngestJob.Status.QUEUED, IngestJob.Status.RUNNING]
    ).update(status=IngestJob.Status.RUNNING, started_at=timezone.now())
    if not claimed:
        return
    IngestItem.objects.filter(job_id=job_id, status=IngestItem.Status.RUNNING).update(
        status=IngestItem.Status.PENDING
    )
    job = IngestJob.objects.select_related("product_line").get(pk=job_id)
    batch = _Batch(job=job, patterns=active_patterns(), progress=progress)
    for item_id in job.items.filter(status=IngestItem.Status.PENDING).values_list("id", flat=True):
        item = _item_claim(item_id)
        if item is not None:
            batch.add(item)
    batch.flush()
    IngestJob.objects.filter(pk=job_id).update(
        status=IngestJob.Status.DONE, finished_at=timezone.now()
    )


def _item_claim(item_id: int) -> IngestItem | None:
    """Conditional UPDATE: only one worker turns a pending item into a running one."""
    if not IngestItem.objects.filter(pk=item_id, status=IngestItem.Status.PENDING).update(
        status=IngestItem.Status.RUNNING
    ):
        return None
    return IngestItem.objects.get(pk=item_id)


class _Batch:
    """Parses items one by one and embeds the documents of several items together."""

    def __init__(self, *, job: IngestJob, patterns: list[re.Pattern], progress) -> None:
        self.job, self.patterns, self.progress = job, patterns, progress
        self.waiting: list[tuple[IngestItem, PreparedDocument]] = []

    def add(self, item: IngestItem) -> None:
        outcome = _guarded(item, lambda: _item_ingest(item, self.job, self.patterns))
        if isinstance(outcome, PreparedDocument):
            self.waiting.append((item, outcome))
            if sum(len(p.drafts) for _, p in self.waiting) >= EMBED_GROUP_CHUNKS:
                self.flush()
        else:
            self._finish(item, outcome)

    def flush(self) -> None:
        waiting, self.waiting = self.waiting, []
        if not waiting:
            return
        vectors = _guarded_all(waiting, lambda: documents_embed(prepared=[p for _, p in waiting]))
        if vectors is None:
            return
        categories = list(ErrorCategory.objects.all())
        for (item, prepared), item_vectors in zip(waiting, vectors, strict=True):
            outcome = _guarded(
                item,
                lambda p=prepared, v=item_vectors: _stored(p, v, categories),
            )
            self._finish(item, outcome)

    def _finish(self, item: IngestItem, outcome: tuple[str, str, int, int]) -> None:
        _item_save(item, outcome)
        if self.progress:
            self.progress(item)


def _stored(prepared: PreparedDocument, vectors, categories) -> tuple[str, str, int, int]:
    _document_write(prepared, vectors, categories)
    return IngestItem.Status.DONE, "", 1, len(prepared.drafts)


def _guarded(item: IngestItem, work):
    """Run one item's step; a failure becomes that item's status, never the batch's."""
    try:
        return work()
    except ParseError as exc:
        return IngestItem.Status.FAILED, str(exc), 0, 0
    except Exception as exc:  # a bug or a broken dependency must not stop the batch
        logger.exception("Ingesting %s failed", item.name)
        return IngestItem.Status.FAILED, f"Unexpected error: {type(exc).__name__}: {exc}", 0, 0


def _guarded_all(waiting, work):
    try:
        return work()
    except Exception as exc:
        logger.exception("Embedding a batch failed")
        for item, _ in waiting:
            _item_save(item, (IngestItem.Status.FAILED, f"Embedding failed: {exc}", 0, 0))
        return None


def _item_save(item: IngestItem, outcome: tuple[str, str, int, int]) -> None:
    item.status, item.error, item.documents, item.chunks = outcome
    # The bytes are kept on the Document; dropping them here keeps the job table small.
    item.content = None if item.status != IngestItem.Status.FAILED else item.content
    item.save(update_fields=["status", "error", "documents", "chunks", "content", "updated_at"])


def ingest_item_process(*, item: IngestItem, job: IngestJob, patterns: list[re.Pattern]) -> None:
    """Ingest one claimed item on its own (no batching with others)."""
    batch = _Batch(job=job, patterns=patterns, progress=None)
    batch.add(item)
    batch.flush()


def _item_ingest(item: IngestItem, job: IngestJob, patterns):
    """A finished outcome (failed, skipped, a JSONL file) or a document waiting for embedding."""
    data = bytes(item.content or b"")
    fallback_date = item.file_mtime.date() if item.file_mtime else None
    if format_for(item.name) == "jsonl":
        return _jsonl_ingest(item, job, data, patterns, fallback_date)
    parsed = parse_file(name=item.name, data=data, external_id=item.external_id)
    product_line = job.product_line or _product_line_from(parsed, item.external_id)
    if document_unchanged(
        external_id=parsed.external_id,
        content_hash=hashlib.sha256(data).hexdigest(),
        product_line=product_line,
    ):
        return IngestItem.Status.SKIPPED, "", 1, 0
    return document_prepare(
        parsed=parsed,
        raw=data,
        product_line=product_line,
        patterns=patterns,
        fallback_date=fallback_date,
    )


def _product_line_from(parsed: ParsedDocument, external_id: str) -> ProductLine | None:
    if parsed.product_line:
        return product_line_get_or_create(name=parsed.product_line)
    # A folder named after an existing product line ("enterprise/sso.md") tags its files.
    for folder in PurePosixPath(external_id).parts[:-1]:
        match = ProductLine.objects.filter(Q(name__iexact=folder) | Q(slug=slugify(folder)))
        if match.exists():
            return match.first()
    return None


def _jsonl_ingest(item, job, data, patterns, fallback_date) -> tuple[str, str, int, int]:
    records, errors = parse_jsonl(data)
    messages = [f"line {e.line}: {e.message}" for e in errors]
    pending: list[PreparedDocument] = []
    stored = chunks = 0
    lines_by_id: dict[str, int] = {}
    for line, parsed in records:
        if parsed.external_id in lines_by_id:
            first = lines_by_id[parsed.external_id]
            messages.append(f"line {line}: duplicate id (first seen on line {first})")
            continue
        lines_by_id[parsed.external_id] = line
        raw = json.dumps({"text": parsed.text, "meta": parsed.metadata}, sort_keys=True).encode()
        product_line = job.product_line or product_line_get_or_create(name=parsed.product_line)
        if document_unchanged(
            external_id=parsed.external_id,
            content_hash=hashlib.sha256(raw).hexdigest(),
            product_line=product_line,
        ):
            stored += 1
            continue
        try:
            pending.append(
                document_prepare(
                    parsed=parsed,
                    raw=raw,
                    product_line=product_line,
                    patterns=patterns,
                    fallback_date=fallback_date,
                )
            )
        except ParseError as exc:
            messages.append(f"line {line}: {exc}")
            continue
        if sum(len(p.drafts) for p in pending) >= EMBED_GROUP_CHUNKS:
            chunks += _store_group(pending)
            stored += len(pending)
            pending = []
    if pending:
        chunks += _store_group(pending)
        stored += len(pending)
    if not stored:
        return IngestItem.Status.FAILED, "\n".join(messages) or "No valid records.", 0, 0
    status = IngestItem.Status.PARTIAL if messages else IngestItem.Status.DONE
    if not chunks and not messages:
        status = IngestItem.Status.SKIPPED
    return status, "\n".join(messages), stored, chunks


def _store_group(pending: list[PreparedDocument]) -> int:
    documents_store(prepared=pending)
    return sum(len(p.drafts) for p in pending)


# --- documents ---------------------------------------------------------------------------


def document_reingest(*, document: Document, user=None) -> IngestJob:
    """Queue the stored source again (e.g. after the chunk settings changed)."""
    Document.objects.filter(pk=document.pk).update(chunk_config="")
    return ingest_job_create(
        files=[_source_of(document)],
        user=user,
        product_line=document.product_line,
        source="reingest",
    )


def _source_of(document: Document) -> UploadedFile:
    raw = bytes(document.raw)
    if document.format != "jsonl":
        return UploadedFile(name=document.external_id, data=raw, external_id=document.external_id)
    stored = json.loads(raw)
    record = {**stored["meta"], "id": document.external_id, "text": stored["text"]}
    return UploadedFile(
        name=f"{document.external_id}.jsonl",
        data=json.dumps(record).encode(),
        external_id=document.external_id,
    )


def document_delete(*, document: Document) -> None:
    document.delete()


def ingest_job_retry_failed(*, job: IngestJob) -> int:
    """Failed items that still hold their bytes go back to pending."""
    count = job.items.filter(status=IngestItem.Status.FAILED, content__isnull=False).update(
        status=IngestItem.Status.PENDING, error=""
    )
    if count:
        IngestJob.objects.filter(pk=job.pk).update(status=IngestJob.Status.QUEUED)
    return count
