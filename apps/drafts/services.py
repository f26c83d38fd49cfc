"""Drafts are requested (a version number is reserved on the ticket) and then created by a
worker; creating is idempotent per (ticket, version)."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import F

from apps.drafts.composing import Composed, draft_compose
from apps.drafts.models import Draft, DraftSentence, DraftSource
from apps.oversight.models import EditLogEntry
from apps.oversight.services import decision_record
from apps.tickets.models import Ticket

logger = logging.getLogger(__name__)

# The ticket's status once a draft of each kind exists.
TICKET_STATUS_AFTER = {
    Draft.Status.ESCALATED: Ticket.Status.ESCALATED,
    Draft.Status.READY: Ticket.Status.AWAITING_REVIEW,
    Draft.Status.FAILED_CHECKS: Ticket.Status.AWAITING_REVIEW,
    Draft.Status.NEEDS_HUMAN: Ticket.Status.AWAITING_REVIEW,
}


def draft_version_reserve(*, ticket_id: int) -> int:
    """The next draft version of the ticket, reserved (the ticket shows it is being drafted)."""
    with transaction.atomic():
        Ticket.objects.filter(pk=ticket_id).update(
            drafts_requested=F("drafts_requested") + 1, status=Ticket.Status.DRAFTING
        )
        return Ticket.objects.values_list("drafts_requested", flat=True).get(pk=ticket_id)


def draft_request(*, ticket_id: int, user=None) -> int:
    """Reserve the next draft version and queue its drafting once this transaction commits.
    A person asking again is a decision on the AI's previous draft, logged with it."""
    with transaction.atomic():
        version = draft_version_reserve(ticket_id=ticket_id)
        previous = Draft.objects.filter(ticket_id=ticket_id).order_by("-version").first()
        if user is not None and previous is not None:
            _regenerate_record(previous, user)
        _queue_on_commit(ticket_id, version, user.pk if user else None)
    return version


def _regenerate_record(draft: Draft, user) -> None:
    decision_record(
        area=EditLogEntry.Area.DRAFT,
        object_type=draft._meta.label_lower,
        object_id=draft.pk,
        object_version=draft.version,
        decision=EditLogEntry.Decision.REGENERATE,
        editor=user,
        before={"text": draft.text},
        after={"text": draft.text},
        model=draft.model,
        prompt_version=draft.prompt_version,
        ai_created_at=draft.created_at,
        details={"status": draft.status, "unsupported": draft.unsupported_count},
    )


def drafts_request_for_new(ids: list[int]) -> None:
    """New tickets get their first draft before anyone opens them (one UPDATE for an import
    of many)."""
    with transaction.atomic():
        Ticket.objects.filter(pk__in=ids, drafts_requested=0).update(
            drafts_requested=1, status=Ticket.Status.DRAFTING
        )
        for ticket_id in ids:
            _queue_on_commit(ticket_id, 1)


def _queue_on_commit(ticket_id: int, version: int, user_id: int | None = None) -> None:
    from apps.drafts.tasks import draft_write

    transaction.on_commit(lambda: draft_write.delay(ticket_id, version, user_id))


def draft_create(
    *, ticket_id: int, version: int, design: str | None = None, backend=None, user_id=None
) -> Draft | None:
    """Draft version `version` of the ticket unless it exists (a redelivered task) or a newer
    version was requested meanwhile (a regenerate made this one moot). None when skipped."""
    ticket = Ticket.objects.select_related("product_line").filter(pk=ticket_id).first()
    if ticket is None or ticket.drafts_requested > version:
        return None
    if Draft.objects.filter(ticket_id=ticket_id, version=version).exists():
        return None
    composed = draft_compose(
        subject=ticket.subject,
        body=ticket.body,
        customer_name=ticket.customer_name,
        product_line_id=ticket.product_line_id,
        design=design,
        backend=backend,
    )
    try:
        return draft_store(ticket=ticket, version=version, composed=composed, user_id=user_id)
    except IntegrityError:
        # Another worker stored this version first: that draft stands.
        logger.info("Draft %s of ticket %s was already stored", version, ticket_id)
        return None


@transaction.atomic
def draft_store(*, ticket: Ticket, version: int, composed: Composed, user_id=None) -> Draft:
    """The draft, its sources and sentences in one transaction, and the ticket moved on."""
    call = composed.structured.call if composed.structured else None
    draft = Draft.objects.create(
        ticket=ticket,
        version=version,
        status=composed.status,
        design=composed.design,
        text=composed.text,
        escalation_reason=composed.escalation_reason,
        retrieval=composed.retrieval,
        best_similarity=composed.best_similarity,
        checks=composed.checks,
        sentence_count=len(composed.claims),
        unsupported_count=composed.count("unsupported"),
        weak_count=composed.count("weak"),
        llm_call=call,
        model=call.model if call else "",
        prompt_version=str(call.prompt_version) if call else "",
        retrieval_ms=composed.retrieval_ms,
        model_ms=composed.model_ms,
        total_ms=composed.total_ms,
        ms_per_token=call.ms_per_output_token if call else None,
        attempts=call.attempts if call else 0,
        requested_by_id=user_id,
    )
    cited = composed.cited
    DraftSource.objects.bulk_create(
        DraftSource(
            draft=draft,
            sid=s.sid,
            chunk=s.chunk,
            document_id=s.chunk.document_id,
            document_title=s.chunk.document.title,
            heading_path=s.chunk.heading_path,
            start=s.start,
            end=s.end,
            text=s.text,
            similarity=s.similarity,
            cited=s.sid in cited,
        )
        for s in composed.sources
    )
    DraftSentence.objects.bulk_create(
        DraftSentence(
            draft=draft,
            position=n,
            kind=s.kind,
            text=s.text,
            citations=s.citations,
            verdict=s.verdict,
            similarity=s.similarity,
            reason=s.reason[:300],
        )
        for n, s in enumerate(composed.sentences)
    )
    # Only the newest requested version moves the ticket on.
    Ticket.objects.filter(pk=ticket.pk, drafts_requested=version).update(
        status=TICKET_STATUS_AFTER[composed.status]
    )
    return draft
