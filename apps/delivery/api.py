"""GET /api/tickets/<id>/reply on the tickets API (same token auth, same JSON errors). Mounted
by importing this module in reviewdesk/urls.py before the API's URLs are built."""

from django.http import HttpRequest
from ninja import Router, Schema, Status

from apps.delivery import selectors
from apps.drafts import selectors as drafts_selectors
from apps.tickets.api import BearerToken, Problem, api


class Citation(Schema):
    number: int
    document: str
    section: str
    quote: str


class ReplyOut(Schema):
    ticket_id: int
    external_id: str
    text: str
    text_with_citations: str
    citations: list[Citation]
    provenance: str
    reviewed_by: str | None
    approved_by: str | None
    approved_at: str | None


class ReplyNotApproved(Schema):
    detail: str
    status: str


router = Router(tags=["tickets"])


@router.get(
    "/{ticket_id}/reply",
    auth=BearerToken(),
    response={
        200: ReplyOut,
        401: Problem,
        403: Problem,
        404: Problem,
        409: ReplyNotApproved,
    },
    summary="Get a ticket's approved reply",
    description="The approved reply to one of your tickets: `text` ready for the customer, "
    "`text_with_citations` with its [n] markers, the `citations` they point at and the "
    "`provenance` (who reviewed and approved it). 409 while the reply is not approved yet, "
    "with the ticket's current `status`; 404 for an id that is not one of your tickets.",
)
def ticket_reply_get(request: HttpRequest, ticket_id: int):
    ticket = selectors.ticket_for_client(client=request.auth, ticket_id=ticket_id)
    if ticket is None:
        return Status(404, {"detail": f"Ticket {ticket_id} not found."})
    reply = drafts_selectors.reply_approved_for(ticket_id=ticket.pk)
    if reply is None:
        return Status(
            409,
            {
                "detail": f"The reply to ticket {ticket.pk} ({ticket.external_id}) is not "
                f"approved yet ({ticket.get_status_display().lower()}).",
                "status": ticket.status,
            },
        )
    return Status(200, drafts_selectors.reply_payload(reply=reply))


api.add_router("/tickets/", router)
