"""GET /api/tickets/<id>/reply: token auth, a client sees only its own tickets, 409 until the
reply is approved, and the endpoint is in the OpenAPI schema."""

import pytest

from apps.drafts.models import Reply
from apps.tickets.services import api_client_revoke
from tests.delivery.conftest import QUOTE, reply_for, ticket_for

pytestmark = pytest.mark.django_db


def _get(client, ticket_id, token=None, header=None):
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if header:
        headers["Authorization"] = header
    return client.get(f"/api/tickets/{ticket_id}/reply", headers=headers)


def test_an_approved_reply_is_returned_clean_with_its_citations_and_provenance(client, api_client):
    ticket = ticket_for(api_client.client)
    reply_for(ticket)

    response = _get(client, ticket.pk, api_client.token)

    assert response.status_code == 200
    body = response.json()
    assert body["ticket_id"] == ticket.pk and body["external_id"] == "ZD-77"
    assert body["text"] == f"Hello Kim, {QUOTE}"
    assert body["text_with_citations"] == f"Hello Kim, {QUOTE} [1]"
    assert body["citations"] == [
        {"number": 1, "document": "Plans", "section": "History", "quote": QUOTE}
    ]
    assert body["provenance"] == "AI-assisted; reviewed by ana; approved by lee"
    assert (body["reviewed_by"], body["approved_by"]) == ("ana", "lee")
    assert body["approved_at"]


def test_without_a_token_the_answer_is_401_saying_how_to_send_one(client, api_client):
    ticket = ticket_for(api_client.client)
    reply_for(ticket)

    response = _get(client, ticket.pk)

    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Bearer rdk_not-a-real-token", "Token abc"])
def test_an_unknown_token_is_401(client, api_client, header):
    ticket = ticket_for(api_client.client)
    reply_for(ticket)

    response = _get(client, ticket.pk, header=header)

    assert response.status_code == 401 and response.json()["detail"]
    assert "text" not in response.json()


def test_a_revoked_token_is_403(client, api_client):
    ticket = ticket_for(api_client.client)
    reply_for(ticket)
    api_client_revoke(client=api_client.client)

    response = _get(client, ticket.pk, api_client.token)

    assert response.status_code == 403
    assert "revoked" in response.json()["detail"]


def test_another_clients_ticket_is_404_exactly_like_a_missing_one(client, api_client, other_client):
    theirs = ticket_for(other_client.client, "FD-1")
    reply_for(theirs)
    web_ticket = ticket_for(None, "WEB-1")
    missing_id = web_ticket.pk + 1000

    answers = {
        ticket_id: _get(client, ticket_id, api_client.token)
        for ticket_id in (theirs.pk, web_ticket.pk, missing_id)
    }

    assert {r.status_code for r in answers.values()} == {404}
    for ticket_id, response in answers.items():
        assert response.json()["detail"] == f"Ticket {ticket_id} not found."
    # Its own client does get it.
    assert _get(client, theirs.pk, other_client.token).status_code == 200


def test_a_reply_not_approved_yet_is_409_naming_the_tickets_status(client, api_client):
    ticket = ticket_for(api_client.client)
    reply_for(ticket, stage=Reply.Stage.LEAD)

    response = _get(client, ticket.pk, api_client.token)

    assert response.status_code == 409
    assert response.json() == {
        "detail": f"The reply to ticket {ticket.pk} (ZD-77) is not approved yet (awaiting review).",
        "status": "awaiting_review",
    }


def test_a_ticket_with_no_draft_yet_is_409_too(client, api_client):
    ticket = ticket_for(api_client.client)

    response = _get(client, ticket.pk, api_client.token)

    assert response.status_code == 409 and "not approved yet" in response.json()["detail"]


def test_a_ticket_id_that_is_not_a_number_is_a_json_error(client, api_client):
    response = _get(client, "abc", api_client.token)

    assert 400 <= response.status_code < 500
    assert response.json()["detail"]


def test_the_openapi_schema_lists_the_endpoint_with_each_answer(client):
    schema = client.get("/api/openapi.json").json()

    operation = schema["paths"]["/api/tickets/{ticket_id}/reply"]["get"]
    assert set(operation["responses"]) == {"200", "401", "403", "404", "409"}
    assert operation["security"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    properties = schema["components"]["schemas"][ok.rsplit("/", 1)[1]]["properties"]
    assert {"text", "text_with_citations", "citations", "provenance"} <= set(properties)
    # The ticket endpoint is still there beside it.
    assert "/api/tickets/" in schema["paths"]
