from django.db.models import Count, Q, Sum

from apps.accounts.roles import LEAD_SCREENS
from apps.knowledge.models import Document, IngestJob


def dashboard_summary(*, user) -> dict:
    """Counted by the database in one aggregate query (plus one grouped query and, for leads,
    the recent jobs), whatever the size of the knowledge base."""
    totals = Document.objects.aggregate(
        documents=Count("id"),
        failed=Count("id", filter=Q(status=Document.Status.FAILED)),
        chunks=Sum("chunk_count", default=0),
    )
    summary = {
        **totals,
        "product_lines": list(
            Document.objects.values("product_line__name")
            .annotate(n=Count("id"))
            .order_by("product_line__name")
        ),
    }
    if user.has_perm(LEAD_SCREENS):
        summary["recent_jobs"] = list(IngestJob.objects.order_by("-created_at")[:5])
    return summary
