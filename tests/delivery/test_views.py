"""The leads' deliveries page, "Send again", the ticket page's delivery section and the API
client's webhook settings in admin."""

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from apps.delivery.models import Delivery, DeliveryAttempt
from apps.tickets.models import ApiClient
from tests import factories
from tests.delivery.conftest import SECRET, reply_for, ticket_for, webhook_set

pytestmark = pytest.mark.django_db

LIST = reverse("delivery:list")


def _failed_delivery(client: ApiClient, external_id: str = "ZD-77", error: str = "") -> Delivery:
    reply = reply_for(ticket_for(client, external_id))
    delivery = Delivery.objects.create(
        event=Delivery.Event.REPLY_APPROVED,
        reply=reply,
        ticket_id=reply.ticket_id,
        api_client=client,
        body="{}",
        status=Delivery.Status.FAILED,
        attempt_count=2,
        last_error=error or "Could not connect: [Errno 111] Connection refused",
        failed_at=timezone.now(),
    )
    for number in (1, 2):
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            url=client.webhook_url,
            started_at=timezone.now(),
            duration_ms=3.5,
            error=delivery.last_error,
        )
    return delivery


@pytest.fixture
def hooked(api_client) -> ApiClient:
    return webhook_set(api_client.client, "http://127.0.0.1:9/hooks")


def _resend(delivery: Delivery) -> str:
    return reverse("delivery:resend", args=[delivery.pk])


# --- permissions ------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_login_for_the_page_and_send_again(client, hooked):
    delivery = _failed_delivery(hooked)

    for response in (client.get(LIST), client.post(_resend(delivery))):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED


def test_reviewers_get_403_on_the_page_and_on_send_again(client_for, hooked):
    delivery = _failed_delivery(hooked)
    client = client_for(factories.reviewer())

    assert client.get(LIST).status_code == 403
    assert client.post(_resend(delivery)).status_code == 403
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED and delivery.resend_count == 0


def test_send_again_is_post_only_and_needs_the_csrf_token(
    hooked, django_capture_on_commit_callbacks
):
    delivery = _failed_delivery(hooked)
    client = Client(enforce_csrf_checks=True)
    client.force_login(factories.lead())

    assert client.get(_resend(delivery)).status_code == 405
    assert client.post(_resend(delivery)).status_code == 403  # no CSRF token
    delivery.refresh_from_db()
    assert delivery.resend_count == 0

    page = client.get(LIST)
    token = page.context["csrf_token"]
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(_resend(delivery), {"csrfmiddlewaretoken": str(token)})
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING and delivery.resend_count == 1


# --- the page ---------------------------------------------------------------------------------


def test_leads_see_each_delivery_with_its_attempts_and_errors_escaped(client_for, hooked):
    _failed_delivery(hooked, error="HTTP 500 Internal Server Error: <script>alert(1)</script>")

    response = client_for(factories.lead()).get(LIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert "ZD-77" in html and "Zendesk bridge" in html and "Failed" in html
    assert "2 attempts" in html and "Send again" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_status_filter_narrows_the_list(client_for, hooked):
    _failed_delivery(hooked, "ZD-1")
    delivered = _failed_delivery(hooked, "ZD-2")
    Delivery.objects.filter(pk=delivered.pk).update(status=Delivery.Status.DELIVERED)
    client = client_for(factories.lead())

    failed = client.get(LIST, {"status": "failed"}).content.decode()
    done = client.get(LIST, {"status": "delivered"}).content.decode()

    assert "ZD-1" in failed and "ZD-2" not in failed
    assert "ZD-2" in done and "ZD-1" not in done


def test_a_stalled_delivery_is_shown_as_stalled_with_send_again(client_for, hooked):
    delivery = _failed_delivery(hooked)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.PENDING, next_attempt_at=timezone.now() - timedelta(minutes=30)
    )

    html = client_for(factories.lead()).get(LIST, {"status": "stalled"}).content.decode()

    assert "ZD-77" in html and "Stalled" in html and "Send again" in html


def test_the_page_loads_every_delivery_and_attempt_in_a_fixed_number_of_queries(
    client_for, hooked, django_assert_max_num_queries
):
    client = client_for(factories.lead())
    _failed_delivery(hooked, "ZD-1")
    with django_assert_max_num_queries(12) as one:
        client.get(LIST)
    for n in range(2, 8):
        _failed_delivery(hooked, f"ZD-{n}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(LIST)
    assert response.content.decode().count(">Send again</button>") == 7


# --- the ticket page's section ----------------------------------------------------------------


def _section(ticket, user) -> str:
    request = RequestFactory().get(f"/tickets/{ticket.pk}/")
    request.user = user
    from django.contrib.auth.context_processors import PermWrapper

    context = Context({"ticket": ticket, "perms": PermWrapper(user), "request": request})
    return Template("{% load delivery %}{% delivery_section ticket %}").render(context)


def test_the_ticket_section_shows_leads_its_deliveries_with_send_again(hooked):
    delivery = _failed_delivery(hooked)

    html = _section(delivery.ticket, factories.lead())

    assert "Reply delivery" in html and "Connection refused" in html
    assert _resend(delivery) in html and f'value="/tickets/{delivery.ticket_id}/"' in html


def test_the_ticket_section_is_not_shown_to_reviewers(hooked):
    delivery = _failed_delivery(hooked)

    assert "Reply delivery" not in _section(delivery.ticket, factories.reviewer())


def test_the_ticket_section_says_how_a_client_without_webhook_gets_the_reply(api_client):
    ticket = ticket_for(api_client.client)

    html = _section(ticket, factories.lead())

    assert "has no webhook" in html and f"GET /api/tickets/{ticket.pk}/reply" in html


def test_send_again_from_the_ticket_page_goes_back_there_and_never_to_another_site(
    client_for, hooked, django_capture_on_commit_callbacks
):
    first, second = _failed_delivery(hooked, "ZD-1"), _failed_delivery(hooked, "ZD-2")
    client = client_for(factories.lead())
    back = f"/tickets/{first.ticket_id}/"

    with django_capture_on_commit_callbacks(execute=False):
        here = client.post(_resend(first), {"next": back})
        away = client.post(_resend(second), {"next": "https://evil.example/"})

    assert here["Location"] == back
    assert away["Location"] == LIST


# --- admin: the webhook settings of an API client ---------------------------------------------


def _change(client, api_client, **data):
    url = reverse("admin:tickets_apiclient_change", args=[api_client.pk])
    return client.post(url, {"name": api_client.name, **data}, follow=True)


def test_admin_sets_a_webhook_and_its_secret_is_never_shown_back(client, api_client):
    client.force_login(factories.admin())

    response = _change(
        client,
        api_client.client,
        webhook_url="https://hooks.example.com/rd",
        new_webhook_secret=SECRET,
    )

    assert response.status_code == 200
    saved = ApiClient.objects.get(pk=api_client.client.pk)
    assert (saved.webhook_url, saved.webhook_secret) == ("https://hooks.example.com/rd", SECRET)
    listing = client.get(reverse("admin:tickets_apiclient_changelist")).content.decode()
    form = client.get(reverse("admin:tickets_apiclient_change", args=[saved.pk])).content.decode()
    assert "hooks.example.com" in listing
    assert SECRET not in listing and SECRET not in form
    assert "Set (not shown)" in form

    # Saving again with the secret field blank keeps it.
    _change(client, saved, webhook_url="https://hooks.example.com/v2")
    assert ApiClient.objects.get(pk=saved.pk).webhook_secret == SECRET


def test_admin_refuses_a_webhook_without_a_secret_and_can_generate_one(client, api_client):
    client.force_login(factories.admin())

    refused = _change(client, api_client.client, webhook_url="https://hooks.example.com/rd")
    assert "needs a secret" in refused.content.decode()
    assert ApiClient.objects.get(pk=api_client.client.pk).webhook_url == ""

    generated = _change(
        client,
        api_client.client,
        webhook_url="https://hooks.example.com/rd",
        generate_webhook_secret="on",
    )
    secret = ApiClient.objects.get(pk=api_client.client.pk).webhook_secret
    assert len(secret) >= 32
    assert secret in generated.content.decode()  # shown once, in the message
    page = client.get(reverse("admin:tickets_apiclient_change", args=[api_client.client.pk]))
    assert secret not in page.content.decode()


def test_admin_creates_a_client_with_its_webhook_in_one_step(client):
    client.force_login(factories.admin())

    client.post(
        reverse("admin:tickets_apiclient_add"),
        {
            "name": "Freshdesk",
            "webhook_url": "https://fd.example.com/h",
            "new_webhook_secret": SECRET,
        },
        follow=True,
    )

    saved = ApiClient.objects.get(name="Freshdesk")
    assert saved.token_hash and saved.webhook_url == "https://fd.example.com/h"
    assert saved.webhook_secret == SECRET
