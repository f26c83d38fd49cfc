from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Prefetch, QuerySet

from apps.drafts.composing import citation_numbers
from apps.drafts.models import AnswerEvalRun, Draft, DraftSentence, DraftSource, Reply
from apps.drafts.reviewing import passage_plain, source_numbers, source_section, text_clean
from apps.knowledge.models import Chunk
from apps.oversight.models import EditLogEntry
from apps.oversight.selectors import words_diff
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
        .select_related("llm_call", "reply__reviewed_by", "reply__approved_by")
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
        self.numbers = citation_numbers([s.citations for s in draft.sentences.all()])
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


# --- review ---------------------------------------------------------------------------------

QUEUE_STAGES = (Reply.Stage.REVIEW, Reply.Stage.LEAD, Reply.Stage.ESCALATED)


@dataclass(frozen=True)
class ReplyFilters:
    stage: str = Reply.Stage.REVIEW
    product_line: str = ""  # slug
    priority: str = ""
    unsupported: bool = False
    flagged: bool = False

    def apply(self, replies: QuerySet[Reply]) -> QuerySet[Reply]:
        """The filters other than the stage."""
        if self.product_line:
            replies = replies.filter(ticket__product_line__slug=self.product_line)
        if self.priority:
            replies = replies.filter(ticket__priority=self.priority)
        if self.unsupported:
            replies = replies.filter(unsupported_count__gt=0)
        if self.flagged:
            replies = replies.exclude(flags=[])
        return replies

    def as_params(self) -> dict:
        params = {"stage": self.stage, "line": self.product_line, "priority": self.priority}
        params.update(
            unsupported="1" if self.unsupported else "", flagged="1" if self.flagged else ""
        )
        return {key: value for key, value in params.items() if value}


def reply_filters_from(params) -> ReplyFilters:
    stage = params.get("stage", "")
    priority = params.get("priority", "")
    return ReplyFilters(
        stage=stage if stage in QUEUE_STAGES else Reply.Stage.REVIEW,
        product_line=params.get("line", "")[:100],
        priority=priority if priority in Ticket.Priority.values else "",
        unsupported=params.get("unsupported") == "1",
        flagged=params.get("flagged") == "1",
    )


def reply_queue(*, filters: ReplyFilters) -> QuerySet[Reply]:
    """Replies at one stage, the oldest first, with what the list shows in one query."""
    return (
        filters.apply(Reply.objects.filter(stage=filters.stage))
        .select_related("ticket__product_line", "draft", "claimed_by")
        .order_by("pk")
    )


def reply_stage_counts(*, filters: ReplyFilters) -> dict[str, int]:
    """How many replies wait at each queue stage under the other filters."""
    rows = (
        filters.apply(Reply.objects.filter(stage__in=QUEUE_STAGES))
        .values("stage")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = dict.fromkeys(QUEUE_STAGES, 0)
    counts.update({row["stage"]: row["n"] for row in rows})
    return counts


def reply_history(*, reply: Reply) -> list[EditLogEntry]:
    """Every decision on the reply, oldest first (the append-only log is the record)."""
    return list(
        EditLogEntry.objects.filter(object_type=reply._meta.label_lower, object_id=reply.pk)
        .only("decision", "editor_name", "editor_role", "reason", "note", "created_at", "edited")
        .order_by("id")
    )


def reply_for_review(*, pk: int) -> Reply:
    """A reply with its draft, sources, sentences and ticket, in a fixed number of queries."""
    return (
        Reply.objects.select_related(
            "ticket__product_line",
            "draft__llm_call",
            "claimed_by",
            "reviewed_by",
            "approved_by",
            "returned_by",
        )
        .prefetch_related(
            Prefetch(
                "draft__sources",
                queryset=DraftSource.objects.select_related("chunk").order_by("id"),
            ),
            Prefetch("draft__sentences", queryset=DraftSentence.objects.order_by("position")),
        )
        .get(pk=pk)
    )


def ticket_replies(*, ticket: Ticket) -> list[Reply]:
    return list(
        Reply.objects.filter(ticket=ticket)
        .select_related("draft", "reviewed_by", "approved_by")
        .order_by("-pk")
    )


class ReplyView:
    """A reply as the review screen shows it: each sentence with its markers and verdict,
    every source the draft was given under its marker number with the words around it in its
    chunk, and the diff from the AI's draft to the current text."""

    # Characters of the chunk shown on each side of a quoted sentence.
    CONTEXT = 280

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.draft = reply.draft
        self.numbered = source_numbers(draft=reply.draft)
        self.sentences = reply.sentences
        cited = {n for s in reply.sentences for n in s.get("markers", [])}
        self.sources = [self._source(n, s, n in cited) for n, s in self.numbered.items()]
        self.diff = words_diff(old=reply.draft.text, new=reply.text)

    def _source(self, number: int, source: DraftSource, cited: bool) -> dict:
        chunk = source.chunk
        # The chunk may have been re-ingested since: show the stored sentence alone then.
        intact = chunk is not None and chunk.text[source.start : source.end] == source.text
        before = chunk.text[max(0, source.start - self.CONTEXT) : source.start] if intact else ""
        after = chunk.text[source.end : source.end + self.CONTEXT] if intact else ""
        before, after = passage_plain(before), passage_plain(after)
        return {
            "number": number,
            "source": source,
            "cited": cited,
            "intact": intact,
            "before": before,
            "after": after,
            "cut_before": intact and source.start > self.CONTEXT,
            "cut_after": intact and source.end + self.CONTEXT < len(chunk.text),
            "section": source_section(source),
        }

    @property
    def customer_text(self) -> str:
        return text_clean(self.reply.text)

    @property
    def provenance(self) -> str:
        return reply_provenance(reply=self.reply)


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


def reply_provenance(*, reply: Reply) -> str:
    parts = ["AI-assisted"]
    if reply.reviewed_by_id:
        parts.append(f"reviewed by {_person(reply.reviewed_by)}")
    if reply.approved_by_id and not reply.lead_skipped:
        parts.append(f"approved by {_person(reply.approved_by)}")
    elif reply.lead_skipped:
        parts.append("lead approval skipped: approved unedited with every sentence supported")
    return "; ".join(parts)


def reply_approved_for(*, ticket_id: int) -> Reply | None:
    return (
        Reply.objects.filter(ticket_id=ticket_id, stage=Reply.Stage.APPROVED)
        .select_related("ticket", "reviewed_by", "approved_by", "draft")
        .prefetch_related(
            Prefetch("draft__sources", queryset=DraftSource.objects.select_related("chunk")),
            "draft__sentences",
        )
        .order_by("-pk")
        .first()
    )


def reply_payload(*, reply: Reply) -> dict:
    """What the API answers and the webhook sends for an approved reply."""
    numbered = source_numbers(draft=reply.draft)
    used = list(dict.fromkeys(n for s in reply.sentences for n in s.get("markers", [])))
    return {
        "ticket_id": reply.ticket_id,
        "external_id": reply.ticket.external_id,
        "text": text_clean(reply.text),
        "text_with_citations": reply.text,
        "citations": [
            {
                "number": n,
                "document": numbered[n].document_title,
                "section": source_section(numbered[n]),
                "quote": numbered[n].text,
            }
            for n in used
            if n in numbered
        ],
        "provenance": reply_provenance(reply=reply),
        "reviewed_by": _person(reply.reviewed_by) if reply.reviewed_by_id else None,
        "approved_by": _person(reply.approved_by) if reply.approved_by_id else None,
        "approved_at": reply.approved_at.isoformat() if reply.approved_at else None,
    }
