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


class Reply(models.Model):
    """The reply people work on for one draft: it starts as the draft's text (with its [n]
    citation markers), reviewers edit it, a reviewer and then a lead approve it. The draft's
    own text is never changed, so the diff from the AI's text to the final reply stays."""

    class Stage(models.TextChoices):
        REVIEW = "review", "Awaiting review"
        LEAD = "lead", "Awaiting lead approval"
        APPROVED = "approved", "Approved"
        ESCALATED = "escalated", "Escalated"
        SUPERSEDED = "superseded", "Replaced by a newer draft"

    class FlagReason(models.TextChoices):
        HALLUCINATION = "hallucination", "Hallucination: states what the docs do not"
        WRONG_PRODUCT_LINE = "wrong_product_line", "Wrong product line"
        OUTDATED = "outdated", "Outdated"
        TONE = "tone", "Tone"
        INCOMPLETE = "incomplete", "Incomplete"
        OTHER = "other", "Other"

    draft = models.OneToOneField(Draft, on_delete=models.CASCADE, related_name="reply")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="replies")
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.REVIEW)
    # The current text, with [n] markers; `version` rises with every saved change or decision,
    # and every save names the version it was made on (optimistic locking).
    text = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    # Review-time verdicts of the current text, one dict per sentence (text, kind, citations
    # as source ids, verdict, similarity, reason).
    sentences = models.JSONField(default=list, blank=True)
    sentence_count = models.PositiveSmallIntegerField(default=0)
    unsupported_count = models.PositiveSmallIntegerField(default=0)
    weak_count = models.PositiveSmallIntegerField(default=0)
    edited = models.BooleanField(default=False)
    # Everyone who changed the text: none of them may give the lead's approval (four eyes).
    editor_ids = ArrayField(models.IntegerField(), default=list, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Every flag raised on this reply: {"reason", "note", "by", "at"}; the log has them too.
    flags = models.JSONField(default=list, blank=True)
    return_note = models.TextField(blank=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    returned_at = models.DateTimeField(null=True, blank=True)
    # Why a person approved a reply with unsupported sentences.
    override_reason = models.TextField(blank=True)
    escalation_note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    # Approved by the reviewer alone (DRAFT_SKIP_LEAD_WHEN_CLEAN: unedited, all supported).
    lead_skipped = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["stage", "-id"], name="reply_stage_idx")]

    def __str__(self) -> str:
        return f"Reply to ticket {self.ticket_id} (draft {self.draft_id})"


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
