from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


class Draft(models.Model):
    """One AI-drafted reply to a ticket. Written whole in one transaction (never half a
    draft); regenerating makes the next version and the old one stays."""

    class Status(models.TextChoices):
        READY = "ready", "Checked: every sentence supported"
        FAILED_CHECKS = "failed_checks", "Failed checks"
        NEEDS_HUMAN = "needs_human", "Needs a human: no valid model output"
        ESCALATED = "escalated", "Escalated: the docs do not answer"

    class Design(models.TextChoices):
        RANKED = "ranked", "App ranks sentences and composes (no model)"
        SELECT = "select", "Model picks sentences, app composes"
        WRITE = "write", "Model writes sentences bound to sources"

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="drafts")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices)
    design = models.CharField(max_length=10, choices=Design.choices)
    # The reply as the AI composed it; people's edits never overwrite it (the review keeps
    # its own text), so the diff to the final reply stays visible.
    text = models.TextField()
    escalation_reason = models.TextField(blank=True)
    # What retrieval used: applied and inferred filters (names, for display), notices.
    retrieval = models.JSONField(default=dict)
    best_similarity = models.FloatField(null=True)
    checks = models.JSONField(default=list)
    sentence_count = models.PositiveSmallIntegerField(default=0)
    unsupported_count = models.PositiveSmallIntegerField(default=0)
    weak_count = models.PositiveSmallIntegerField(default=0)
    llm_call = models.ForeignKey(
        "llm.LLMCall", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model = models.CharField(max_length=300, blank=True)
    prompt_version = models.CharField(max_length=120, blank=True)
    retrieval_ms = models.FloatField(default=0)
    model_ms = models.FloatField(default=0)
    total_ms = models.FloatField(default=0)
    ms_per_token = models.FloatField(null=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["ticket_id", "-version"]
        constraints = [
            # A redelivered or repeated task can never make a second draft of one version.
            models.UniqueConstraint(fields=["ticket", "version"], name="draft_unique_version")
        ]

    def __str__(self) -> str:
        return f"Draft {self.version} of ticket {self.ticket_id}"


class DraftSource(models.Model):
    """A numbered source sentence the model was given, tied to its chunk by character
    offsets. The text is stored as it was, so a later change of the document shows."""

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="sources")
    sid = models.CharField(max_length=8)
    chunk = models.ForeignKey(
        "knowledge.Chunk", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    document = models.ForeignKey(
        "knowledge.Document", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    document_title = models.CharField(max_length=500, blank=True)
    heading_path = models.CharField(max_length=1000, blank=True)
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    text = models.TextField()
    similarity = models.FloatField()
    cited = models.BooleanField(default=False)

    class Meta:
        ordering = ["draft_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["draft", "sid"], name="draft_source_unique_sid")
        ]

    def __str__(self) -> str:
        return f"{self.sid} of draft {self.draft_id}"


class DraftSentence(models.Model):
    """A sentence of the draft: a claim (cites sources, gets a support verdict) or framing the
    app wrote itself (greeting, closing: no claim, no verdict)."""

    class Kind(models.TextChoices):
        CLAIM = "claim", "Claim"
        FRAMING = "framing", "Framing"

    class Verdict(models.TextChoices):
        SUPPORTED = "supported", "Supported"
        WEAK = "weak", "Weakly supported"
        UNSUPPORTED = "unsupported", "Unsupported"
        NONE = "", "Not a claim"

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="sentences")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    text = models.TextField()
    citations = ArrayField(models.CharField(max_length=8), default=list, blank=True)
    verdict = models.CharField(max_length=12, choices=Verdict.choices, blank=True)
    similarity = models.FloatField(null=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["draft_id", "position"]

    def __str__(self) -> str:
        return f"Sentence {self.position} of draft {self.draft_id}"


class AnswerEvalRun(models.Model):
    """A saved `eval_answers` run: what was measured with which model, prompt and design."""

    name = models.CharField(max_length=100)
    queries_file = models.CharField(max_length=500)
    model = models.CharField(max_length=300)
    backend = models.CharField(max_length=30)
    prompt_version = models.CharField(max_length=120)
    design = models.CharField(max_length=10)
    k = models.PositiveSmallIntegerField()
    use_filters = models.BooleanField(default=True)
    n = models.PositiveIntegerField()
    metrics = models.JSONField()
    per_product_line = models.JSONField(default=dict)
    questions = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.created_at:%Y-%m-%d %H:%M})"
