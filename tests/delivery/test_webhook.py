"""The webhook of an approved reply, POSTed to a real HTTP server on loopback: signed, retried
with backoff, every attempt logged, failed (never dropped) after the last, sent again by a
lead. Retry chains run eagerly in the test with the backoff set to zero."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.delivery import services
from apps.delivery.models import Delivery, DeliveryAttempt
from apps.drafts import selectors as drafts_selectors
from apps.drafts.models import Reply
from apps.tickets.models import Ticket
from apps.tickets.services import api_client_revoke
from tests import factories
from tests.delivery.conftest import (
    SECRET,
    closed_port_url,
    reply_for,
    ticket_for,
    webhook_set,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_backoff(settings):
    settings.WEBHOOK_BACKOFF_SECONDS = 0
    settings.WEBHOOK_TIMEOUT_SECONDS = 5


def _approved(client) -> Reply:
    return reply_for(ticket_for(client))


def _deliver(reply: Reply, callbacks) -> Delivery | None:
    """What the approval's listener does, with every task it queues run to the end."""
    with callbacks(execute=True):
        delivery = services.delivery_create(reply_id=reply.pk)
    if delivery is not None:
        delivery.refresh_from_db()
    return delivery


def _attempts(delivery: Delivery) -> list[DeliveryAttempt]:
    return list(delivery.attempts.order_by("number"))


def test_a_receiver_can_verify_the_signature_of_the_exact_body_it_got(
    api_client, receiver_factory, eager_tasks, django_capture_on_commit_callbacks
):
    receiver = receiver_factory(200)
    webhook_set(api_client.client, receiver.url)
    reply = _approved(api_client.client)

    delivery = _deliver(reply, django_capture_on_commit_callbacks)

    [request] = receiver.requests
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Reviewdesk-Signature"], f"sha256={expected}")
    # A receiver holding another secret, or a tampered body, does not match.
    forged = hmac.new(b"another secret!!", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Reviewdesk-Signature"] != f"sha256={forged}"
    tampered = hmac.new(SECRET.encode(), request.body + b" ", hashlib.sha256).hexdigest()
    assert request.headers["X-Reviewdesk-Signature"] != f"sha256={tampered}"
    assert json.loads(request.body) == drafts_selectors.reply_payload(reply=reply)
    assert request.headers["X-Reviewdesk-Event"] == "reply.approved"
    assert request.headers["X-Reviewdesk-Delivery"] == str(delivery.uid)
    assert request.headers["Content-Type"] == "application/json"
    assert delivery.status == Delivery.Status.DELIVERED and delivery.delivered_at


def test_two_server_errors_then_success_ends_delivered_with_three_attempts_logged(
    api_client, receiver_factory, eager_tasks, no_backoff, django_capture_on_commit_callbacks
):
    receiver = receiver_factory(500, 500, 200)
    webhook_set(api_client.client, receiver.url)

    delivery = _deliver(_approved(api_client.client), django_capture_on_commit_callbacks)

    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.attempt_count == 3 and delivery.last_error == ""
    attempts = _attempts(delivery)
    assert [(a.number, a.status_code, a.ok) for a in attempts] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    assert attempts[0].error.startswith("HTTP 500")
    assert all(a.duration_ms > 0 and a.url == receiver.url for a in attempts)
    # Each attempt is the same event: one delivery id and the same bytes, for deduplication.
    assert len({r.headers["X-Reviewdesk-Delivery"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    assert [r.headers["X-Reviewdesk-Attempt"] for r in receiver.requests] == ["1", "2", "3"]
    # The helpdesk has the reply now: the ticket says so.
    assert Ticket.objects.get(pk=delivery.ticket_id).status == Ticket.Status.SENT


def test_a_closed_port_fails_every_attempt_then_send_again_delivers_it(
    api_client,
    receiver_factory,
    eager_tasks,
    no_backoff,
    settings,
    client_for,
    django_capture_on_commit_callbacks,
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    webhook_set(api_client.client, closed_port_url())

    delivery = _deliver(_approved(api_client.client), django_capture_on_commit_callbacks)

    assert delivery.status == Delivery.Status.FAILED and delivery.failed_at
    attempts = _attempts(delivery)
    assert [a.number for a in attempts] == [1, 2, 3]
    assert all(a.status_code is None and "Connection refused" in a.error for a in attempts)
    assert "Connection refused" in delivery.last_error

    # The admin fixes the URL; a lead sends it again from the deliveries page.
    receiver = receiver_factory(200)
    webhook_set(api_client.client, receiver.url)
    lead = factories.lead()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(lead).post(reverse("delivery:resend", args=[delivery.pk]))

    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.resend_count == 1 and delivery.resent_by == lead
    assert [(a.number, a.ok) for a in _attempts(delivery)][-1] == (4, True)
    assert receiver.requests[0].headers["X-Reviewdesk-Delivery"] == str(delivery.uid)


def test_a_failure_waits_longer_each_time_before_the_next_attempt(
    api_client, receiver_factory, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_BACKOFF_SECONDS = 30
    assert [services.backoff_seconds(failures=n) for n in range(1, 6)] == [30, 60, 120, 240, 480]
    receiver = receiver_factory(503)
    webhook_set(api_client.client, receiver.url)
    with django_capture_on_commit_callbacks(execute=False):
        delivery = services.delivery_create(reply_id=_approved(api_client.client).pk)

    # Attempt 1 by hand: the retry it queues is captured, not run.
    with django_capture_on_commit_callbacks(execute=False) as queued:
        before = timezone.now()
        services.delivery_attempt(delivery_id=delivery.pk, number=1)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING and len(queued) == 1
    assert delivery.last_status_code == 503
    wait = delivery.next_attempt_at - before
    assert timedelta(seconds=29) < wait < timedelta(seconds=32)


def test_the_same_attempt_is_sent_once_even_when_two_workers_run_it(
    api_client, receiver_factory, django_capture_on_commit_callbacks
):
    receiver = receiver_factory(200)
    webhook_set(api_client.client, receiver.url)
    with django_capture_on_commit_callbacks(execute=False):
        delivery = services.delivery_create(reply_id=_approved(api_client.client).pk)

    first = services.delivery_attempt(delivery_id=delivery.pk, number=1)
    again = services.delivery_attempt(delivery_id=delivery.pk, number=1)

    assert first is not None and again is None
    assert len(receiver.requests) == 1
    assert delivery.attempts.count() == 1


def test_a_redirect_is_a_failed_attempt_and_is_not_followed(
    api_client,
    receiver_factory,
    eager_tasks,
    no_backoff,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver = receiver_factory(302)
    webhook_set(api_client.client, receiver.url)

    delivery = _deliver(_approved(api_client.client), django_capture_on_commit_callbacks)

    assert delivery.status == Delivery.Status.FAILED
    assert [a.status_code for a in _attempts(delivery)] == [302, 302]
    assert len(receiver.requests) == 2  # nothing went to the Location it named


def test_an_approval_makes_one_delivery_only_for_a_client_with_a_webhook(
    api_client, other_client, receiver_factory, django_capture_on_commit_callbacks
):
    receiver = receiver_factory(200)
    webhook_set(api_client.client, receiver.url)
    mine = _approved(api_client.client)
    theirs = reply_for(ticket_for(other_client.client, "FD-1"))  # no webhook
    web = reply_for(ticket_for(None, "WEB-1"))
    pending = reply_for(ticket_for(api_client.client, "ZD-78"), stage=Reply.Stage.LEAD)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = services.delivery_create(reply_id=mine.pk)
        again = services.delivery_create(reply_id=mine.pk)
        others = [services.delivery_create(reply_id=r.pk) for r in (theirs, web, pending)]

    assert first is not None and again == first
    assert others == [None, None, None]
    assert Delivery.objects.count() == 1 and len(queued) == 1


def test_a_revoked_client_gets_no_webhook(
    api_client, receiver_factory, django_capture_on_commit_callbacks
):
    receiver = receiver_factory(200)
    webhook_set(api_client.client, receiver.url)
    reply = _approved(api_client.client)
    api_client_revoke(client=api_client.client)

    assert services.delivery_create(reply_id=reply.pk) is None


def test_a_client_revoked_after_approval_fails_the_delivery_at_once_without_sending(
    api_client, receiver_factory, eager_tasks, django_capture_on_commit_callbacks
):
    receiver = receiver_factory(200)
    webhook_set(api_client.client, receiver.url)
    with django_capture_on_commit_callbacks(execute=False):
        delivery = services.delivery_create(reply_id=_approved(api_client.client).pk)
    api_client_revoke(client=api_client.client)

    services.delivery_attempt(delivery_id=delivery.pk, number=1)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED and "revoked" in delivery.last_error
    assert receiver.requests == []


def test_send_again_is_refused_for_a_delivered_one_and_a_double_click_starts_one_round(
    api_client, receiver_factory, django_capture_on_commit_callbacks
):
    webhook_set(api_client.client, closed_port_url())
    with django_capture_on_commit_callbacks(execute=False):
        delivery = services.delivery_create(reply_id=_approved(api_client.client).pk)
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.FAILED, attempt_count=6)
    lead = factories.lead()

    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = services.delivery_resend(delivery_id=delivery.pk, user=lead)
        second = services.delivery_resend(delivery_id=delivery.pk, user=lead)

    assert (first, second) == (True, False) and len(queued) == 1
    delivery.refresh_from_db()
    assert delivery.round_start == 6 and delivery.resend_count == 1
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.DELIVERED)
    assert services.delivery_resend(delivery_id=delivery.pk, user=lead) is False


def test_a_delivery_no_worker_picked_up_is_stalled_and_can_be_sent_again(
    api_client, receiver_factory, django_capture_on_commit_callbacks
):
    webhook_set(api_client.client, receiver_factory(200).url)
    with django_capture_on_commit_callbacks(execute=False):
        delivery = services.delivery_create(reply_id=_approved(api_client.client).pk)
    lead = factories.lead()
    # Due just now: a worker may still be on its way, so it is not offered again.
    assert services.delivery_resend(delivery_id=delivery.pk, user=lead) is False

    # The broker lost the task: it was due ten minutes ago.
    late = timezone.now() - timedelta(minutes=10)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=late)

    assert services.delivery_resend(delivery_id=delivery.pk, user=lead) is True
