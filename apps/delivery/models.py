import uuid

from django.conf import settings
from django.db import models


class Delivery(models.Model):
    """One webhook event for one API client: an approved reply, POSTed until the client's
    server answers 2xx. Never dropped: it ends delivered, or failed where leads see it and can
    send it again."""

    class Event(models.TextChoices):
        REPLY_APPROVED = "reply.approved", "Reply approved"

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    # What a receiver deduplicates on: the same for every attempt and every "Send again".
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(max_length=40, choices=Event.choices)
    reply = models.ForeignKey("drafts.Reply", on_delete=models.CASCADE, related_name="deliveries")
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="deliveries"
    )
    api_client = models.ForeignKey(
        "tickets.ApiClient", on_delete=models.PROTECT, related_name="deliveries"
    )
    # The exact JSON text POSTed, fixed when the event happened: every attempt sends (and
    # signs) the same bytes, so a receiver that got an earlier attempt can tell it is a repeat.
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Attempts made so far, over every round; the next attempt is number attempt_count + 1,
    # and a worker may make it only by raising this count first (see services.delivery_claim).
    attempt_count = models.PositiveIntegerField(default=0)
    # Attempts made before the current round began ("Send again" starts a round): backoff and
    # the WEBHOOK_MAX_ATTEMPTS limit count from here.
    round_start = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    resend_count = models.PositiveIntegerField(default=0)
    resent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "deliveries"
        constraints = [
            # A listener called twice for one approval (a retried request, a second worker)
            # still makes one delivery.
            models.UniqueConstraint(
                fields=["reply", "api_client", "event"], name="delivery_unique_event"
            )
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="delivery_status_idx")]

    def __str__(self) -> str:
        return f"{self.event} for ticket {self.ticket_id} to {self.api_client_id}"


class DeliveryAttempt(models.Model):
    """One POST of a delivery, as it went: logged whatever the outcome, never changed."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    url = models.URLField(max_length=2000, blank=True)
    started_at = models.DateTimeField()
    duration_ms = models.FloatField(default=0)
    # None when no HTTP answer came back (refused, timed out, bad address).
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery_id", "number"]
        constraints = [
            # The database's own guarantee that one attempt number is sent and logged once.
            models.UniqueConstraint(fields=["delivery", "number"], name="attempt_unique_number")
        ]

    def __str__(self) -> str:
        return f"Attempt {self.number} of delivery {self.delivery_id}"
