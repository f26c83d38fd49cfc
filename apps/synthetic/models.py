from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from pgvector.django import HnswIndex, VectorField

from apps.knowledge.models import EMBEDDING_DIMENSIONS, Chunk, Document, ProductLine
from apps.synthetic.text import answer_from_sentence

QUESTION_KINDS = [
    ("limits", "Limits and quotas"),
    ("error_code", "Error codes"),
    ("plan_difference", "Differences between product lines"),
    ("what_if", "What happens if"),
    ("how_to", "How-to"),
    # Plain statements and definitions: what a reference page mostly holds.
    ("fact", "Facts and definitions"),
]

# The prompt version of a pair whose question the app composed (see quality.question_templated).
QUESTION_TEMPLATE_PREFIX = "question-template@"
# The check a question the model wrote fails while such questions are held back from the
# queue (settings.SYNTHETIC_QUEUE_MODEL_QUESTIONS).
MODEL_QUESTION_HELD = "question not left to the model"

# A run whose task has not reported progress for this long is taken for stopped (a killed
# worker, a lost message) and may be resumed by a lead. Resuming a run whose task is in fact
# still alive is harmless: the old task loses its lease and cannot write another pair.
RUN_STALE_AFTER = timedelta(minutes=10)


class GenerationRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    product_lines = models.ManyToManyField(ProductLine, blank=True)
    documents = models.ManyToManyField(Document, blank=True, related_name="+")
    kinds = ArrayField(models.CharField(max_length=30), default=list)
    per_chunk = models.PositiveSmallIntegerField(default=1)
    chunk_limit = models.PositiveIntegerField(default=20)
    seed = models.PositiveIntegerField(default=0)
    required_approvals = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    total_chunks = models.PositiveIntegerField(default=0)
    done_chunks = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # The sampled chunk ids, fixed when the run first starts: every later slice and every
    # resume works through the same list, so a pair's slot means the same unit of work.
    plan = ArrayField(models.IntegerField(), default=list, blank=True)
    # The id of the task allowed to work on the run; a task whose lease was handed on stops.
    lease = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    slices = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Generation run {self.pk}"

    @classmethod
    def resumable_q(cls, now: datetime) -> Q:
        """Runs a lead may resume: failed ones, and queued or running ones nobody has reported
        progress on for RUN_STALE_AFTER (a null heartbeat predates heartbeats: never heard)."""
        stalled = Q(heartbeat_at__lt=now - RUN_STALE_AFTER) | Q(heartbeat_at__isnull=True)
        return Q(cancel_requested=False) & (
            Q(status=cls.Status.FAILED)
            | (Q(status__in=[cls.Status.QUEUED, cls.Status.RUNNING]) & stalled)
        )


class QAPairQuerySet(models.QuerySet):
    def exportable(self) -> QAPairQuerySet:
        return self.filter(EXPORTABLE)


class QAPair(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        NEEDS_HUMAN = "needs_human", "Model output invalid"
        # Valid output that failed an automatic check: kept with the reasons, never queued.
        FAILED_CHECKS = "failed_checks", "Rejected by checks"

    run = models.ForeignKey(GenerationRun, on_delete=models.CASCADE, related_name="pairs")
    chunk = models.ForeignKey(Chunk, null=True, on_delete=models.SET_NULL, related_name="+")
    document = models.ForeignKey(Document, null=True, on_delete=models.SET_NULL, related_name="+")
    product_line = models.ForeignKey(
        ProductLine, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_text = models.TextField()  # the chunk as the model saw it, kept if re-ingested
    kind = models.CharField(max_length=30, choices=QUESTION_KINDS)
    question = models.TextField()
    answer = models.TextField()
    quote = models.TextField()
    verified = models.BooleanField(default=False)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    question_embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS, null=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    # The automatic checks as last run on the pair's text: [{"name", "passed", "detail"}].
    checks = models.JSONField(default=list, blank=True)
    raw_output = models.TextField(blank=True)
    llm_call = models.ForeignKey(
        "llm.LLMCall", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    model = models.CharField(max_length=300, blank=True)
    prompt_version = models.CharField(max_length=120, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_until = models.DateTimeField(null=True, blank=True)
    # The unit of work of its run that produced the pair (chunk position * per_chunk + n):
    # unique per run, so a resumed or redelivered run never writes a unit twice.
    slot = models.PositiveIntegerField(null=True, blank=True)
    # Raised on every change of question, answer or quote: an edit or an approval names the
    # version it was made on, so nobody overwrites or approves text they did not see.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = QAPairQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "slot"], name="qapair_one_per_run_slot")
        ]
        indexes = [
            HnswIndex(
                name="qapair_question_hnsw",
                fields=["question_embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            )
        ]

    def __str__(self) -> str:
        return self.question[:80]

    @property
    def failed_checks(self) -> list[dict]:
        return [check for check in self.checks if not check.get("passed")]

    @property
    def checks_version(self) -> int:
        """The version of the text the stored checks were run on (1: the AI's own)."""
        return self.checks[0].get("version", 1) if self.checks else 1

    @property
    def question_composed(self) -> bool:
        """The app composed the question from the sentence's own structure (first, for a
        sentence with such a shape, or after the model's questions failed the checks)."""
        return self.prompt_version.startswith(QUESTION_TEMPLATE_PREFIX)

    @property
    def answer_is_quote(self) -> bool:
        """The answer is the quoted sentence as generation wrote it (tidied: no bold marks,
        no leading "Note that"), not a person's rewording."""
        return bool(self.quote) and self.answer == answer_from_sentence(self.quote)

    @property
    def question_held(self) -> bool:
        """The model wrote the question, which passed the other checks but was held back from
        the queue: a person may edit it and approve it."""
        return any(check.get("name") == MODEL_QUESTION_HELD for check in self.failed_checks)

    @property
    def supported(self) -> bool:
        """The quoted sentence supports the answer (the answerability check passed), which
        says more than the quote merely being in the source."""
        return self.verified and any(
            check.get("passed") and check.get("name") == "answerable from the source"
            for check in self.checks
        )

    @property
    def exportable(self) -> bool:
        """Asks the database, so the answer is the export's own definition (EXPORTABLE)."""
        return self.pk is not None and QAPair.objects.exportable().filter(pk=self.pk).exists()


# The one definition of what may leave the building: approved, quote verified, not a
# near-duplicate, and with a question and an answer that are more than whitespace. Used by
# the export, the distribution counts and QAPair.exportable alike.
EXPORTABLE = Q(
    status=QAPair.Status.APPROVED,
    verified=True,
    duplicate_of__isnull=True,
    question__regex=r"\S",
    answer__regex=r"\S",
)


class Review(models.Model):
    """One reviewer's decision on one pair (two of them when a lead asks for two approvals)."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"

    REASONS = [
        ("wrong", "Wrong"),
        ("not_in_docs", "Not in the docs"),
        ("duplicate", "Duplicate"),
        ("unclear", "Unclear"),
        ("other", "Other"),
    ]

    pair = models.ForeignKey(QAPair, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    decision = models.CharField(max_length=10, choices=Decision.choices)
    reason = models.CharField(max_length=20, choices=REASONS, blank=True)
    note = models.TextField(blank=True)
    edited = models.BooleanField(default=False)
    # The pair's version this decision was made on: an approval counts only while the pair
    # still has that text.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            # Once per version: a reviewer who approved text that someone then edited may
            # approve (or reject) the new text.
            models.UniqueConstraint(
                fields=["pair", "reviewer", "version"], name="review_once_per_reviewer_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.decision} on {self.pair_id}"


class FinetuneExport(models.Model):
    """A fine-tuning file as it was handed out: content, manifest and checksum, kept so the
    same file can be downloaded again and audited later."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    format = models.CharField(max_length=20)
    train = models.TextField()
    validation = models.TextField()
    manifest = models.JSONField(default=dict)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Export {self.pk} ({self.format})"
