from django import template

from apps.drafts.selectors import draft_views, ticket_drafts

register = template.Library()


@register.inclusion_tag("drafts/section.html", takes_context=True)
def drafts_section(context, ticket) -> dict:
    """The ticket's drafts (newest open, older ones folded) for the ticket page: tickets sits
    below drafts, so its page asks for this section by tag rather than importing it."""
    return {
        "ticket": ticket,
        "drafts": draft_views(drafts=ticket_drafts(ticket=ticket)),
        "perms": context.get("perms"),
        "csrf_token": context.get("csrf_token"),
        "request": context.get("request"),
    }
