"""Writes for the knowledge base: ingest jobs, documents and their chunks."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import re
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.text import slugify

from apps.knowledge import embedding
from apps.knowledge.chunking import ChunkDraft, chunks_build, sentences_split
from apps.knowledge.models import (
    Chunk,
    ChunkSentence,
    DateSource,
    Document,
    ErrorCategory,
    IngestItem,
    IngestJob,
    JobStatus,
    ProductLine,
    ingest_stale_after,
)
from apps.knowledge.parsing import (
    MemberUnread,
    NoContent,
    ParsedDocument,
    ParseError,
    archive_member_is_junk,
    archive_member_path,
    archive_member_read,
    format_for,
    is_archive,
    parse_file,
    parse_jsonl,
)
from apps.knowledge.selectors import document_same_content
from apps.knowledge.tagging import active_patterns, error_categories_for, error_codes_find

logger = logging.getLogger(__name__)

# Documents embedded together: large enough to fill the model's batches, small enough that a
# killed worker loses little work.
EMBED_GROUP_CHUNKS = 256


@dataclass
class UploadedFile:
    name: str
    data: bytes
    external_id: str = ""
    # The file's own modification time, or (date_source "upload") the time it was uploaded.
    mtime: dt.datetime | None = None
    date_source: str = DateSource.FILE
    # The size on disk when the bytes were left unread (a file too large to accept).
    size: int | None = None
    # Set by the ingest command: the resolved folder given, and the file's id when it differs
    # from external_id (a re-ingested JSONL record keeps the file it came from).
    source_root: str = ""
    source_file: str = ""


@dataclass
class PreparedDocument:
    parsed: ParsedDocument
    raw: bytes
    content_hash: str
    product_line: ProductLine | None
    drafts: list[ChunkDraft]
    codes: list[list[str]]
    fallback_date: dt.date | None = None  # file time, when the document names no date
    fallback_date_source: str = ""  # what fallback_date is: a file date or the upload time
    source_root: str = ""
    source_file: str = ""


# --- configuration --------------------------------------------------------------------------


def chunk_config() -> str:
    """What a document's chunks depend on besides its content; a change re-chunks it."""
    return (
        f"{settings.CHUNK_TOKENS}/{settings.CHUNK_OVERLAP_TOKENS}/"
        f"{settings.EMBEDDING_MAX_TOKENS}/{embedding.model_path()[-40:]}"
    )


def chunk_config_describe(config: str, *, short: bool = False) -> str:
    """A document's stored chunk_config in words, for people: "300/50/256/<model path tail>"
    becomes "Chunks of at most 300 tokens with 50 tokens of overlap, fitted to the 256 tokens
    the embedding model reads (all-MiniLM-L6-v2)"; `short` for a table cell."""
    parts = config.split("/", 3)
    if len(parts) < 4 or not all(p.isdigit() for p in parts[:3]):
        return config or "Not recorded (re-ingest the document to record it)."
    chunk, overlap, reads = (int(p) for p in parts[:3])
    model = embedding.model_name(parts[3])
    if short:
        return f"≤{min(chunk, reads)} tokens, {overlap} overlap, {model}"
    if chunk > reads:
        return (
            f"Chunks of at most {chunk} tokens with {overlap} tokens of overlap, fitted to the "
            f"{reads} tokens the embedding model reads ({model})"
        )
    return (
        f"Chunks of at most {chunk} tokens with {overlap} tokens of overlap; the embedding "
        f"model ({model}) reads {reads} tokens"
    )


def chunk_budget(prefix_tokens: int = 0) -> int:
    return max(16, min(settings.CHUNK_TOKENS, embedding.max_tokens() - prefix_tokens))


# --- product lines and error codes -----------------------------------------------------------


def product_line_get_or_create(*, name: str) -> ProductLine | None:
    name = " ".join(name.split())[:100]
    if not name:
        return None
    # allow_unicode: names in other scripts would all slugify to "" and be taken for one line.
    slug = slugify(name, allow_unicode=True)[:100]
    same = Q(name__iexact=name) | Q(slug=slug) if slug else Q(name__iexact=name)
    existing = ProductLine.objects.filter(same).first()
    if existing:
        return existing
    if not slug:  # punctuation only
        slug = f"product-line-{ProductLine.objects.count() + 1}"
    return ProductLine.objects.create(name=name, slug=slug)


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
    fallback_date_source: str = "",
    source_root: str = "",
    source_file: str = "",
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
        fallback_date_source=fallback_date_source if fallback_date else "",
        source_root=source_root,
        source_file=source_file,
    )


def document_unchanged(*, external_id: str, content_hash: str, product_line) -> bool:
    return Document.objects.filter(
        external_id=external_id,
        content_hash=content_hash,
        chunk_config=chunk_config(),
        product_line=product_line,
        status=Document.Status.READY,
    ).exists()


def document_source_set(*, external_id: str, source_root: str, source_file: str) -> None:
    """An unchanged document found again (maybe from another folder) records where it now
    comes from, so `ingest --delete-missing` judges it by its current folder."""
    Document.objects.filter(external_id=external_id).exclude(
        source_root=source_root, source_file=source_file
    ).update(source_root=source_root, source_file=source_file[:500])


def document_metadata_update(
    *, document: Document, product_line: ProductLine | None, source_updated_at: dt.date | None
) -> Document:
    """Change a document's product line and date together with the copies on its chunks
    (searches filter on the chunk columns): one transaction, so no search sees them apart.
    A date changed here is from then on shown as set by hand."""
    with transaction.atomic():
        # Compared with the stored date: an admin form has already set the new one on
        # `document`.
        stored = Document.objects.filter(pk=document.pk).values_list("source_updated_at")
        if source_updated_at != stored.get()[0]:
            document.date_source = DateSource.MANUAL if source_updated_at else ""
        document.product_line = product_line
        document.source_updated_at = source_updated_at
        document.save(
            update_fields=["product_line", "source_updated_at", "date_source", "updated_at"]
        )
        document.chunks.update(product_line=product_line, source_updated_at=source_updated_at)
    return document


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
    if parsed.updated_at:
        date_source = DateSource.DOCUMENT
    else:
        date_source = item.fallback_date_source if item.fallback_date else ""
    with transaction.atomic():
        document, _ = Document.objects.select_for_update().update_or_create(
            external_id=parsed.external_id,
            defaults={
                "title": parsed.title,
                "format": parsed.format,
                "product_line": item.product_line,
                "source_url": parsed.url[:1000],
                "source_updated_at": updated,
                "date_source": date_source,
                "metadata": parsed.metadata,
                "raw": item.raw,
                "content_hash": item.content_hash,
                "chunk_config": chunk_config(),
                "status": Document.Status.READY,
                "chunk_count": len(item.drafts),
                "source_root": item.source_root,
                "source_file": item.source_file[:500],
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


# --- upload limits -------------------------------------------------------------------------


def size_text(size: int) -> str:
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} bytes"


def file_too_large_message(*, name: str, size: int) -> str:
    limit = size_text(settings.UPLOAD_MAX_FILE_BYTES)
    return f"{name} is {size_text(size)}; the limit is {limit} per file."


def archive_member_cap() -> int:
    """Files read from one archive; the rest are refused with one message."""
    return settings.UPLOAD_MAX_ARCHIVE_MEMBERS


def upload_problem(*, name: str, size: int) -> str:
    """Why a file is refused before parsing, or "" when it may go on."""
    if is_archive(name):
        # An archive is bounded by the upload limit; its members by the per-file limit.
        if size > settings.UPLOAD_MAX_BYTES:
            limit = size_text(settings.UPLOAD_MAX_BYTES)
            return f"The archive is {size_text(size)}; the limit is {limit} per upload."
    elif format_for(name) is None:
        suffix = PurePosixPath(name).suffix or "no extension"
        return (
            f"Unsupported file type ({suffix}). Use Markdown, reStructuredText, HTML, "
            "plain text, PDF, JSONL or a .zip of them."
        )
    elif size > settings.UPLOAD_MAX_FILE_BYTES:
        return file_too_large_message(name="The file", size=size)
    if size == 0:
        return "The file is empty."
    return ""


def _budget_message(what: str) -> str:
    limit = size_text(settings.UPLOAD_MAX_BYTES)
    return f"The upload expands to more than {limit}, the limit per upload; {what} not read."


# --- ingest jobs ---------------------------------------------------------------------------


def ingest_job_create(
    *,
    files: Iterable[UploadedFile],
    user=None,
    product_line: ProductLine | None = None,
    source: str = "upload",
) -> IngestJob:
    """Record a job and its files, each stored as it comes: a caller that reads each file only
    when asked (a generator) holds one file in memory at a time. A .zip is stored whole and
    unpacked by the worker; nothing is parsed or decompressed here."""
    with transaction.atomic():
        job = IngestJob.objects.create(created_by=user, product_line=product_line, source=source)
        seen: set[str] = set()
        for upload in files:
            item = _item_for(job, upload)
            _refuse_duplicate(item, seen)
            item.save()
    return job


def _item_for(job: IngestJob, upload: UploadedFile) -> IngestItem:
    external_id = (upload.external_id or upload.name)[:500]
    size = upload.size if upload.size is not None else len(upload.data)
    item = IngestItem(
        job=job,
        name=upload.name[:500],
        external_id=external_id,
        size=size,
        content=upload.data,
        file_mtime=upload.mtime,
        file_date_source=upload.date_source if upload.mtime else "",
        is_archive=is_archive(upload.name),
        source_root=upload.source_root[:1000],
        source_file=(upload.source_file or external_id)[:500],
    )
    problem = upload_problem(name=upload.name, size=size)
    if problem:
        item.status, item.error, item.content = IngestItem.Status.FAILED, problem, None
    return item


def _refuse_duplicate(item: IngestItem, seen: set[str]) -> None:
    """Two files with one id in one upload would overwrite each other: refuse the later ones
    with a message instead of silently keeping only the last."""
    if item.external_id in seen and item.status != IngestItem.Status.FAILED:
        item.status, item.content = IngestItem.Status.FAILED, None
        item.error = (
            f"Another file in this upload is also called {item.external_id!r}. Upload the "
            "folder or a .zip so each file keeps its path."
        )
    seen.add(item.external_id)


class _JobLost(Exception):
    """Another run took the job over (this one was thought dead): stop without finishing."""


@dataclass
class _Run:
    job_id: int
    token: str

    def beat(self) -> None:
        """Record progress. Raise _JobLost when the job now belongs to another run."""
        owned = IngestJob.objects.filter(pk=self.job_id, worker_token=self.token)
        if not owned.update(heartbeat_at=timezone.now()):
            raise _JobLost


def ingest_job_run(*, job_id: int, progress: Callable[[IngestItem], None] | None = None) -> None:
    """Unpack the job's archives, then ingest every pending item. Safe to run again and
    concurrently: only one run owns a job (see _job_claim), items are claimed one by one, and
    stored documents are skipped by hash."""
    token = _job_claim(job_id)
    if token is None:
        return
    run = _Run(job_id=job_id, token=token)
    try:
        job = IngestJob.objects.select_related("product_line").get(pk=job_id)
        _archives_unpack(job=job, run=run)
        batch = _Batch(job=job, patterns=active_patterns(), progress=progress, run=run)
        pending = job.items.filter(status=IngestItem.Status.PENDING, is_archive=False)
        for item_id in pending.values_list("id", flat=True):
            item = _item_claim(item_id)
            if item is not None:
                batch.add(item)
        batch.flush()
        _job_finish(run)
    except _JobLost:
        logger.warning("Ingest job %s was taken over by another run; this run stops.", job_id)


def _job_claim(job_id: int) -> str | None:
    """Conditional UPDATE: a queued job goes to this run, and so does a running one whose
    heartbeat is stale (its worker died). A job another run is working on is left alone: two
    runs on one job would process the same items twice. Returns this run's token."""
    token = uuid.uuid4().hex
    now = timezone.now()
    jobs = IngestJob.objects.filter(pk=job_id)
    owned = {"status": JobStatus.RUNNING, "worker_token": token, "heartbeat_at": now}
    if jobs.filter(status=JobStatus.QUEUED).update(**owned, started_at=now, finished_at=None):
        return token
    stale = jobs.filter(status=JobStatus.RUNNING, heartbeat_at__lt=now - ingest_stale_after())
    with transaction.atomic():
        if not stale.update(**owned):
            return None
        # Only now are the dead run's half-done items known to be abandoned.
        IngestItem.objects.filter(job_id=job_id, status=IngestItem.Status.RUNNING).update(
            status=IngestItem.Status.PENDING
        )
    logger.warning("Ingest job %s had no heartbeat for too long; taken over.", job_id)
    return token


def _job_finish(run: _Run) -> None:
    """The status says what happened: done, done with failures, or failed (every file)."""
    counts = dict(
        IngestItem.objects.filter(job_id=run.job_id)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    failed = counts.get(IngestItem.Status.FAILED, 0)
    if failed and failed == sum(counts.values()):
        status = JobStatus.FAILED
    elif failed or counts.get(IngestItem.Status.PARTIAL):
        status = JobStatus.PARTIAL
    else:
        status = JobStatus.DONE
    now = timezone.now()
    IngestJob.objects.filter(pk=run.job_id, worker_token=run.token).update(
        status=status, finished_at=now, heartbeat_at=now, worker_token=""
    )


def _item_claim(item_id: int) -> IngestItem | None:
    """Conditional UPDATE: only one worker turns a pending item into a running one."""
    if not IngestItem.objects.filter(pk=item_id, status=IngestItem.Status.PENDING).update(
        status=IngestItem.Status.RUNNING
    ):
        return None
    return IngestItem.objects.get(pk=item_id)


# --- unpacking archives (worker side) --------------------------------------------------------


def _archives_unpack(*, job: IngestJob, run: _Run) -> None:
    spent = IngestJob.objects.values_list("expanded_bytes", flat=True).get(pk=job.pk)
    seen = set(job.items.values_list("external_id", flat=True))  # member ids must stay unique
    archives = job.items.filter(status=IngestItem.Status.PENDING, is_archive=True)
    for item_id in archives.values_list("id", flat=True):
        if spent >= settings.UPLOAD_MAX_BYTES:
            # The job's budget is spent: every archive left is refused at once, unopened.
            archives.update(
                status=IngestItem.Status.FAILED,
                error=_budget_message("this archive was"),
                content=None,
                updated_at=timezone.now(),
            )
            break
        item = _item_claim(item_id)
        if item is None:
            continue
        try:
            # One transaction per archive: a run that dies midway leaves the archive to unpack
            # again, never half of its members.
            with transaction.atomic():
                spent += _archive_unpack(
                    job=job, archive=item, budget=settings.UPLOAD_MAX_BYTES - spent, seen=seen
                )
        except Exception as exc:  # a bug must fail this archive, not the job
            logger.exception("Unpacking %s failed", item.name)
            _item_save(
                item,
                _Outcome(
                    IngestItem.Status.FAILED,
                    f"Unexpected error while unpacking: {type(exc).__name__}: {exc}",
                    retryable=True,
                ),
            )
        run.beat()


def _archive_unpack(*, job: IngestJob, archive: IngestItem, budget: int, seen: set[str]) -> int:
    """Replace an archive item by one item per member, each read (streamed, bounded) and
    written on its own. The archive's row stays, failed, only to say what was not read.
    Returns the bytes decompressed, which count against the job's budget."""
    try:
        opened = zipfile.ZipFile(io.BytesIO(archive.content))
        infos = [info for info in opened.infolist() if not info.is_dir()]
    except Exception as exc:  # zipfile raises several kinds on damaged input
        _archive_refuse(archive, f"Not a readable zip: {exc}")
        return 0
    members = [(info, archive_member_path(info.filename)) for info in infos]
    members = [(i, p) for i, p in members if p is None or (p and not archive_member_is_junk(p))]
    cap = archive_member_cap()
    unpacker = _Unpacker(job=job, archive=archive, opened=opened, budget=budget, seen=seen)
    notes = []
    for index, (info, path) in enumerate(members[:cap]):
        if unpacker.used >= budget:
            left = len(members[:cap]) - index
            notes.append(_budget_message(f"{left} more file(s) of this archive were"))
            break
        unpacker.member_add(info, path)
    if len(members) > cap:
        notes.append(
            f"The archive holds {len(members):,} files; only the first {cap:,} were read "
            "(the limit per archive). Split it into smaller archives."
        )
    IngestJob.objects.filter(pk=job.pk).update(expanded_bytes=F("expanded_bytes") + unpacker.used)
    if notes:
        _archive_refuse(archive, " ".join(notes))
    elif not unpacker.added:
        _archive_refuse(archive, "The zip holds no files reviewdesk can read.")
    else:
        archive.delete()  # its members stand for it now
    return unpacker.used


def archive_member_date(info: zipfile.ZipInfo) -> dt.datetime | None:
    """A member's own modification time. Zip stores local time without a zone: it is read in
    the server's zone, so the date shown is the one the archive names. 1980-01-01, the
    earliest a zip can hold, is what tools write when they keep no date."""
    try:
        when = dt.datetime(*info.date_time)
    except (TypeError, ValueError):  # a damaged header
        return None
    if when.date() <= dt.date(1980, 1, 1):
        return None
    return timezone.make_aware(when)


def _archive_refuse(archive: IngestItem, message: str) -> None:
    _item_save(archive, _Outcome(IngestItem.Status.FAILED, message))


class _Unpacker:
    """Reads an archive's members one at a time within the per-file limit and what is left of
    the job's decompression budget, and stores each as an item before reading the next."""

    def __init__(
        self, *, job, archive: IngestItem, opened: zipfile.ZipFile, budget: int, seen: set[str]
    ):
        self.job, self.archive, self.opened, self.budget = job, archive, opened, budget
        self.seen = seen
        self.used = self.added = 0

    def member_add(self, info: zipfile.ZipInfo, path: str | None) -> None:
        external_id = f"{self.archive.external_id}/{path or info.filename}"[:500]
        member = IngestItem(
            job=self.job,
            name=f"{self.archive.name}/{path or info.filename}"[:500],
            external_id=external_id,
            size=info.file_size,
            source_root=self.archive.source_root,
            source_file=external_id,
            file_mtime=self.archive.file_mtime,
            file_date_source=self.archive.file_date_source,
        )
        member_date = archive_member_date(info)
        if member_date is not None:
            member.file_mtime, member.file_date_source = member_date, DateSource.FILE
        problem = self._problem_before_reading(info, path)
        if not problem:
            problem = self._read(info, member)
        if not problem and external_id in self.seen:
            problem = f"The archive holds {path!r} twice; only the first was read."
        if problem:
            member.status, member.error, member.content = IngestItem.Status.FAILED, problem, None
        self.seen.add(external_id)
        member.save()
        self.added += 1

    def _problem_before_reading(self, info: zipfile.ZipInfo, path: str | None) -> str:
        if path is None:
            return f"The path {info.filename!r} points outside the archive; it was not read."
        if is_archive(path):
            name = PurePosixPath(path).name
            return f"A zip inside a zip is not unpacked; upload {name} on its own."
        # The declared size may lie (see _read); an honest one saves decompressing at all.
        problem = upload_problem(name=path, size=info.file_size)
        if not problem and info.file_size > self.budget - self.used:
            problem = _budget_message("this file was")
        return problem

    def _read(self, info: zipfile.ZipInfo, member: IngestItem) -> str:
        left = self.budget - self.used
        limit = min(settings.UPLOAD_MAX_FILE_BYTES, left)
        try:
            member.content = archive_member_read(self.opened, info, limit=limit)
        except MemberUnread as exc:
            self.used += exc.read
            if not exc.over_limit:
                return str(exc)
            if exc.read > settings.UPLOAD_MAX_FILE_BYTES:
                size = f"more than {size_text(settings.UPLOAD_MAX_FILE_BYTES)}"
                return f"The file expands to {size}, the limit per file; it was not read."
            return _budget_message("this file was")
        self.used += len(member.content)
        member.size = len(member.content)
        return ""


# --- ingesting items ------------------------------------------------------------------------


@dataclass
class _Outcome:
    status: str
    error: str = ""
    documents: int = 0
    chunks: int = 0
    # Whether a retry can fix this failure: only then does the item keep its bytes.
    retryable: bool = False


class _Batch:
    """Parses items one by one and embeds the documents of several items together."""

    def __init__(
        self, *, job: IngestJob, patterns: list[re.Pattern], progress, run: _Run | None = None
    ) -> None:
        self.job, self.patterns, self.progress, self.run = job, patterns, progress, run
        self.waiting: list[tuple[IngestItem, PreparedDocument]] = []

    def beat(self) -> None:
        if self.run is not None:
            self.run.beat()

    def add(self, item: IngestItem) -> None:
        outcome = _guarded(item, lambda: _item_ingest(item, self.job, self.patterns, self.beat))
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
            self.beat()
            return
        categories = list(ErrorCategory.objects.all())
        for (item, prepared), item_vectors in zip(waiting, vectors, strict=True):
            outcome = _guarded(
                item,
                lambda p=prepared, v=item_vectors: _stored(p, v, categories),
            )
            self._finish(item, outcome)

    def _finish(self, item: IngestItem, outcome: _Outcome) -> None:
        _item_save(item, outcome)
        self.beat()
        if self.progress:
            self.progress(item)


def _stored(prepared: PreparedDocument, vectors, categories) -> _Outcome:
    _document_write(prepared, vectors, categories)
    return _Outcome(IngestItem.Status.DONE, documents=1, chunks=len(prepared.drafts))


def _guarded(item: IngestItem, work):
    """Run one item's step; a failure becomes that item's status, never the batch's."""
    try:
        return work()
    except _JobLost:
        raise
    except NoContent as exc:  # nothing to index is not a failure
        return _Outcome(IngestItem.Status.NO_CONTENT, str(exc))
    except ParseError as exc:  # the file itself: the same bytes would fail again
        return _Outcome(IngestItem.Status.FAILED, str(exc))
    except Exception as exc:  # a bug or a broken dependency must not stop the batch
        logger.exception("Ingesting %s failed", item.name)
        message = f"Unexpected error: {type(exc).__name__}: {exc}"
        return _Outcome(IngestItem.Status.FAILED, message, retryable=True)


def _guarded_all(waiting, work):
    try:
        return work()
    except Exception as exc:
        logger.exception("Embedding a batch failed")
        for item, _ in waiting:
            outcome = _Outcome(IngestItem.Status.FAILED, f"Embedding failed: {exc}", retryable=True)
            _item_save(item, outcome)
        return None


def _item_save(item: IngestItem, outcome: _Outcome) -> None:
    item.status, item.error = outcome.status, outcome.error
    item.documents, item.chunks = outcome.documents, outcome.chunks
    # Stored documents keep their own bytes, and a failure a retry cannot fix needs none:
    # only a retryable failure keeps them (IngestItem.objects.retryable relies on it).
    if not (item.status == IngestItem.Status.FAILED and outcome.retryable):
        item.content = None
    item.save(update_fields=["status", "error", "documents", "chunks", "content", "updated_at"])


def ingest_item_process(*, item: IngestItem, job: IngestJob, patterns: list[re.Pattern]) -> None:
    """Ingest one claimed item on its own (no batching with others)."""
    batch = _Batch(job=job, patterns=patterns, progress=None)
    batch.add(item)
    batch.flush()


def _item_ingest(item: IngestItem, job: IngestJob, patterns, beat: Callable[[], None]):
    """A finished outcome (failed, skipped, a JSONL file) or a document waiting for embedding."""
    data = bytes(item.content or b"")
    # In the server's zone, the one file dates are read in (see archive_member_date).
    fallback_date = timezone.localtime(item.file_mtime).date() if item.file_mtime else None
    if format_for(item.name) == "jsonl":
        return _jsonl_ingest(item, job, data, patterns, fallback_date, beat)
    parsed = parse_file(name=item.name, data=data, external_id=item.external_id)
    product_line = job.product_line or _product_line_from(parsed, item.external_id)
    digest = hashlib.sha256(data).hexdigest()
    if document_unchanged(
        external_id=parsed.external_id, content_hash=digest, product_line=product_line
    ):
        document_source_set(
            external_id=parsed.external_id,
            source_root=item.source_root,
            source_file=item.source_file,
        )
        return _Outcome(IngestItem.Status.SKIPPED, documents=1)
    twin = document_same_content(
        content_hash=digest, external_id=parsed.external_id, product_line=product_line
    )
    if twin is not None:
        return _Outcome(
            IngestItem.Status.DUPLICATE,
            f"The same file is already stored as {twin.external_id!r} (“{twin.title}”), "
            "so it was not added twice.",
        )
    return document_prepare(
        parsed=parsed,
        raw=data,
        product_line=product_line,
        patterns=patterns,
        fallback_date=fallback_date,
        fallback_date_source=item.file_date_source,
        source_root=item.source_root,
        source_file=item.source_file,
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


def _jsonl_ingest(item, job, data, patterns, fallback_date, beat) -> _Outcome:
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
            document_source_set(
                external_id=parsed.external_id,
                source_root=item.source_root,
                source_file=item.source_file,
            )
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
                    fallback_date_source=item.file_date_source,
                    source_root=item.source_root,
                    source_file=item.source_file,
                )
            )
        except ParseError as exc:
            messages.append(f"line {line}: {exc}")
            continue
        if sum(len(p.drafts) for p in pending) >= EMBED_GROUP_CHUNKS:
            chunks += _store_group(pending)
            stored += len(pending)
            pending = []
            beat()  # a large JSONL file is one item: show the job is alive meanwhile
    if pending:
        chunks += _store_group(pending)
        stored += len(pending)
    if not stored:
        return _Outcome(IngestItem.Status.FAILED, "\n".join(messages) or "No valid records.")
    status = IngestItem.Status.PARTIAL if messages else IngestItem.Status.DONE
    if not chunks and not messages:
        status = IngestItem.Status.SKIPPED
    return _Outcome(status, "\n".join(messages), stored, chunks)


def _store_group(pending: list[PreparedDocument]) -> int:
    documents_store(prepared=pending)
    return sum(len(p.drafts) for p in pending)


# --- taking over, resuming and retrying jobs ---------------------------------------------------


def ingest_job_resume(*, job: IngestJob) -> bool:
    """Queue again a job whose worker stopped responding (or a queued job no worker took).
    A running job with a recent heartbeat is refused (False): a second run would redo its
    items. Items the dead run left half-done go back to pending."""
    now = timezone.now()
    with transaction.atomic():
        current = IngestJob.objects.select_for_update().get(pk=job.pk)
        if current.status == JobStatus.QUEUED:
            IngestJob.objects.filter(pk=job.pk).update(heartbeat_at=now)
            return True
        if not (current.status == JobStatus.RUNNING and current.is_stale):
            return False
        IngestJob.objects.filter(pk=job.pk).update(
            status=JobStatus.QUEUED, heartbeat_at=now, worker_token=""
        )
        current.items.filter(status=IngestItem.Status.RUNNING).update(
            status=IngestItem.Status.PENDING
        )
    return True


def ingest_job_retry_failed(*, job: IngestJob) -> int:
    """Failed items a retry can fix go back to pending and the job is queued again. Only for
    a finished job: a running one still owns its items."""
    with transaction.atomic():
        finished = IngestJob.objects.select_for_update().filter(
            pk=job.pk, status__in=[JobStatus.DONE, JobStatus.PARTIAL, JobStatus.FAILED]
        )
        if not finished.exists():
            return 0
        count = job.items.retryable().update(status=IngestItem.Status.PENDING, error="")
        if count:
            finished.update(status=JobStatus.QUEUED, heartbeat_at=timezone.now())
    return count


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
    where = {"source_root": document.source_root, "source_file": document.source_file}
    # A date the document names is found again when it is parsed; any other date (the file's,
    # the upload's, one set by hand) exists only on the document: carry it over.
    if document.source_updated_at and document.date_source != DateSource.DOCUMENT:
        when = dt.datetime.combine(document.source_updated_at, dt.time(12))
        where["mtime"] = timezone.make_aware(when)
        where["date_source"] = document.date_source or DateSource.FILE
    if document.format != "jsonl":
        return UploadedFile(
            name=document.external_id, data=raw, external_id=document.external_id, **where
        )
    stored = json.loads(raw)
    record = {**stored["meta"], "id": document.external_id, "text": stored["text"]}
    return UploadedFile(
        name=f"{document.external_id}.jsonl",
        data=json.dumps(record).encode(),
        external_id=document.external_id,
        **where,
    )


def document_delete(*, document: Document) -> None:
    document.delete()


def documents_delete_missing(*, source_root: str, job: IngestJob) -> list[str]:
    """Delete the documents that `job` (an ingest of the folder `source_root`) no longer
    found: those recorded from that folder whose file was not among the job's files. A file
    that is there but failed keeps its document, and so do the members of an archive the job
    could not read through. Returns the deleted external ids."""
    items = job.items.filter(source_root=source_root)
    present = set(items.values_list("source_file", flat=True))
    unread_archives = [
        f"{name}/" for name in items.filter(is_archive=True).values_list("source_file", flat=True)
    ]
    stale = (
        Document.objects.filter(source_root=source_root)
        .exclude(source_file__in=present)
        .defer("raw")
    )
    deleted = []
    for document in stale:
        if any(document.source_file.startswith(prefix) for prefix in unread_archives):
            continue
        document_delete(document=document)
        deleted.append(document.external_id)
    return deleted


# --- sentences of chunks ---------------------------------------------------------------------


def chunk_sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of a chunk's sentences, found in the chunk's own text so that a quote is
    always a verbatim slice of it (wrapped lines are matched across their line breaks)."""
    spans, position = [], 0
    for sentence in sentences_split(text):
        pattern = r"\s+".join(re.escape(word) for word in sentence.split())
        match = re.compile(pattern).search(text, position)
        if match:
            spans.append((match.start(), match.end()))
            position = match.end()
    return spans


def chunk_sentences_ensure(*, chunks: list[Chunk]) -> dict[int, list[ChunkSentence]]:
    """The sentences of these chunks with their embeddings; those not stored yet are embedded
    in one batch and stored (a concurrent writer's rows win: same spans, same vectors)."""
    stored: dict[int, list[ChunkSentence]] = {c.pk: [] for c in chunks}
    for sentence in ChunkSentence.objects.filter(chunk__in=chunks):
        stored[sentence.chunk_id].append(sentence)
    missing = [c for c in chunks if not stored[c.pk]]
    new = [
        ChunkSentence(chunk=c, start=start, end=end, embedding=None)
        for c in missing
        for start, end in chunk_sentence_spans(c.text)
    ]
    if new:
        texts = [" ".join(s.chunk.text[s.start : s.end].split()) for s in new]
        for sentence, vector in zip(new, embedding.embed(texts), strict=True):
            sentence.embedding = vector
        ChunkSentence.objects.bulk_create(new, ignore_conflicts=True)
        for sentence in new:
            stored[sentence.chunk_id].append(sentence)
    return stored
