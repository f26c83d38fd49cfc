from collections import Counter

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from pgvector.django import CosineDistance

from apps.core.claims import claim_free_q
from apps.knowledge.models import Chunk, Document
from apps.synthetic.models import (
    EXPORTABLE,
    QUESTION_KINDS,
    QUESTION_TEMPLATE_PREFIX,
    GenerationRun,
    QAPair,
    Review,
)

# Nearest questions fetched per near-duplicate check; the earliest within the threshold wins.
DUPLICATE_CANDIDATES = 20


# A chunk with no sentence left to ask about: recorded so a run says why, but no pair and no
# rejection (the screens list and count it apart, as "nothing to ask about").
_UNASKABLE_FIELDS = {"status": QAPair.Status.FAILED_CHECKS, "quote": ""}
UNASKABLE = Q(**_UNASKABLE_FIELDS)
NOTHING_TO_ASK = "nothing_to_ask"


def queue_statuses() -> list[tuple[str, str]]:
    """The queue's status filter: the pair states, and the chunks with nothing to ask about."""
    return [*QAPair.Status.choices, (NOTHING_TO_ASK, "Nothing to ask about")]


def queue_status_filter(status: str) -> Q:
    if status == NOTHING_TO_ASK:
        return UNASKABLE
    return Q(status=status) & ~UNASKABLE


def pair_distribution(*, run=None) -> list[dict]:
    """Pairs per product line and state: what an export would contain, before it is made."""
    pairs = QAPair.objects.all() if run is None else QAPair.objects.filter(run=run)
    return list(
        pairs.values("product_line__name")
        .annotate(
            total=Count("id", filter=~UNASKABLE),
            approved=Count("id", filter=Q(status=QAPair.Status.APPROVED)),
            exportable=Count("id", filter=EXPORTABLE),
            pending=Count("id", filter=Q(status=QAPair.Status.PENDING)),
            # A pair with no quote at all (invalid model output, nothing to ask about) is
            # counted in its own column, not as an unverified quote.
            unverified=Count("id", filter=Q(verified=False) & ~Q(quote="")),
            invalid=Count("id", filter=Q(status=QAPair.Status.NEEDS_HUMAN)),
            failed_checks=Count("id", filter=Q(status=QAPair.Status.FAILED_CHECKS) & ~UNASKABLE),
            nothing_to_ask=Count("id", filter=UNASKABLE),
            duplicates=Count("id", filter=Q(duplicate_of__isnull=False)),
        )
        .order_by("product_line__name")
    )


def run_refusals(*, run: GenerationRun) -> list[tuple[str, int]]:
    """Why the checks refused this run's pairs: each check that failed, with how many pairs
    failed it (a pair may fail several), most frequent first."""
    refused = QAPair.objects.filter(
        queue_status_filter(QAPair.Status.FAILED_CHECKS), run=run
    ).values_list("checks", flat=True)
    failed = Counter(c["name"] for checks in refused for c in checks if not c.get("passed"))
    return failed.most_common()


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
    """Pairs per entry of `queue_statuses`, in one query."""
    pairs = QAPair.objects.filter(**filters)
    counts = pairs.aggregate(
        **{value: Count("id", filter=queue_status_filter(value)) for value, _ in queue_statuses()}
    )
    return counts


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


def duplicate_earliest(*, embedding, before: int | None = None) -> QAPair | None:
    """The earliest earlier pair (all pairs when `before` is None) whose question means nearly
    the same (cosine similarity at or above SYNTHETIC_DUPLICATE_SIMILARITY), among the nearest
    few, with its `distance`: the nearest-first query is what the HNSW index answers."""
    limit = 1 - settings.SYNTHETIC_DUPLICATE_SIMILARITY
    nearest = duplicate_candidates(embedding=embedding, before=before or 2**62)
    within = [candidate for candidate in nearest if candidate.distance <= limit]
    return min(within, key=lambda candidate: candidate.pk, default=None)


def run_resumable(*, run: GenerationRun) -> bool:
    """Failed, or stalled (no progress reported for a while): a lead may resume it."""
    return GenerationRun.objects.filter(
        GenerationRun.resumable_q(timezone.now()), pk=run.pk
    ).exists()


# --- the review queue, as one reviewer sees it -----------------------------------------------


def reviewable_q(*, user, now) -> Q:
    """Pending pairs `user` may take now: nobody else holds them (holds lapse) and the user has
    not reviewed them as they are: what services.pair_claim hands out and the screens count."""
    reviewed = Review.objects.filter(
        pair=OuterRef("pk"), reviewer=user, version=OuterRef("version")
    )
    return Q(status=QAPair.Status.PENDING) & claim_free_q(user=user, now=now) & ~Exists(reviewed)


def _held_by_others_q(*, user, now) -> Q:
    return Q(status=QAPair.Status.PENDING, claimed_until__gte=now) & ~Q(claimed_by=user)


def review_remaining(*, user, filters: dict) -> dict[str, int]:
    """What is left for `user`, in one query: pairs they can take with these filters, pairs
    another reviewer holds right now, and pairs they could take outside the filters."""
    now = timezone.now()
    reviewable = reviewable_q(user=user, now=now)
    here = Q(**filters)
    counts = QAPair.objects.filter(status=QAPair.Status.PENDING).aggregate(
        waiting=Count("id", filter=reviewable & here),
        held=Count("id", filter=_held_by_others_q(user=user, now=now) & here),
        everywhere=Count("id", filter=reviewable),
    )
    counts["outside_filters"] = counts.pop("everywhere") - counts["waiting"]
    return counts


def review_work(*, user) -> dict:
    """The Q&A pairs waiting for `user`, per product line, counted by the database in one
    grouped query; plus the pending pairs other reviewers hold right now."""
    now = timezone.now()
    rows = list(
        QAPair.objects.filter(status=QAPair.Status.PENDING)
        .values("product_line__name", "product_line__slug")
        .annotate(
            waiting=Count("id", filter=reviewable_q(user=user, now=now)),
            held=Count("id", filter=_held_by_others_q(user=user, now=now)),
        )
        .order_by("product_line__name")
    )
    return {
        "lines": [row for row in rows if row["waiting"]],
        "waiting": sum(row["waiting"] for row in rows),
        "held": sum(row["held"] for row in rows),
    }


# --- generation runs -----------------------------------------------------------------------

KIND_LABELS = dict(QUESTION_KINDS)


def kind_labels(kinds: list[str]) -> list[str]:
    """The labels a person reads for a run's question kinds (an unknown code stays as is)."""
    return [KIND_LABELS.get(kind, kind) for kind in kinds]


def _with_pair_counts(runs: QuerySet) -> QuerySet:
    status = QAPair.Status
    composed = Q(pairs__prompt_version__startswith=QUESTION_TEMPLATE_PREFIX)
    # A chunk with no sentence left to ask about is recorded (so the run says why) but is no
    # pair and no rejection: UNASKABLE, seen from the run.
    unaskable = Q(**{f"pairs__{field}": value for field, value in _UNASKABLE_FIELDS.items()})
    return runs.annotate(
        n_pairs=Count("pairs", filter=~unaskable),
        n_unaskable=Count("pairs", filter=unaskable),
        n_pending=Count("pairs", filter=Q(pairs__status=status.PENDING)),
        n_approved=Count("pairs", filter=Q(pairs__status=status.APPROVED)),
        n_rejected=Count("pairs", filter=Q(pairs__status=status.REJECTED)),
        n_failed_checks=Count("pairs", filter=Q(pairs__status=status.FAILED_CHECKS) & ~unaskable),
        n_composed=Count("pairs", filter=composed),
        n_by_model=Count("pairs", filter=Q(pairs__llm_call__isnull=False) & ~composed),
    )


def runs_recent(*, limit: int = 20) -> list[GenerationRun]:
    """The latest runs with their pair counts per state: one grouped query for the page."""
    runs = list(_with_pair_counts(GenerationRun.objects.select_related("created_by"))[:limit])
    for run in runs:
        run.kind_labels = kind_labels(run.kinds)
    return runs


def run_with_counts(*, pk: int) -> GenerationRun | None:
    run = (
        _with_pair_counts(GenerationRun.objects.all())
        .prefetch_related("product_lines")
        .filter(pk=pk)
        .first()
    )
    if run is not None:
        run.kind_labels = kind_labels(run.kinds)
    return run


def run_chunks_available(*, product_lines, documents) -> int:
    """Chunks a run with this selection could sample. Chunks without a product line count
    when no product line is chosen, as the sampler takes them then too."""
    chunks = Chunk.objects.all()
    if product_lines:
        chunks = chunks.filter(product_line__in=product_lines)
    if documents:
        chunks = chunks.filter(document_id__in=documents)
    return chunks.count()


def run_no_chunks_reason(*, product_lines, documents, title: str = "") -> str:
    """Why a selection matches no chunk, in the words a lead can act on."""
    names = ", ".join(line.name for line in product_lines)
    if product_lines and not Document.objects.filter(product_line__in=product_lines).exists():
        return (
            f"No chunks match: the selected product lines ({names}) have no documents yet. "
            "Ingest documents for them first, or choose other product lines."
        )
    if product_lines and documents:
        return (
            f"No chunks match: no document whose title contains \u201c{title}\u201d belongs to "
            f"the selected product lines ({names}). Change the title filter or the product lines."
        )
    if not Document.objects.exists():
        return "No chunks match: the knowledge base has no documents yet. Ingest documents first."
    return (
        "No chunks match: the matching documents have no chunks (their ingestion failed or "
        "they hold no text). See Documents for their state."
    )


# --- export ----------------------------------------------------------------------------------


def exportable_sizes() -> dict[str, int]:
    """Exportable pairs per product line name, as the export groups them ("(none)": no line)."""
    rows = QAPair.objects.exportable().values("product_line__name").annotate(n=Count("id"))
    return {row["product_line__name"] or "(none)": row["n"] for row in rows}


def sentences_asked(*, run: GenerationRun, sentences: list[str]) -> frozenset[str]:
    """Which of `sentences` (spacing normalised) a pair already asks about: any pair of `run`,
    and pairs of earlier runs unless they were rejected (by a reviewer or by the checks), so
    a new run asks about what has not been asked rather than again about the same sentence."""
    if not sentences:
        return frozenset()
    rejected = [QAPair.Status.REJECTED, QAPair.Status.FAILED_CHECKS]
    quotes = QAPair.objects.filter(quote__in=sentences).filter(Q(run=run) | ~Q(status__in=rejected))
    return frozenset(quotes.values_list("quote", flat=True).distinct())


def page_shows_as_code(*, document_id: int, name: str) -> bool:
    """The page shows `name` as code: in backticks ("`GETDEL`", "`ACL SETUSER` call"), or
    opening a line of an example ("redis> GETDEL mykey"). A reference page about a command
    does; a page titled "FAQ" does not, so its link texts are not taken for the command's."""
    code = Q(text__contains=f"`{name}") | Q(text__contains=f"> {name} ")
    return Chunk.objects.filter(
        code | Q(text__contains=f"\n{name} "), document_id=document_id
    ).exists()
