"""Drafts are requested (a version number is reserved on the ticket) and then created by a
worker; creating is idempotent per (ticket, version)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import LEAD_SCREENS
from apps.core import claims
from apps.drafts.composing import Composed, ReplySentence, citation_numbers, draft_compose
from apps.drafts.models import Draft, DraftSentence, DraftSource, Reply
from apps.drafts.reviewing import text_verify, verdict_counts
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
    _reply_create(draft, composed)
    # Only the newest requested version moves the ticket on.
    Ticket.objects.filter(pk=ticket.pk, drafts_requested=version).update(
        status=TICKET_STATUS_AFTER[composed.status]
    )
    return draft


def _reply_create(draft: Draft, composed: Composed) -> Reply:
    """The reply people will work on, starting from the draft; earlier replies of the ticket
    that were not approved are replaced by it (they stay viewable)."""
    Reply.objects.filter(ticket_id=draft.ticket_id).exclude(stage=Reply.Stage.APPROVED).update(
        stage=Reply.Stage.SUPERSEDED, claimed_by=None, claimed_until=None
    )
    escalated = composed.status == Draft.Status.ESCALATED
    numbers = citation_numbers([s.citations for s in composed.sentences])
    sentences = [_review_form(s, numbers) for s in composed.sentences]
    return Reply.objects.create(
        draft=draft,
        ticket_id=draft.ticket_id,
        stage=Reply.Stage.ESCALATED if escalated else Reply.Stage.REVIEW,
        # An escalated draft's text says why no reply was drafted: a person writes the reply.
        text="" if escalated else composed.text,
        sentences=sentences,
        **verdict_counts(sentences),
    )


def _review_form(sentence: ReplySentence, numbers: dict[str, int]) -> dict:
    return {
        "kind": sentence.kind,
        "text": sentence.text,
        "citations": list(sentence.citations),
        "verdict": sentence.verdict,
        "similarity": sentence.similarity,
        "reason": sentence.reason[:1].upper() + sentence.reason[1:],
        "markers": [numbers[sid] for sid in sentence.citations],
        "changed": False,
    }


# --- review: reviewer, then lead -----------------------------------------------------------

# The ticket's status while its reply is at each stage.
TICKET_STATUS_AT = {
    Reply.Stage.REVIEW: Ticket.Status.AWAITING_REVIEW,
    Reply.Stage.LEAD: Ticket.Status.AWAITING_LEAD,
    Reply.Stage.APPROVED: Ticket.Status.APPROVED,
    Reply.Stage.ESCALATED: Ticket.Status.ESCALATED,
}
# Where a reviewer may change the text and approve: an escalated reply is written by a person.
EDITABLE = (Reply.Stage.REVIEW, Reply.Stage.ESCALATED)

_approved_listeners: list[Callable[[int], None]] = []


class ReviewError(Exception):
    """A decision that cannot be applied; the message is shown to the person."""


class EditConflict(ReviewError):
    """The reply changed after the person was shown it: nothing was applied. `current` is the
    reply as it is now, `mine` the text the person sent (kept for the conflict view)."""

    def __init__(self, current: Reply, mine: str | None) -> None:
        super().__init__(
            "Someone changed this reply after you opened it, so nothing was saved. Compare "
            "your text with the current one and choose which to keep."
        )
        self.current = current
        self.mine = mine


class NeedsReason(ReviewError):
    """Approving unsupported sentences needs the person's reason. `sentences` are the
    verdicts of the text they sent, for showing it marked."""

    def __init__(self, count: int, sentences: list[dict]) -> None:
        super().__init__(
            f"{count} sentence(s) are not supported by the sources they cite. Fix them, or "
            "say why the reply may go out as it is."
        )
        self.sentences = sentences


def reply_approved_listen(callback: Callable[[int], None]) -> None:
    """`callback(reply_id)` runs after the commit of every final approval (the webhook)."""
    _approved_listeners.append(callback)


def reply_claim_next(*, user, queryset, after=None, before=None) -> Reply | None:
    """Hold the next reply of `queryset` (a queue, filtered) for `user`."""
    return claims.claim_next(
        queryset=queryset,
        user=user,
        minutes=settings.DRAFT_CLAIM_MINUTES,
        after=after,
        before=before,
    )


def reply_hold(*, reply: Reply, user) -> bool:
    """Hold an open reply for `user` when they may act on it at its stage and nobody else
    holds it; False otherwise (a reviewer reading a reply that waits for a lead never
    blocks the leads)."""
    with transaction.atomic():
        locked = Reply.objects.select_for_update().get(pk=reply.pk)
        if claims.claim_held_by_other(item=locked, user=user) or not _may_act(locked, user):
            return False
        claims.claim_take(item=locked, user=user, minutes=settings.DRAFT_CLAIM_MINUTES)
    return True


def _may_act(reply: Reply, user) -> bool:
    if reply.stage == Reply.Stage.LEAD:
        return user.has_perm(LEAD_SCREENS) and not reply_four_eyes_blocked(reply=reply, user=user)
    return reply.stage in EDITABLE


def reply_four_eyes_blocked(*, reply: Reply, user) -> bool:
    """The lead approved or edited this reply at the first stage: another lead must decide."""
    return reply.stage == Reply.Stage.LEAD and (
        user.pk == reply.reviewed_by_id or user.pk in reply.editor_ids
    )


def reply_release(*, reply: Reply, user) -> None:
    Reply.objects.filter(pk=reply.pk, claimed_by=user).update(claimed_by=None, claimed_until=None)


def reply_save(*, reply: Reply, user, version: int, text: str) -> Reply:
    """Save an edit of the text (still under review): checked again, logged."""
    with transaction.atomic():
        locked = _locked(reply, user, version, text, stages=EDITABLE)
        before = locked.text
        if not _text_apply(locked, user, text):
            return locked
        _finish(locked, ["text", "sentences", "edited", "editor_ids", *COUNT_FIELDS])
        _log(locked, user, Decision.EDIT, before=before)
    return locked


def reply_approve(
    *, reply: Reply, user, version: int, text: str | None = None, override_reason: str = ""
) -> Reply:
    """A reviewer's approval (with their edits, checked again) sends the reply to a lead; a
    lead's approval of a reply awaiting one is final. Unsupported sentences are approved only
    with a reason, which is logged."""
    with transaction.atomic():
        locked = _locked(reply, user, version, text, stages=(*EDITABLE, Reply.Stage.LEAD))
        if locked.stage == Reply.Stage.LEAD:
            _lead_approve(locked, user)
        else:
            _reviewer_approve(locked, user, text, override_reason.strip())
    return locked


def _reviewer_approve(reply: Reply, user, text: str | None, override_reason: str) -> None:
    before = reply.text
    if text is not None:
        _text_apply(reply, user, text)
    if not reply.text.strip() or not reply.sentence_count:
        raise ReviewError("Write the reply, with at least one sentence citing a source.")
    if reply.unsupported_count and not override_reason:
        raise NeedsReason(reply.unsupported_count, reply.sentences)
    reply.override_reason = override_reason if reply.unsupported_count else ""
    reply.reviewed_by, reply.reviewed_at = user, timezone.now()
    clean = (
        not reply.edited
        and reply.draft.status == Draft.Status.READY
        and not reply.unsupported_count
        and not reply.weak_count
    )
    if settings.DRAFT_SKIP_LEAD_WHEN_CLEAN and clean:
        reply.stage, reply.lead_skipped = Reply.Stage.APPROVED, True
        reply.approved_by, reply.approved_at = user, reply.reviewed_at
    else:
        reply.stage = Reply.Stage.LEAD
    _finish(
        reply,
        [
            "text",
            "sentences",
            "edited",
            "editor_ids",
            *COUNT_FIELDS,
            "override_reason",
            "reviewed_by",
            "reviewed_at",
            "stage",
            "lead_skipped",
            "approved_by",
            "approved_at",
        ],
    )
    final = reply.stage == Reply.Stage.APPROVED
    _log(
        reply,
        user,
        Decision.APPROVE if final else Decision.SUBMIT,
        before=reply.draft.text if final else before,
        reason="unsupported_kept" if reply.override_reason else "",
        note=reply.override_reason,
    )
    if final:
        _approved_notify(reply)


def _lead_approve(reply: Reply, user) -> None:
    # Only leads get here: _locked refuses anyone else a reply awaiting a lead.
    if reply_four_eyes_blocked(reply=reply, user=user):
        raise ReviewError(
            "You approved or edited this reply yourself, so another lead must give the "
            "second approval (four eyes)."
        )
    reply.stage = Reply.Stage.APPROVED
    reply.approved_by, reply.approved_at = user, timezone.now()
    _finish(reply, ["stage", "approved_by", "approved_at"])
    # The final approval's entry compares the AI's draft with the reply that goes out (what
    # the dashboard counts as approved as written or edited); its note says whose edits
    # those were, as the lead approving changed nothing.
    _log(reply, user, Decision.APPROVE, before=reply.draft.text, note=_edited_by(reply))
    _approved_notify(reply)


def _edited_by(reply: Reply) -> str:
    if not reply.edited:
        return ""
    names = User.objects.filter(pk__in=reply.editor_ids).order_by("username")
    listed = ", ".join(u.get_username() for u in names.only("username"))
    return f"Compared with the AI's draft; edited at review by {listed or 'a removed user'}."


def reply_return(*, reply: Reply, user, version: int, note: str) -> Reply:
    """A lead sends a reply back to the reviewers with a comment."""
    if not user.has_perm(LEAD_SCREENS):
        raise PermissionDenied("Returning a reply is for support leads.")
    if not note.strip():
        raise ReviewError("Say what the reviewer should change.")
    with transaction.atomic():
        locked = _locked(reply, user, version, None, stages=(Reply.Stage.LEAD,))
        locked.stage = Reply.Stage.REVIEW
        locked.return_note = note.strip()
        locked.returned_by, locked.returned_at = user, timezone.now()
        locked.reviewed_by, locked.reviewed_at = None, None
        _finish(
            locked,
            ["stage", "return_note", "returned_by", "returned_at", "reviewed_by", "reviewed_at"],
        )
        _log(locked, user, Decision.RETURN, note=locked.return_note)
    return locked


def reply_flag(*, reply: Reply, user, version: int, reason: str, note: str = "") -> Reply:
    """Flag what is wrong with the AI's text; the reply stays where it is, flagged, for
    whoever takes it next (and the lead sees every flag)."""
    if reason not in Reply.FlagReason.values:
        raise ReviewError("Choose what is wrong with the draft.")
    if reason == Reply.FlagReason.OTHER and not note.strip():
        raise ReviewError("Say what is wrong: the reason is “Other”.")
    with transaction.atomic():
        locked = _locked(reply, user, version, None, stages=(*EDITABLE, Reply.Stage.LEAD))
        flag = {
            "reason": reason,
            "note": note.strip(),
            "by": user.get_username(),
            "at": timezone.now().isoformat(),
        }
        locked.flags = [*locked.flags, flag]
        _finish(locked, ["flags"])
        _log(locked, user, Decision.FLAG, reason=reason, note=flag["note"])
    return locked


def reply_escalate(*, reply: Reply, user, version: int, note: str) -> Reply:
    """The docs do not answer it (or it needs someone senior): out of the review queue."""
    if not note.strip():
        raise ReviewError("Say why the ticket is escalated.")
    with transaction.atomic():
        locked = _locked(reply, user, version, None, stages=(Reply.Stage.REVIEW, Reply.Stage.LEAD))
        locked.stage = Reply.Stage.ESCALATED
        locked.escalation_note = note.strip()
        _finish(locked, ["stage", "escalation_note"])
        _log(locked, user, Decision.ESCALATE, note=locked.escalation_note)
    return locked


COUNT_FIELDS = ["sentence_count", "unsupported_count", "weak_count"]
Decision = EditLogEntry.Decision


def _locked(reply: Reply, user, version: int, text: str | None, *, stages) -> Reply:
    """The reply, locked for this transaction, after the checks every decision shares: it is
    at a stage where the decision applies, nobody else holds it, and it is the version the
    person was shown (else EditConflict, with their text kept)."""
    locked = (
        Reply.objects.select_for_update(of=("self",))
        .select_related("draft", "ticket__product_line")
        .get(pk=reply.pk)
    )
    if locked.version != version:
        raise EditConflict(locked, text)
    if locked.stage not in stages:
        raise ReviewError(f"This reply is {locked.get_stage_display().lower()}: nothing to do.")
    if locked.stage == Reply.Stage.LEAD and not user.has_perm(LEAD_SCREENS):
        raise PermissionDenied("A reply awaiting a lead is for support leads.")
    if claims.claim_held_by_other(item=locked, user=user):
        raise ReviewError(f"{locked.claimed_by} is working on this reply.")
    return locked


def _text_apply(reply: Reply, user, text: str) -> bool:
    """Apply a person's text, checked again against the sources; False when unchanged."""
    text = text.replace("\r\n", "\n").strip()
    if text == reply.text.strip():
        return False
    reply.text = text
    reply.sentences = text_verify(text=text, draft=reply.draft)
    for field, value in verdict_counts(reply.sentences).items():
        setattr(reply, field, value)
    reply.edited = text != reply.draft.text.strip()
    if user.pk not in reply.editor_ids:
        reply.editor_ids = [*reply.editor_ids, user.pk]
    return True


def _finish(reply: Reply, fields: list[str]) -> None:
    """Save a decision: the version rises (so anyone who saw the old one gets a conflict),
    the hold is released and the ticket's status follows the reply."""
    reply.version += 1
    reply.claimed_by, reply.claimed_until = None, None
    reply.save(update_fields=[*fields, "version", "claimed_by", "claimed_until", "updated_at"])
    status = TICKET_STATUS_AT.get(reply.stage)
    if status:
        Ticket.objects.filter(pk=reply.ticket_id).update(status=status, updated_at=timezone.now())


def _log(reply: Reply, user, decision: str, *, before: str | None = None, **extra) -> None:
    draft, ticket = reply.draft, reply.ticket
    decision_record(
        area=EditLogEntry.Area.DRAFT,
        object_type=reply._meta.label_lower,
        object_id=reply.pk,
        object_version=reply.version,
        decision=decision,
        editor=user,
        before={"text": reply.text if before is None else before},
        after={"text": reply.text},
        product_line=ticket.product_line.name if ticket.product_line_id else "",
        # A ranked draft asked no model: say what made it, so the dashboard's per-model
        # figures show the app's own drafts apart.
        model=draft.model or "none (ranked by the app)",
        prompt_version=draft.prompt_version or f"design {draft.design}",
        ai_created_at=draft.created_at,
        requested_at=ticket.created_at,
        details={
            "ticket": ticket.pk,
            "draft_version": draft.version,
            "stage": reply.stage,
            "sentences": draft.sentence_count,
            "unsupported": draft.unsupported_count,
            "approved_sentences": reply.sentence_count,
            "approved_unsupported": reply.unsupported_count,
        },
        **extra,
    )


def _approved_notify(reply: Reply) -> None:
    for callback in _approved_listeners:
        # robust: the approval is committed; a failing listener is logged, not a 500.
        transaction.on_commit(lambda callback=callback: callback(reply.pk), robust=True)
