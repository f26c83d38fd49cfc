from django.conf import settings
from django.db import models


class Ticket(models.Model):
    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    class Status(models.TextChoices):
        NEW = "new", "New"
        DRAFTING = "drafting", "Drafting"
        AWAITING_REVIEW = "awaiting_review", "Awaiting review"
        AWAITING_LEAD = "awaiting_lead", "Awaiting lead"
        APPROVED = "approved", "Approved"
        SENT = "sent", "Sent"
        ESCALATED = "escalated", "Escalated"
        CLOSED = "closed", "Closed"

    class Source(models.TextChoices):
        WEB = "web", "Web form"
        IMPORT = "import", "Import"
        API = "api", "API"

    # The helpdesk's own id: what an import or an API client uses to say "this one again".
    external_id = models.CharField(max_length=200)
    source = models.CharField(max_length=10, choices=Source.choices)
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField()
    customer_name = models.CharField(max_length=200, blank=True)
    customer_email = models.EmailField(max_length=254, blank=True)
    product_line = models.ForeignKey(
        "knowledge.ProductLine",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    api_client = models.ForeignKey(
        "tickets.ApiClient",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
    )
    # Draft versions asked for so far (on creation, then each regenerate): the drafting task
    # writes exactly this version, so a repeated task cannot make a second draft.
    drafts_requested = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="ticket_external_id_unique_per_source"
            )
        ]
        indexes = [models.Index(fields=["status", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.external_id}: {self.subject or self.body[:60]}"


class ApiClient(models.Model):
    """A system allowed to post tickets. Only a hash of its token is stored: the plain token is
    shown once, when the client is created in admin."""

    name = models.CharField(max_length=100, unique=True)
    # The token's first characters, kept in clear so a lookup narrows to one row and an admin
    # can tell which token a client holds without the token itself.
    prefix = models.CharField(max_length=16, db_index=True, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Where approved replies are POSTed (optional: a client may fetch them over the API).
    webhook_url = models.URLField(max_length=2000, blank=True)
    # Signs each webhook body (HMAC-SHA256). Kept in clear because signing needs it; admin
    # takes it in a password field and never shows it back.
    webhook_secret = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return self.name

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
