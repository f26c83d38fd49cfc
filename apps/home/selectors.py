from django.db.models import Count, Q, Sum
from django.utils import timezone

from apps.accounts.roles import LEAD_SCREENS, REVIEWER_SCREENS
from apps.knowledge.models import Document, IngestItem, IngestJob, JobStatus, ingest_stale_after
from apps.synthetic.selectors import review_work


def dashboard_summary(*, user) -> dict:
    """What the home screen shows `user`, every figure counted by the database: the work
    waiting for them (one grouped query) and, for leads, the knowledge base and ingest jobs
    (two aggregates and the recent jobs)."""
    summary: dict = {}
    if user.has_perm(REVIEWER_SCREENS):
        # "review": Q&A pairs. The draft replies waiting for a reviewer belong beside it, as
        # summary["drafts"], when drafting exists.
        summary["review"] = review_work(user=user)
    if user.has_perm(LEAD_SCREENS):
        summary["knowledge"] = knowledge_summary()
        summary["jobs"] = ingest_jobs_summary()
    return summary


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
