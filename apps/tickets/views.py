from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from apps.core.htmx import page_render
from apps.core.permissions import lead_required, reviewer_required
from apps.knowledge.models import ProductLine
from apps.tickets import selectors, services
from apps.tickets.forms import ImportForm, TicketForm
from apps.tickets.models import Ticket


@reviewer_required
@require_GET
def ticket_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    product_line = request.GET.get("product_line", "")
    tickets = selectors.tickets_list(status=status, product_line=product_line)
    page = Paginator(tickets, 50).get_page(request.GET.get("page"))
    counts = selectors.ticket_status_counts(product_line=product_line)
    context = {
        "page": page,
        "counts": counts,
        # New tickets and finished drafts show up without a reload; faster while drafting.
        "drafting": any(row["value"] == Ticket.Status.DRAFTING and row["count"] for row in counts),
        "product_lines": ProductLine.objects.all(),
        "statuses": Ticket.Status.choices,
        "params": request.GET,
    }
    return page_render(request, "tickets/list.html", "table", context)


@reviewer_required
@require_GET
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_object_or_404(Ticket.objects.select_related("product_line"), pk=pk)
    return render(request, "tickets/detail.html", {"ticket": ticket})


@lead_required
@require_http_methods(["GET", "POST"])
def ticket_new(request: HttpRequest) -> HttpResponse:
    form = TicketForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = services.ticket_create(
                **{**data, "external_id": data["external_id"] or services.web_external_id()},
                source=Ticket.Source.WEB,
                created_by=request.user,
            )
        except services.TicketInvalid as exc:
            for name, reason in exc.errors:
                form.add_error(name if name in form.fields else None, reason)
        else:
            messages.success(request, f"Ticket {ticket.external_id} created.")
            return redirect("tickets:detail", pk=ticket.pk)
    return render(request, "tickets/new.html", {"form": form})


@lead_required
@require_http_methods(["GET", "POST"])
def ticket_import(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            report = services.tickets_import(
                data=upload.read(),
                filename=upload.name,
                fmt=form.cleaned_data["format"] or None,
                created_by=request.user,
            )
        except services.TicketImportRefused as exc:
            form.add_error("file", str(exc))
    # The report is answered, not redirected to: sending the same file again is harmless
    # (every id is then skipped), and the report belongs to this upload only.
    return render(request, "tickets/import.html", {"form": form, "report": report})
