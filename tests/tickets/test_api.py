import json

import pytest
from django.urls import reverse

from apps.tickets.models import ApiClient, Ticket
from apps.tickets.services import api_client_create, api_client_revoke, token_hash
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/api/tickets/"
TICKET = {
    "external_id": "ZD-77",
    "subject": "Sync error E1042",
    "body": "Sync stops with E1042 on my laptop.",
    "customer_email": "kim@example.com",
    "product_line": "Pro",
    "priority": "high",
}


@pytest.fixture
def token(db):
    _, token = api_client_create(name="Zendesk bridge")
    return token


def _post(client, body, token=None, raw=False):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = body if raw else json.dumps(body)
    return client.post(URL, data, content_type="application/json", headers=headers)


def test_posting_a_ticket_creates_it_and_answers_201_with_the_ticket(client, token, product_lines):
    response = _post(client, TICKET, token)

    assert response.status_code == 201
    body = response.json()
    ticket = Ticket.objects.get()
    assert body["id"] == ticket.pk and body["external_id"] == "ZD-77"
    assert body["status"] == "drafting"  # its first draft is queued and body["source"] == "api"
    assert body["product_line"] == "pro" and body["priority"] == "high"
    assert ticket.api_client.name == "Zendesk bridge"
    assert ticket.product_line == product_lines["pro"]


def test_posting_the_same_external_id_again_returns_the_existing_ticket(client, token):
    first = _post(client, {"external_id": "ZD-1", "body": "first"}, token)
    again = _post(client, {"external_id": "ZD-1", "body": "a retry with other text"}, token)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["body"] == "first"
    assert Ticket.objects.count() == 1


def test_a_numeric_external_id_is_accepted_as_text(client, token):
    response = _post(client, {"external_id": 1042, "body": "hi"}, token)
    assert response.status_code == 201 and response.json()["external_id"] == "1042"


def test_no_token_is_401_with_a_message_saying_how_to_send_one(client):
    response = _post(client, TICKET)

    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["detail"]
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("header", ["Bearer rdk_not-a-real-token", "Token abc", "Bearer "])
def test_a_wrong_token_is_401(client, token, header):
    response = client.post(
        URL, json.dumps(TICKET), content_type="application/json", HTTP_AUTHORIZATION=header
    )
    assert response.status_code == 401
    assert response.json()["detail"]
    assert not Ticket.objects.exists()


def test_a_token_with_the_right_prefix_but_wrong_rest_is_401(client, token):
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert _post(client, TICKET, forged).status_code == 401


def test_a_revoked_token_is_403_naming_the_client(client, token):
    api_client_revoke(client=ApiClient.objects.get())
    response = _post(client, TICKET, token)

    assert response.status_code == 403
    assert "revoked" in response.json()["detail"] and "Zendesk bridge" in response.json()["detail"]
    assert not Ticket.objects.exists()


def test_a_body_missing_required_fields_is_400_with_field_errors(client, token):
    response = _post(client, {"subject": "no id, no body"}, token)

    assert response.status_code == 400
    body = response.json()
    assert {error["field"] for error in body["errors"]} == {"external_id", "body"}
    assert body["detail"].startswith("The ticket is invalid")


def test_field_rules_are_the_imports_rules_and_answer_400(client, token, product_lines):
    response = _post(
        client,
        {"external_id": "X", "body": " ", "customer_email": "nope", "product_line": "Gold"},
        token,
    )

    assert response.status_code == 400
    errors = {error["field"]: error["reason"] for error in response.json()["errors"]}
    assert errors["body"] == "is required"
    assert "not a valid email" in errors["customer_email"]
    assert "Gold" in errors["product_line"] and "Enterprise, Pro" in errors["product_line"]
    assert not Ticket.objects.exists()


def test_a_body_that_is_not_json_is_400(client, token):
    response = _post(client, "{not json", token, raw=True)
    assert response.status_code == 400
    assert "Cannot parse" in response.json()["detail"]


def test_the_openapi_schema_documents_the_endpoint_and_bearer_auth(client):
    schema = client.get("/api/openapi.json").json()

    assert "/api/tickets/" in schema["paths"]
    schemes = schema["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    assert client.get("/api/docs").status_code == 200


# --- tokens in admin --------------------------------------------------------------------------


def test_admin_shows_a_new_clients_token_once_and_stores_only_its_hash(client):
    client.force_login(factories.admin())
    response = client.post(
        reverse("admin:tickets_apiclient_add"), {"name": "Freshdesk"}, follow=True
    )
    page = response.content.decode()
    api_client = ApiClient.objects.get(name="Freshdesk")
    shown = [m.message for m in response.context["messages"]]
    assert len(shown) >= 1
    token = next(word for word in shown[0].split() if word.startswith("rdk_"))

    assert token in page
    assert api_client.token_hash == token_hash(token) and token not in api_client.token_hash
    assert token.startswith(api_client.prefix)
    # Never again: the change page and the list do not show it.
    change = client.get(reverse("admin:tickets_apiclient_change", args=[api_client.pk]))
    assert token not in change.content.decode()
    assert token not in client.get(reverse("admin:tickets_apiclient_changelist")).content.decode()
    # And the token works.
    assert _post(client, {"external_id": "F-1", "body": "hi"}, token).status_code == 201


def test_the_admin_revoke_action_makes_the_token_answer_403(client, token):
    client.force_login(factories.admin())
    api_client = ApiClient.objects.get()
    client.post(
        reverse("admin:tickets_apiclient_changelist"),
        {"action": "revoke", "_selected_action": [api_client.pk]},
    )
    api_client.refresh_from_db()
    assert api_client.revoked_at is not None
    client.logout()
    assert _post(client, TICKET, token).status_code == 403


def test_the_api_docs_page_loads_its_files_from_this_server_not_a_cdn(client):
    page = client.get("/api/docs").content.decode()
    assert "swagger-ui-bundle.js" in page
    assert "cdn." not in page and "unpkg" not in page and "jsdelivr" not in page
