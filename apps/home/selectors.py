from django.db.models import Count, Q, Sum
from django.utils import timezone

from apps.accounts.roles import LEAD_SCREENS, REVIEWER_SCREENS
from apps.delivery.selectors import delivery_status_counts
from apps.knowledge.models import Document, IngestItem, IngestJob, JobStatus, ingest_stale_after
from apps.synthetic.selectors import review_work
from apps.tickets.models import Ticket


def dashboard_summary(*, user) -> dict:
    """What the home screen shows `user`, every figure counted by the database: the work
    waiting for them (one grouped query) and, for leads, the knowledge base and ingest jobs
    (two aggregates and the recent jobs)."""
    summary: dict = {}
    if user.has_perm(REVIEWER_SCREENS):
        summary["review"] = review_work(user=user)
        summary["tickets"] = tickets_waiting()
    if user.has_perm(LEAD_SCREENS):
        summary["knowledge"] = knowledge_summary()
        summary["jobs"] = ingest_jobs_summary()
        summary["deliveries"] = {row["value"]: row["count"] for row in delivery_status_counts()}
    return summary


def tickets_waiting() -> dict:
    """Tickets whose draft waits for a reviewer or a lead, escalated ones and those being
    drafted."""
    waiting = {
        "awaiting_review": Ticket.Status.AWAITING_REVIEW,
        "awaiting_lead": Ticket.Status.AWAITING_LEAD,
        "escalated": Ticket.Status.ESCALATED,
        "drafting": Ticket.Status.DRAFTING,
    }
    return Ticket.objects.aggregate(
        **{name: Count("id", filter=Q(status=status)) for name, status in waiting.items()}
    )


def knowledge_summary() -> dict:
    totals = Document.objects.aggregate(
        documents=Count("id"),
        failed=Count("id", filter=Q(status=Document.Status.FAILED)),
        chunks=Sum("chunk_count", default=0),
    )
    totals["product_lines"] = list(
        Document.objects.values("product_line__name")
        .annotate(n=Count("id"))
        .order_by("product_line__name")
    )
    return totals


def ingest_jobs_summary(*, recent: int = 5) -> dict:
    """Jobs per status (one aggregate, stale ones counted apart) and the latest few, each with
    its failed files counted in the same query."""
    stale = Q(
        status__in=[JobStatus.QUEUED, JobStatus.RUNNING],
        heartbeat_at__lt=timezone.now() - ingest_stale_after(),
    )
    counts = IngestJob.objects.aggregate(
        **{status.value: Count("id", filter=Q(status=status)) for status in JobStatus},
        stale=Count("id", filter=stale),
    )
    jobs = list(
        IngestJob.objects.annotate(
            files=Count("items"),
            failed_files=Count("items", filter=Q(items__status=IngestItem.Status.FAILED)),
        ).order_by("-created_at")[:recent]
    )
    return {
        "by_status": [
            {"status": status.value, "label": status.label, "n": counts[status.value]}
            for status in JobStatus
        ],
        "stale": counts["stale"],
        "total": sum(counts[status.value] for status in JobStatus),
        "recent": jobs,
    }
