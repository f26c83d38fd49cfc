from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from pgvector.django import VectorField

from apps.knowledge.models import EMBEDDING_DIMENSIONS, Chunk, Document, ProductLine

QUESTION_KINDS = [
    ("limits", "Limits and quotas"),
    ("error_code", "Error codes"),
    ("plan_difference", "Differences between product lines"),
    ("what_if", "What happens if"),
    ("how_to", "How-to"),
]


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
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Generation run {self.pk}"


class QAPair(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        NEEDS_HUMAN = "needs_human", "Model output invalid"

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
        max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True
    )
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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.question[:80]

    @property
    def exportable(self) -> bool:
        return self.status == self.Status.APPROVED and self.verified and not self.duplicate_of_id


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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["pair", "reviewer"], name="review_once_per_reviewer")
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
