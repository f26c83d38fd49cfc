from django import template

from apps.delivery.models import Delivery
from apps.delivery.selectors import delivery_badge, ticket_deliveries

register = template.Library()


@register.inclusion_tag("delivery/section.html", takes_context=True)
def delivery_section(context, ticket) -> dict:
    """The ticket's webhook deliveries for the ticket page, for leads only: tickets sits below
    delivery, so its page asks for this section by tag rather than importing it."""
    perms = context.get("perms")
    lead = bool(perms and perms["accounts"]["use_lead_screens"])
    return {
        "show": lead and ticket.api_client_id is not None,
        "ticket": ticket,
        "deliveries": ticket_deliveries(ticket=ticket) if lead else [],
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def badge(delivery: Delivery) -> str:
    """The badge class of a delivery's status ("stalled" when a worker should have moved it)."""
    return delivery_badge(delivery=delivery)


@register.filter
def resendable(delivery: Delivery) -> bool:
    return delivery.status == Delivery.Status.FAILED or bool(getattr(delivery, "is_stalled", False))
