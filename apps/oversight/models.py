from django.conf import settings
from django.db import models


class EditLogEntry(models.Model):
    """Append-only record of a human change to AI-written text: never updated or deleted."""

    object_type = models.CharField(max_length=50)
    object_id = models.PositiveBigIntegerField()
    field = models.CharField(max_length=50)
    before = models.TextField()
    after = models.TextField()
    diff = models.TextField()
    editor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    editor_role = models.CharField(max_length=50)
    reason = models.TextField(blank=True)
    model = models.CharField(max_length=300, blank=True)
    prompt_version = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="editlog_object_idx")]
        verbose_name = "edit log entry"
        verbose_name_plural = "edit log"

    def __str__(self) -> str:
        return f"{self.object_type} {self.object_id}.{self.field} by {self.editor_id}"
