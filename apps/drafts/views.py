from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.roles import LEAD_SCREENS
from apps.core.claims import claim_held_by_other, version_shown
from apps.core.permissions import lead_required, reviewer_required
from apps.drafts import selectors, services
from apps.drafts.models import AnswerEvalRun, Reply
from apps.drafts.reviewing import text_verify
from apps.knowledge.models import ProductLine
from apps.oversight.selectors import words_diff
from apps.tickets.models import Ticket


@reviewer_required
@require_GET
def drafts_section(request: HttpRequest, pk: int) -> HttpResponse:
    """The ticket page's draft section alone: polled while a draft is being written."""
    ticket = get_object_or_404(Ticket, pk=pk)
    context = {
        "ticket": ticket,
        "drafts": selectors.draft_views(drafts=selectors.ticket_drafts(ticket=ticket)),
        "oob": True,  # the ticket's status above the section changes with it
    }
    response = render(request, "drafts/section.html#section", context)
    response["Vary"] = "HX-Request"
    return response


@reviewer_required
@require_POST
def draft_regenerate(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_object_or_404(Ticket, pk=pk)
    version = services.draft_request(ticket_id=ticket.pk, user=request.user)
    messages.success(request, f"Drafting version {version}; the page updates when it is ready.")
    return redirect("tickets:detail", pk=ticket.pk)


@lead_required
@require_GET
def eval_compare(request: HttpRequest) -> HttpResponse:
    """Saved eval_answers runs side by side: one column per run, one row per metric."""
    chosen = [int(pk) for pk in request.GET.getlist("run") if pk.isdigit()]
    runs = selectors.answer_eval_runs(ids=chosen)
    context = {
        "runs": runs,
        "all_runs": AnswerEvalRun.objects.only("pk", "name", "created_at", "model", "design")[:100],
        "chosen": chosen,
        "rows": selectors.answer_eval_rows(runs=runs),
    }
    return render(request, "drafts/eval_compare.html", context)


@lead_required
@require_GET
def drift_list(request: HttpRequest) -> HttpResponse:
    return render(request, "drafts/drift.html", selectors.drift_list())


# --- review of replies ------------------------------------------------------------------------


@reviewer_required
@require_GET
def reply_queue(request: HttpRequest) -> HttpResponse:
    filters = selectors.reply_filters_from(request.GET)
    context = {
        "filters": filters,
        "replies": selectors.reply_queue(filters=filters)[:200],
        "counts": selectors.reply_stage_counts(filters=filters),
        "stages": [(s, Reply.Stage(s).label) for s in selectors.QUEUE_STAGES],
        "product_lines": ProductLine.objects.order_by("name"),
        "priorities": Ticket.Priority.choices,
        "query": urlencode(filters.as_params()),
        "lead": request.user.has_perm(LEAD_SCREENS),
        "now": timezone.now(),
        "claim_minutes": settings.DRAFT_CLAIM_MINUTES,
    }
    return render(request, "drafts/queue.html", context)


@reviewer_required
@require_POST
def reply_next(request: HttpRequest) -> HttpResponse:
    """Release the reply at hand and hold the next one at the same stage (wrapping around)."""
    filters = selectors.reply_filters_from(request.POST)
    if filters.stage == Reply.Stage.LEAD and not request.user.has_perm(LEAD_SCREENS):
        raise PermissionDenied("Replies awaiting a lead are for support leads.")
    current = request.POST.get("current", "")
    anchor = int(current) if current.isdigit() else None
    if anchor is not None:
        services.reply_release(reply=Reply(pk=anchor), user=request.user)
    reply = _claim_after(request.user, filters, anchor)
    query = urlencode(filters.as_params())
    if reply is None:
        messages.info(request, "Nothing left to take here: every reply is done or held by someone.")
        return redirect(f"{reverse('drafts:queue')}?{query}")
    return redirect(f"{reverse('drafts:review', args=[reply.pk])}?{query}")


def _claim_after(user, filters, anchor: int | None) -> Reply | None:
    queue = filters.apply(Reply.objects.filter(stage=filters.stage))
    reply = services.reply_claim_next(user=user, queryset=queue, after=anchor)
    if reply is None and anchor is not None:
        reply = services.reply_claim_next(user=user, queryset=queue)
    return reply


@reviewer_required
@require_GET
def reply_review(request: HttpRequest, pk: int) -> HttpResponse:
    # Hold first (a cheap existence check), then read the reply with everything the screen
    # shows once, so the page sees its own hold.
    holding = services.reply_hold(
        reply=get_object_or_404(Reply.objects.only("pk"), pk=pk), user=request.user
    )
    reply = selectors.reply_for_review(pk=pk)
    return _review_render(request, reply, holding=holding)


def _reply_or_404(pk: int) -> Reply:
    try:
        return selectors.reply_for_review(pk=pk)
    except Reply.DoesNotExist:
        raise Http404("No such reply.") from None


def _review_render(
    request: HttpRequest,
    reply: Reply,
    *,
    holding: bool = True,
    text: str | None = None,
    sentences: list[dict] | None = None,
    error: str = "",
    needs_reason: bool = False,
    conflict=None,
    status: int = 200,
) -> HttpResponse:
    filters = selectors.reply_filters_from(request.GET if request.method == "GET" else request.POST)
    view = selectors.ReplyView(reply)
    context = {
        "view": view,
        "reply": reply,
        "ticket": reply.ticket,
        "draft": reply.draft,
        "holding": holding,
        "held_by_other": claim_held_by_other(item=reply, user=request.user),
        "text": reply.text if text is None else text,
        "sentences": view.sentences if sentences is None else sentences,
        "error": error,
        "needs_reason": needs_reason,
        "conflict": conflict,
        "flag_reasons": Reply.FlagReason.choices,
        "lead": request.user.has_perm(LEAD_SCREENS),
        "four_eyes": services.reply_four_eyes_blocked(reply=reply, user=request.user),
        "query": urlencode(filters.as_params()),
        "filter_items": list(filters.as_params().items()),
        "history": selectors.reply_history(reply=reply),
        "max_chars": settings.DRAFT_REPLY_MAX_CHARS,
        "skip_lead": settings.DRAFT_SKIP_LEAD_WHEN_CLEAN,
    }
    response = render(request, "drafts/review.html", context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@reviewer_required
@require_POST
def reply_release(request: HttpRequest, pk: int) -> HttpResponse:
    """Let go of a reply the person leaves without deciding (the page sends this as it
    unloads), so it does not stay held until the claim lapses."""
    services.reply_release(reply=_reply_or_404(pk), user=request.user)
    return HttpResponse(status=204)


@reviewer_required
@require_POST
def reply_check(request: HttpRequest, pk: int) -> HttpResponse:
    """Check the text being edited against the cited sources, without saving anything."""
    reply = _reply_or_404(pk)
    text = (_posted_text(request) or "")[: settings.DRAFT_REPLY_MAX_CHARS]
    sentences = text_verify(text=text, draft=reply.draft)
    context = {"sentences": sentences, "view": selectors.ReplyView(reply), "checked": True}
    return render(request, "drafts/review.html#sentences", context)


def _posted_text(request: HttpRequest) -> str | None:
    """The reply text as posted; browsers send a textarea's line breaks as CRLF."""
    text = request.POST.get("text")
    return None if text is None else text.replace("\r\n", "\n")


@reviewer_required
@require_POST
def reply_act(request: HttpRequest, pk: int) -> HttpResponse:
    reply = _reply_or_404(pk)
    action = request.POST.get("action", "")
    text = _posted_text(request)
    if text is not None and len(text) > settings.DRAFT_REPLY_MAX_CHARS:
        return _review_render(
            request,
            reply,
            text=text[: settings.DRAFT_REPLY_MAX_CHARS],
            error=f"A reply is at most {settings.DRAFT_REPLY_MAX_CHARS} characters.",
            status=400,
        )
    try:
        done = _act(request, reply, action, text)
    except services.EditConflict as conflict:
        return _review_render(
            request,
            selectors.reply_for_review(pk=pk),
            text=conflict.mine,
            error=str(conflict),
            conflict=_conflict_view(conflict),
            status=409,
        )
    except services.NeedsReason as refused:
        return _review_render(
            request,
            reply,
            text=text,
            sentences=refused.sentences,
            error=str(refused),
            needs_reason=True,
            status=400,
        )
    except services.ReviewError as refused:
        return _review_render(request, reply, text=text, error=str(refused), status=400)
    messages.success(request, done)
    if action == "save":
        return redirect(f"{reverse('drafts:review', args=[pk])}?{_query(request)}")
    return _move_on(request, reply)


def _query(request: HttpRequest) -> str:
    return urlencode(selectors.reply_filters_from(request.POST).as_params())


def _act(request: HttpRequest, reply: Reply, action: str, text: str | None) -> str:
    """Apply one decision; the message that says what happened."""
    data, user = request.POST, request.user
    version = version_shown(data, error=services.ReviewError)
    ticket = reply.ticket.external_id
    if action == "save":
        services.reply_save(reply=reply, user=user, version=version, text=text or "")
        return "Saved; every sentence was checked again."
    if action == "approve":
        done = services.reply_approve(
            reply=reply,
            user=user,
            version=version,
            text=text,
            override_reason=data.get("override_reason", ""),
        )
        if done.stage == Reply.Stage.LEAD:
            return f"Approved the reply to {ticket}; it now waits for a lead."
        return f"The reply to {ticket} is approved and can be sent."
    if action == "return":
        services.reply_return(reply=reply, user=user, version=version, note=data.get("note", ""))
        return f"Returned the reply to {ticket} to the reviewers."
    if action == "flag":
        services.reply_flag(
            reply=reply,
            user=user,
            version=version,
            reason=data.get("reason", ""),
            note=data.get("note", ""),
        )
        return f"Flagged the draft of {ticket}."
    if action == "escalate":
        services.reply_escalate(reply=reply, user=user, version=version, note=data.get("note", ""))
        return f"Escalated {ticket}."
    raise services.ReviewError("Unknown action.")


def _move_on(request: HttpRequest, reply: Reply) -> HttpResponse:
    """After a decision, the next reply at the stage the person was working on."""
    filters = selectors.reply_filters_from(request.POST)
    if filters.stage == Reply.Stage.LEAD and not request.user.has_perm(LEAD_SCREENS):
        filters = selectors.ReplyFilters()
    following = _claim_after(request.user, filters, reply.pk)
    query = urlencode(filters.as_params())
    if following is None:
        messages.info(request, "Nothing else waits for you here.")
        return redirect(f"{reverse('drafts:queue')}?{query}")
    return redirect(f"{reverse('drafts:review', args=[following.pk])}?{query}")


def _conflict_view(conflict: services.EditConflict) -> dict:
    current = conflict.current.text
    mine = conflict.mine if conflict.mine is not None else current
    left, right = words_diff(old=current, new=mine)
    return {"current": current, "mine": mine, "left": left, "right": right}


@reviewer_required
@require_POST
def reply_regenerate(request: HttpRequest, pk: int) -> HttpResponse:
    reply = _reply_or_404(pk)
    if reply.stage in (Reply.Stage.APPROVED, Reply.Stage.SUPERSEDED):
        messages.error(
            request, f"This reply is {reply.get_stage_display().lower()}: not redrafted."
        )
        return redirect("drafts:review", pk=pk)
    version = services.draft_request(ticket_id=reply.ticket_id, user=request.user)
    messages.success(
        request,
        f"Drafting version {version} of {reply.ticket.external_id}; the ticket page shows it "
        "when it is ready (the earlier version stays there).",
    )
    return redirect("tickets:detail", pk=reply.ticket_id)
