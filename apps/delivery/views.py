from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from apps.core.htmx import page_render
from apps.core.permissions import lead_required
from apps.delivery import selectors, services
from apps.delivery.models import Delivery


@lead_required
@require_GET
def delivery_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    page = Paginator(selectors.deliveries_list(status=status), 50).get_page(request.GET.get("page"))
    counts = selectors.delivery_status_counts()
    context = {
        "page": page,
        "counts": counts,
        # Attempts land without a reload while something is on its way.
        "in_flight": any(
            row["value"] in (Delivery.Status.PENDING, Delivery.Status.SENDING) and row["count"]
            for row in counts
        ),
        "statuses": [(row["value"], row["label"]) for row in counts],
        "params": request.GET,
    }
    return page_render(request, "delivery/list.html", "table", context)


@lead_required
@require_POST
def delivery_resend(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(Delivery.objects.select_related("ticket", "api_client"), pk=pk)
    if services.delivery_resend(delivery_id=delivery.pk, user=request.user):
        messages.success(
            request,
            f"Sending the reply to ticket {delivery.ticket.external_id} to "
            f"“{delivery.api_client.name}” again; its attempts appear below.",
        )
    else:
        delivery.refresh_from_db(fields=["status"])
        if delivery.status == Delivery.Status.DELIVERED:
            state = "was delivered: there is nothing to send again"
        else:
            state = "is already on its way: it can be sent again once it fails or stalls"
        messages.info(request, f"The delivery to “{delivery.api_client.name}” {state}.")
    # Back where the button was (this list or the ticket page), never to another site.
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = "delivery:list"
    return redirect(back)
