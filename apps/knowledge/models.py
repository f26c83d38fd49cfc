import datetime as dt

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone
from pgvector.django import HnswIndex, VectorField

EMBEDDING_DIMENSIONS = 384


class JobStatus(models.TextChoices):
    """Life of a background job (ingestion, evaluation)."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    # Finished, but some of the work failed (ingestion: some files failed, some did not).
    # Stored rather than computed so lists and filters need no per-job count.
    PARTIAL = "partial", "Done with failures"
    FAILED = "failed", "Failed"


FINISHED_STATUSES = (JobStatus.DONE, JobStatus.PARTIAL, JobStatus.FAILED)


def ingest_stale_after() -> dt.timedelta:
    """How long a running ingest job may go without progress before it counts as abandoned."""
    return dt.timedelta(seconds=settings.INGEST_STALE_SECONDS)


class ProductLine(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    # Extra words that name this product line in a question ("enterprise", "ent plan").
    aliases = models.CharField(max_length=500, blank=True, help_text="Comma-separated.")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def alias_list(self) -> list[str]:
        return [a.strip() for a in self.aliases.split(",") if a.strip()]


class ErrorCodePattern(models.Model):
    """A regular expression that finds error codes in document text (e.g. E\\d{4})."""

    name = models.CharField(max_length=100)
    regex = models.CharField(max_length=300)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.regex})"


class ErrorCategory(models.Model):
    """Error codes starting with `prefix` belong to `name` (longest prefix wins)."""

    prefix = models.CharField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["prefix"]
        verbose_name_plural = "error categories"

    def __str__(self) -> str:
        return f"{self.prefix}* → {self.name}"


class DateSource(models.TextChoices):
    """Where a document's "last updated" date came from, so a reader knows how far to trust it."""

    DOCUMENT = "document", "date in the document"
    FILE = "file", "file date"
    UPLOAD = "upload", "upload time"
    MANUAL = "manual", "set by hand"


class Document(models.Model):
    class Status(models.TextChoices):
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    external_id = models.CharField(max_length=500, unique=True)
    title = models.CharField(max_length=500)
    format = models.CharField(max_length=20)
    product_line = models.ForeignKey(
        ProductLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="documents"
    )
    source_url = models.CharField(max_length=1000, blank=True)
    source_updated_at = models.DateField(null=True, blank=True)
    # Blank for documents ingested before the source was recorded.
    date_source = models.CharField(max_length=10, choices=DateSource.choices, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    raw = models.BinaryField(editable=False)
    content_hash = models.CharField(max_length=64)
    chunk_config = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.READY)
    chunk_count = models.PositiveIntegerField(default=0)
    # Where the ingest command found it: the resolved folder it was given, and the file (or
    # JSONL file, or archive member) the document came from. `ingest --delete-missing` deletes
    # a folder's documents whose file is gone, and nothing from any other folder.
    source_root = models.CharField(max_length=1000, blank=True, db_index=True)
    source_file = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class Chunk(models.Model):
    """A retrievable piece of a document. Metadata is copied onto the chunk so that filters
    run inside the same SQL query as the vector search."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    heading_path = models.CharField(max_length=1000, blank=True)
    token_count = models.PositiveIntegerField()
    product_line = models.ForeignKey(
        ProductLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error_codes = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    error_categories = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    source_updated_at = models.DateField(null=True, blank=True)
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS)
    search_vector = SearchVectorField(null=True)

    class Meta:
        ordering = ["document_id", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="chunk_unique_ordinal")
        ]
        indexes = [
            HnswIndex(
                name="chunk_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            GinIndex(fields=["search_vector"], name="chunk_search_gin"),
            GinIndex(fields=["error_codes"], name="chunk_error_codes_gin"),
            GinIndex(fields=["error_categories"], name="chunk_error_categories_gin"),
            models.Index(fields=["product_line"], name="chunk_product_line_idx"),
            models.Index(fields=["source_updated_at"], name="chunk_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.document.title} #{self.ordinal}"


class IngestJob(models.Model):
    Status = JobStatus

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    source = models.CharField(max_length=20, default="upload")
    product_line = models.ForeignKey(ProductLine, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The job's last sign of life: queued, claimed, or an item finished. A running job whose
    # heartbeat is older than INGEST_STALE_SECONDS lost its worker and may be taken over.
    heartbeat_at = models.DateTimeField(default=timezone.now)
    # Which run owns the job; a run that finds another token here was taken over and stops.
    worker_token = models.CharField(max_length=32, blank=True)
    # Bytes decompressed from the job's archives so far: one budget (UPLOAD_MAX_BYTES) for
    # all archives of the job together.
    expanded_bytes = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Ingest job {self.pk} ({self.status})"

    @property
    def is_stale(self) -> bool:
        """Queued or running, with no sign of life for longer than the stale threshold."""
        active = self.status in (JobStatus.QUEUED, JobStatus.RUNNING)
        return active and self.heartbeat_at < timezone.now() - ingest_stale_after()


class IngestItemQuerySet(models.QuerySet):
    def retryable(self) -> models.QuerySet:
        """Failed items a retry can fix. Files refused for what they are (too large, empty,
        unsupported, unreadable, a refused archive path) are failed without their bytes; only
        failures from outside the file (embedding service down, a bug) keep them."""
        return self.filter(status=IngestItem.Status.FAILED, content__isnull=False)


class IngestItem(models.Model):
    """One uploaded file of a job. Its bytes live here until processed so any worker on any
    machine can pick it up."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Unchanged"
        # Read fine but nothing to index (front matter and no body, headings only): not a
        # failure, and nothing a retry or another upload would change.
        NO_CONTENT = "no_content", "Skipped: no content"
        # The same bytes as a document already stored under another path (the folder uploaded
        # again from another root): a second copy would crowd search results and Q&A runs.
        DUPLICATE = "duplicate", "Skipped: already stored"
        PARTIAL = "partial", "Done with errors"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(IngestJob, on_delete=models.CASCADE, related_name="items")
    name = models.CharField(max_length=500)
    external_id = models.CharField(max_length=500)
    size = models.PositiveBigIntegerField(default=0)
    content = models.BinaryField(null=True, editable=False)
    # A .zip as uploaded: the worker unpacks it into one item per member, then removes it (or
    # keeps it, failed, to say what could not be read).
    is_archive = models.BooleanField(default=False)
    source_root = models.CharField(max_length=1000, blank=True)
    source_file = models.CharField(max_length=500, blank=True)
    # The file's own date when known (zip member, browser, file system), else the upload time;
    # file_date_source says which (a DateSource value: "file" or "upload").
    file_mtime = models.DateTimeField(null=True, blank=True)
    file_date_source = models.CharField(max_length=10, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    documents = models.PositiveIntegerField(default=0)
    chunks = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IngestItemQuerySet.as_manager()

    class Meta:
        ordering = ["job_id", "id"]

    def __str__(self) -> str:
        return self.name


class ChunkSentence(models.Model):
    """A sentence of a chunk (character span) with its embedding, computed the first time a
    draft reads the chunk and kept: ranking a ticket's candidate sentences then costs a query,
    not an embedding call per sentence. Goes with its chunk when a document is re-ingested."""

    chunk = models.ForeignKey(Chunk, on_delete=models.CASCADE, related_name="sentences")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS)

    class Meta:
        ordering = ["chunk_id", "start"]
        constraints = [
            models.UniqueConstraint(fields=["chunk", "start"], name="chunk_sentence_unique_start")
        ]

    def __str__(self) -> str:
        return f"Chunk {self.chunk_id} [{self.start}:{self.end}]"


class EvalRun(models.Model):
    Status = JobStatus

    name = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    queries = models.JSONField(default=list)
    mode = models.CharField(max_length=10, default="hybrid")
    ks = ArrayField(models.PositiveIntegerField(), default=list)
    use_filters = models.BooleanField(default=False)
    chunk_config = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    results = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name
