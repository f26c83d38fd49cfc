from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.core.permissions import lead_required, reviewer_required
from apps.drafts import selectors, services
from apps.drafts.models import AnswerEvalRun
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
