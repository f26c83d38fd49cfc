import hmac

from django.db.models import Count, QuerySet

from apps.tickets.models import ApiClient, Ticket
from apps.tickets.services import PREFIX_LENGTH, token_hash


def tickets_list(*, status: str = "", product_line: str = "") -> QuerySet[Ticket]:
    """Tickets newest first, filtered by status and product line slug ("none": without one)."""
    tickets = Ticket.objects.select_related("product_line").defer("body")
    if status in Ticket.Status.values:
        tickets = tickets.filter(status=status)
    if product_line == "none":
        tickets = tickets.filter(product_line__isnull=True)
    elif product_line:
        tickets = tickets.filter(product_line__slug=product_line)
    return tickets


def ticket_status_counts(*, product_line: str = "") -> list[dict]:
    """Every status with its number of tickets (zeros included), in workflow order, counted in
    one query; the product line filter applies so the counts match the list below them."""
    tickets = tickets_list(product_line=product_line)
    counts = dict(
        tickets.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    return [
        {"value": value, "label": label, "count": counts.get(value, 0)}
        for value, label in Ticket.Status.choices
    ]


def api_client_for_token(*, token: str) -> ApiClient | None:
    """The client holding this token, revoked or not (the caller tells them apart), or None."""
    presented = token_hash(token)
    for client in ApiClient.objects.filter(prefix=token[:PREFIX_LENGTH]):
        if hmac.compare_digest(client.token_hash, presented):
            return client
    return None
