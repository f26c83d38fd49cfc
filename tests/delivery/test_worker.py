"""The whole way out, through the real broker and a real worker process: a reviewer and then a
lead approve a reply, the worker POSTs the signed webhook to a server on loopback, and the
client can fetch the same reply over the API."""

import hashlib
import hmac
import json
import time

import pytest

from apps.delivery.models import Delivery
from apps.drafts import services as drafts_services
from apps.drafts.models import Reply
from tests import factories
from tests.delivery.conftest import SECRET, reply_for, ticket_for, webhook_set

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _wait(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError("condition not reached")


def test_a_reply_approved_by_reviewer_and_lead_reaches_the_webhook_through_the_worker(
    client, celery_worker, api_client, receiver_factory
):
    receiver = receiver_factory(200)
    webhook_set(api_client.client, receiver.url)
    reply = reply_for(ticket_for(api_client.client), stage=Reply.Stage.REVIEW)

    reply = drafts_services.reply_approve(reply=reply, user=factories.reviewer(), version=1)
    assert reply.stage == Reply.Stage.LEAD and not Delivery.objects.exists()
    reply = drafts_services.reply_approve(reply=reply, user=factories.lead(), version=reply.version)
    assert reply.stage == Reply.Stage.APPROVED

    _wait(lambda: receiver.requests)
    _wait(lambda: Delivery.objects.get().status == Delivery.Status.DELIVERED)
    [request] = receiver.requests
    signature = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Reviewdesk-Signature"] == f"sha256={signature}"
    delivery = Delivery.objects.get()
    assert request.headers["X-Reviewdesk-Delivery"] == str(delivery.uid)
    assert delivery.attempts.get().status_code == 200

    fetched = client.get(
        f"/api/tickets/{reply.ticket_id}/reply",
        headers={"Authorization": f"Bearer {api_client.token}"},
    )
    assert fetched.status_code == 200
    assert json.loads(request.body) == fetched.json()
