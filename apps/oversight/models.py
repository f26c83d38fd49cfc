import pgtrigger
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


class EditLogEntry(models.Model):
    """One human decision on AI-written text (an edit, an approval, a rejection, a flag…):
    the record leads and auditors rely on, so the database itself refuses to change or remove
    it (see Meta.triggers). Written only through apps.oversight.services.decision_record, in
    the same transaction as the change it records."""

    class Area(models.TextChoices):
        QA = "qa", "Synthetic Q&A"
        DRAFT = "draft", "Draft replies"
        ACTION = "action", "Proposed actions"

    class Decision(models.TextChoices):
        EDIT = "edit", "Edited"
        # A draft reply's first approval (a reviewer's): it goes to a lead, who gives the
        # final APPROVE. Kept apart so approvals count each reply once.
        SUBMIT = "submit", "Approved by a reviewer, sent to a lead"
        APPROVE = "approve", "Approved"
        REJECT = "reject", "Rejected"
        FLAG = "flag", "Flagged"
        ESCALATE = "escalate", "Escalated"
        RETURN = "return", "Returned by a lead"
        REGENERATE = "regenerate", "Regenerated"
        OVERRIDE = "override", "Unsupported sentence kept"

    area = models.CharField(max_length=10, choices=Area.choices, default=Area.QA)
    # The object decided on, by app label + model ("synthetic.qapair") and primary key: a plain
    # reference, so the entry outlives the object and never blocks deleting it.
    object_type = models.CharField(max_length=50)
    object_id = models.PositiveBigIntegerField()
    # The object's version the decision was taken on (None: entries from before versions).
    object_version = models.PositiveIntegerField(null=True, blank=True)
    decision = models.CharField(max_length=12, choices=Decision.choices)
    # The decision changed the AI text (an edit, or an approval that came with edits).
    edited = models.BooleanField(default=False)
    reason = models.CharField(max_length=50, blank=True)  # a reason code, e.g. "not_in_docs"
    note = models.TextField(blank=True)  # the person's own words
    # The text decided on, per field ({"question": …, "answer": …}), before and after.
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    changed_fields = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    diff = models.TextField(blank=True)
    # Share of words changed (0: approved as written, 1: rewritten); None when no text was
    # decided on.
    edit_ratio = models.FloatField(null=True, blank=True)
    # The editor's id is kept as a plain number, not a constraint: deleting a user must not
    # touch the log (SET_NULL would UPDATE it, CASCADE would DELETE from it, and the database
    # refuses both), so DO_NOTHING without a database constraint. Who it was stays readable
    # through editor_name and editor_role, copied at decision time.
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    editor_name = models.CharField(max_length=150, blank=True)
    editor_role = models.CharField(max_length=50)
    product_line = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=300, blank=True)
    prompt_version = models.CharField(max_length=120, blank=True)
    # When the AI text was produced, and when the need for it arose (a ticket's arrival): the
    # dashboard's "time to draft / to decision" figures.
    ai_created_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    # Area-specific figures, e.g. {"sentences": 6, "unsupported": 1} for a draft reply.
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="editlog_object_idx"),
            models.Index(fields=["area", "created_at"], name="editlog_area_time_idx"),
        ]
        verbose_name = "decision log entry"
        verbose_name_plural = "decision log"
        triggers = [
            pgtrigger.Protect(
                name="refuse_update_delete",
                operation=pgtrigger.Update | pgtrigger.Delete,
            ),
            # pgtrigger has the TRUNCATE operation but its Protect class only covers it for
            # row-level triggers, which PostgreSQL does not fire on TRUNCATE: a statement-level
            # trigger is declared here with pgtrigger (installed and versioned by its
            # migrations), and only the one RAISE is written out.
            pgtrigger.Trigger(
                name="refuse_truncate",
                operation=pgtrigger.Truncate,
                level=pgtrigger.Statement,
                when=pgtrigger.Before,
                func="RAISE EXCEPTION 'pgtrigger: Cannot truncate the % table', TG_TABLE_NAME;",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} {self.object_type} {self.object_id}"
