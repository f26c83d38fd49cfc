from django.db.models import Exists, OuterRef, Prefetch

from apps.drafts.models import AnswerEvalRun, Draft, DraftSentence, DraftSource
from apps.knowledge.models import Chunk
from apps.synthetic.models import QAPair
from apps.tickets.models import Ticket


def tickets_missing(*, ids: list[int]) -> list[int]:
    found = set(Ticket.objects.filter(pk__in=ids).values_list("pk", flat=True))
    return [pk for pk in ids if pk not in found]


def drafts_pending() -> list[tuple[int, int]]:
    """(ticket id, requested version) for tickets whose newest requested draft does not exist:
    what a worker that was down or killed left undone."""
    newest = Draft.objects.filter(ticket=OuterRef("pk"), version=OuterRef("drafts_requested"))
    return list(
        Ticket.objects.filter(drafts_requested__gt=0)
        .exclude(Exists(newest))
        .order_by("pk")
        .values_list("pk", "drafts_requested")
    )


def ticket_drafts(*, ticket: Ticket) -> list[Draft]:
    """Every draft of the ticket, newest first, with sources and sentences in two queries."""
    return list(
        Draft.objects.filter(ticket=ticket)
        .select_related("llm_call")
        .prefetch_related(
            Prefetch("sources", queryset=DraftSource.objects.order_by("id")),
            Prefetch("sentences", queryset=DraftSentence.objects.order_by("position")),
        )
        .order_by("-version")
    )


class DraftView:
    """A draft as the page shows it: markers numbered in the order sources are first cited
    (as in the reply text), each sentence with its markers, sources in marker order."""

    def __init__(self, draft: Draft) -> None:
        self.draft = draft
        self.numbers: dict[str, int] = {}
        for sentence in draft.sentences.all():
            for sid in sentence.citations:
                self.numbers.setdefault(sid, len(self.numbers) + 1)
        self.sentences = [
            (s, [(self.numbers[sid], sid) for sid in s.citations if sid in self.numbers])
            for s in draft.sentences.all()
        ]
        by_sid = {s.sid: s for s in draft.sources.all()}
        self.cited_sources = [(n, by_sid[sid]) for sid, n in self.numbers.items() if sid in by_sid]
        self.other_sources = [s for s in draft.sources.all() if s.sid not in self.numbers]

    @property
    def raw_outputs(self) -> list[str]:
        call = self.draft.llm_call
        return call.raw_outputs if call else []


def draft_views(*, drafts: list[Draft]) -> list[DraftView]:
    return [DraftView(d) for d in drafts]


def answer_eval_runs(*, ids: list[int]) -> list[AnswerEvalRun]:
    """The chosen saved runs in the order chosen; the newest three when none is chosen."""
    if not ids:
        return list(AnswerEvalRun.objects.defer("questions")[:3])
    runs = {r.pk: r for r in AnswerEvalRun.objects.defer("questions").filter(pk__in=ids)}
    return [runs[pk] for pk in ids if pk in runs]


EVAL_ROWS = (
    ("citation_gold_rate", "Cites the gold document", "higher"),
    ("escalation_rate", "Escalated to a person", ""),
    ("needs_human_rate", "No valid model output", "lower"),
    ("supported_sentence_rate", "Reply sentences supported", "higher"),
    ("unsupported_sentences", "Unsupported sentences (marked)", "lower"),
    ("verbatim_quote_rate", "Quotes verbatim", "higher"),
    ("token_f1", "Token F1 vs reference answer", "higher"),
    ("rouge_l", "ROUGE-L vs reference answer", "higher"),
    ("total_ms_p50", "Draft time p50 (ms)", "lower"),
    ("total_ms_p95", "Draft time p95 (ms)", "lower"),
    ("ms_per_token_p50", "Model ms per token p50", "lower"),
)


def answer_eval_rows(*, runs: list[AnswerEvalRun]) -> list[dict]:
    """One row per metric with each run's value and which run is best on it."""
    rows = []
    for key, label, better in EVAL_ROWS:
        values = [run.metrics.get(key) for run in runs]
        present = [v for v in values if v is not None]
        best = None
        if better and len(present) > 1:
            best = max(present) if better == "higher" else min(present)
        rows.append(
            {
                "label": label,
                "key": key,
                "cells": [(v, v is not None and v == best) for v in values],
            }
        )
    return rows


# --- drift: approved items whose cited text changed -------------------------------------------


def _normal(text: str) -> str:
    return " ".join(text.split())


def _documents_text(document_ids: set[int]) -> dict[int, str]:
    """Each document's current text, its chunks joined, in one query."""
    texts: dict[int, list[str]] = {}
    rows = Chunk.objects.filter(document_id__in=document_ids).order_by("document_id", "ordinal")
    for document_id, text in rows.values_list("document_id", "text"):
        texts.setdefault(document_id, []).append(_normal(text))
    return {pk: " ".join(parts) for pk, parts in texts.items()}


def drift_list() -> dict:
    """Approved Q&A pairs, and drafts on their way to a customer, that quote a sentence their
    document no longer holds (re-ingested with other text, or deleted): a lead re-checks them.
    A re-ingest replaces a changed document's chunks, so only items whose chunk is gone are
    candidates; those whose sentence is still in the new text are not listed."""
    pairs = list(
        QAPair.objects.filter(status=QAPair.Status.APPROVED, chunk__isnull=True)
        .select_related("document", "product_line")
        .order_by("-id")
    )
    sources = list(
        DraftSource.objects.filter(
            cited=True,
            chunk__isnull=True,
            draft__ticket__status__in=[
                Ticket.Status.AWAITING_REVIEW,
                Ticket.Status.AWAITING_LEAD,
                Ticket.Status.APPROVED,
            ],
        )
        .select_related("draft__ticket", "document")
        .order_by("-id")
    )
    ids = {p.document_id for p in pairs} | {s.document_id for s in sources}
    current = _documents_text({pk for pk in ids if pk})

    def gone(document_id: int | None, quote: str) -> bool:
        return _normal(quote) not in current.get(document_id, "")

    return {
        "pairs": [p for p in pairs if gone(p.document_id, p.quote)],
        "sources": [s for s in sources if gone(s.document_id, s.text)],
    }
