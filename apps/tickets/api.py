"""The tickets API (mounted at /api/, OpenAPI docs at /api/docs). Every error is JSON with a
"detail" message a client's developer can act on."""

from django.http import HttpRequest
from ninja import NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, AuthorizationError, ValidationError
from ninja.security import HttpBearer

from apps.tickets import selectors, services
from apps.tickets.models import Ticket

api = NinjaAPI(
    title="reviewdesk API",
    version="1",
    description="Post support tickets to reviewdesk. Authenticate with a per-client token: "
    "`Authorization: Bearer <token>` (created by an admin in Django admin, API clients).",
    urls_namespace="api",
)


class BearerToken(HttpBearer):
    """Tells a missing or unknown token (401) from a revoked one (403), each with its own
    message; HttpBearer answers every failure with the same bare 401."""

    def __call__(self, request: HttpRequest):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError(
                401, "Missing API token: send the header “Authorization: Bearer <token>”."
            )
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str):
        client = selectors.api_client_for_token(token=token)
        if client is None:
            raise AuthenticationError(401, "Unknown API token.")
        if client.is_revoked:
            raise AuthorizationError(403, f"The API token of “{client.name}” has been revoked.")
        return client


class TicketIn(Schema):
    external_id: str | int
    body: str
    subject: str = ""
    customer_name: str = ""
    customer_email: str = ""
    product_line: str | None = None
    priority: str = Ticket.Priority.NORMAL


class TicketOut(Schema):
    id: int
    external_id: str
    status: str
    source: str
    subject: str
    body: str
    customer_name: str
    customer_email: str
    product_line: str | None
    priority: str
    created_at: str
    updated_at: str


class FieldError(Schema):
    field: str
    reason: str


class Problem(Schema):
    detail: str
    errors: list[FieldError] = []


def _ticket_out(ticket: Ticket) -> dict:
    return {
        "id": ticket.pk,
        "external_id": ticket.external_id,
        "status": ticket.status,
        "source": ticket.source,
        "subject": ticket.subject,
        "body": ticket.body,
        "customer_name": ticket.customer_name,
        "customer_email": ticket.customer_email,
        "product_line": ticket.product_line.slug if ticket.product_line else None,
        "priority": ticket.priority,
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
    }


def _invalid(request, errors: list[dict]):
    return api.create_response(
        request,
        {
            "detail": "The ticket is invalid: "
            + "; ".join(f"{e['field']} {e['reason']}" for e in errors)
            + ".",
            "errors": errors,
        },
        status=400,
    )


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    errors = []
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", ())]
        # Pydantic's location starts with where ninja read the object from: ("body", "payload").
        if location[:2] == ["body", "payload"]:
            location = location[2:]
        errors.append({"field": ".".join(location) or "(body)", "reason": error.get("msg", "")})
    return _invalid(request, errors)


@api.post(
    "/tickets/",
    auth=BearerToken(),
    response={200: TicketOut, 201: TicketOut, 400: Problem, 401: Problem, 403: Problem},
    summary="Create a ticket",
    description="Creates the ticket (201). Posting an external_id this API already has returns "
    "that ticket unchanged (200), so a client may safely retry.",
)
def ticket_post(request, payload: TicketIn):
    data = payload.dict()
    data["external_id"] = str(data["external_id"])
    try:
        ticket, created = services.ticket_get_or_create(
            **data, source=Ticket.Source.API, api_client=request.auth
        )
    except services.TicketInvalid as exc:
        return _invalid(request, [{"field": n, "reason": r} for n, r in exc.errors])
    return Status(201 if created else 200, _ticket_out(ticket))
