from django.db.models import Count, Q

from apps.accounts.roles import LEAD_SCREENS
from apps.knowledge.models import Document, IngestJob


def dashboard_summary(*, user) -> dict:
    documents = Document.objects.aggregate(
        documents=Count("id"),
        failed=Count("id", filter=Q(status=Document.Status.FAILED)),
    )
    summary = {
        "documents": documents["documents"],
        "chunks": sum(Document.objects.values_list("chunk_count", flat=True)),
        "product_lines": list(
            Document.objects.values("product_line__name")
            .annotate(n=Count("id"))
            .order_by("product_line__name")
        ),
    }
    if user.has_perm(LEAD_SCREENS):
        summary["recent_jobs"] = list(IngestJob.objects.order_by("-created_at")[:5])
    return summary
