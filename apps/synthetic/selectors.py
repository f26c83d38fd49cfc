from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from pgvector.django import CosineDistance

from apps.synthetic.models import EXPORTABLE, GenerationRun, QAPair

# Nearest questions fetched per near-duplicate check; the earliest within the threshold wins.
DUPLICATE_CANDIDATES = 20


def pair_distribution(*, run=None) -> list[dict]:
    """Pairs per product line and state: what an export would contain, before it is made."""
    pairs = QAPair.objects.all() if run is None else QAPair.objects.filter(run=run)
    return list(
        pairs.values("product_line__name")
        .annotate(
            total=Count("id"),
            approved=Count("id", filter=Q(status=QAPair.Status.APPROVED)),
            exportable=Count("id", filter=EXPORTABLE),
            pending=Count("id", filter=Q(status=QAPair.Status.PENDING)),
            # A pair whose model output was invalid has no quote at all: counted apart.
            unverified=Count("id", filter=Q(verified=False) & ~Q(status=QAPair.Status.NEEDS_HUMAN)),
            invalid=Count("id", filter=Q(status=QAPair.Status.NEEDS_HUMAN)),
            duplicates=Count("id", filter=Q(duplicate_of__isnull=False)),
        )
        .order_by("product_line__name")
    )


def approved_pairs_as_queries() -> list[dict]:
    """Approved pairs as a labelled retrieval set: question → the document it came from."""
    from apps.synthetic.export import exportable_pairs

    return [
        {
            "question": p.question,
            "gold_doc_id": p.document.external_id,
            "product_line": p.product_line.name if p.product_line else "",
        }
        for p in exportable_pairs()
        if p.document
    ]


def queue_counts(*, filters: dict) -> dict[str, int]:
    rows = QAPair.objects.filter(**filters).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def reviewer_agreement(*, run) -> dict:
    """Pairs reviewed by two or more people, and the share where they decided alike."""
    pairs = (
        QAPair.objects.filter(run=run)
        # People, not reviews: someone who approved a pair again after an edit counts once.
        .annotate(n=Count("reviews__reviewer", distinct=True))
        .filter(n__gte=2)
        .prefetch_related("reviews")
    )
    both = [p for p in pairs]
    agreed = sum(len({r.decision for r in p.reviews.all()}) == 1 for p in both)
    return {"pairs": len(both), "agreed": agreed, "rate": agreed / len(both) if both else None}


def duplicate_candidates(*, embedding, before: int, n: int = DUPLICATE_CANDIDATES) -> QuerySet:
    """The `n` earlier pairs whose questions are nearest to `embedding`, nearest first, each
    with its cosine `distance`. ORDER BY distance LIMIT n is the shape the HNSW index serves;
    a filter on the distance itself would make PostgreSQL read every pair."""
    return (
        QAPair.objects.filter(pk__lt=before, question_embedding__isnull=False)
        .annotate(distance=CosineDistance("question_embedding", embedding))
        .order_by("distance")
        .only("id")[:n]
    )


def run_resumable(*, run: GenerationRun) -> bool:
    """Failed, or stalled (no progress reported for a while): a lead may resume it."""
    return GenerationRun.objects.filter(
        GenerationRun.resumable_q(timezone.now()), pk=run.pk
    ).exists()
