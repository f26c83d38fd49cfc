from django.db import models


class PromptVersion(models.Model):
    """A prompt template file as it was when a call used it (name + content hash)."""

    name = models.CharField(max_length=100)
    content_hash = models.CharField(max_length=64)
    text = models.TextField()
    first_used_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "content_hash"], name="prompt_version_unique")
        ]
        ordering = ["name", "-first_used_at"]

    def __str__(self) -> str:
        return f"{self.name}@{self.content_hash[:10]}"


class LLMCall(models.Model):
    """One structured call to a language model, with every attempt's outcome."""

    purpose = models.CharField(max_length=50, db_index=True)
    backend = models.CharField(max_length=30)
    model = models.CharField(max_length=300)
    prompt_version = models.ForeignKey(PromptVersion, null=True, on_delete=models.PROTECT)
    schema_name = models.CharField(max_length=100)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    time_to_first_token_ms = models.FloatField(null=True)
    ms_per_output_token = models.FloatField(null=True)
    total_ms = models.FloatField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    first_try_valid = models.BooleanField(default=False)
    valid = models.BooleanField(default=False)
    # Quality gates on the schema-valid output (None: the call had none).
    checks_passed = models.BooleanField(null=True)
    needs_human = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    raw_outputs = models.JSONField(default=list)
    result = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "LLM call"

    def __str__(self) -> str:
        return f"{self.purpose} #{self.pk}"
