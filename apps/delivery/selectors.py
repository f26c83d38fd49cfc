from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import BooleanField, Count, ExpressionWrapper, Prefetch, Q, QuerySet
from django.utils import timezone

from apps.delivery.models import Delivery, DeliveryAttempt
from apps.tickets.models import ApiClient, Ticket

# How late a due attempt may be before the delivery counts as stalled (no worker took it:
# the broker was down when it was queued, or a worker died holding it). Generous, so a busy
# queue is not mistaken for a lost task.
STALL_GRACE = timedelta(minutes=5)

# Statuses as leads filter them; "stalled" is derived (pending or sending, and late).
STALLED = "stalled"
BADGE = {
    Delivery.Status.PENDING: "queued",
    Delivery.Status.SENDING: "running",
    Delivery.Status.DELIVERED: "done",
    Delivery.Status.FAILED: "failed",
    STALLED: "partial",
}


def ticket_for_client(*, client: ApiClient, ticket_id: int) -> Ticket | None:
    """The ticket if this API client posted it. Another client's ticket, a ticket that came
    in by another door and a missing one all give None, so a client learns nothing about ids
    that are not its own."""
    return Ticket.objects.filter(pk=ticket_id, api_client=client).first()


def stalled_condition(*, now: datetime) -> Q:
    """Deliveries a worker should have moved on by now but did not."""
    late = now - STALL_GRACE
    return Q(status=Delivery.Status.PENDING, next_attempt_at__lt=late) | Q(
        status=Delivery.Status.SENDING,
        claimed_at__lt=late - timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS),
    )


def _with_details(deliveries: QuerySet[Delivery], *, now: datetime) -> QuerySet[Delivery]:
    return (
        deliveries.select_related("ticket", "api_client", "resent_by")
        .defer("body", "ticket__body")
        .annotate(
            is_stalled=ExpressionWrapper(stalled_condition(now=now), output_field=BooleanField())
        )
        .prefetch_related(
            Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("-number"))
        )
    )


def deliveries_list(*, status: str = "", now: datetime | None = None) -> QuerySet[Delivery]:
    """Deliveries newest first with ticket, client and attempts (newest first) loaded in two
    queries, filtered by status or "stalled"."""
    now = now or timezone.now()
    deliveries = Delivery.objects.all()
    if status == STALLED:
        deliveries = deliveries.filter(stalled_condition(now=now))
    elif status in Delivery.Status.values:
        deliveries = deliveries.filter(status=status)
    return _with_details(deliveries, now=now)


def delivery_status_counts(*, now: datetime | None = None) -> list[dict]:
    """Every status with its number of deliveries (zeros included) and the stalled ones, in
    one query."""
    now = now or timezone.now()
    aggregates = {value: Count("pk", filter=Q(status=value)) for value in Delivery.Status.values}
    counts = Delivery.objects.aggregate(
        **aggregates, stalled=Count("pk", filter=stalled_condition(now=now))
    )
    rows = [
        {"value": value, "label": label, "count": counts[value], "badge": BADGE[value]}
        for value, label in Delivery.Status.choices
    ]
    rows.append(
        {"value": STALLED, "label": "Stalled", "count": counts["stalled"], "badge": BADGE[STALLED]}
    )
    return rows


def ticket_deliveries(*, ticket: Ticket, now: datetime | None = None) -> list[Delivery]:
    return list(_with_details(Delivery.objects.filter(ticket=ticket), now=now or timezone.now()))


def delivery_badge(*, delivery: Delivery) -> str:
    return BADGE[STALLED if getattr(delivery, "is_stalled", False) else delivery.status]
