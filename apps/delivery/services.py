"""Webhooks of approved replies. A delivery is created when a reply is approved (one per
event and client), then POSTed by Celery tasks, one task per attempt. Every attempt is logged;
a delivery ends delivered (2xx) or failed after WEBHOOK_MAX_ATTEMPTS, where leads see it and
can send it again. Nothing here runs an HTTP request inside a database transaction."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from apps.delivery import selectors
from apps.delivery.models import Delivery, DeliveryAttempt
from apps.drafts.models import Reply
from apps.tickets.models import Ticket

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Reviewdesk-Signature"
EVENT_HEADER = "X-Reviewdesk-Event"
DELIVERY_HEADER = "X-Reviewdesk-Delivery"
ATTEMPT_HEADER = "X-Reviewdesk-Attempt"
USER_AGENT = "reviewdesk-webhook/1"
# How much of a refusing receiver's answer is kept with the attempt: enough to read its
# error message, not a whole HTML error page.
ERROR_BODY_CHARS = 300


def signature_for(*, secret: str, body: bytes) -> str:
    """The X-Reviewdesk-Signature value: HMAC-SHA256 of the exact body bytes, hex."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def body_encode(*, payload: dict) -> str:
    # ASCII-only JSON: the bytes a receiver hashes cannot differ by a text encoding step.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True)


def backoff_seconds(*, failures: int) -> int:
    """The wait after the n-th failed attempt of a round: base, 2 * base, 4 * base…"""
    return settings.WEBHOOK_BACKOFF_SECONDS * 2 ** max(failures - 1, 0)


# --- created on approval --------------------------------------------------------------------


def delivery_on_reply_approved(reply_id: int) -> None:
    """The listener drafts calls (on commit) when a reply reaches approved."""
    delivery_create(reply_id=reply_id)


def delivery_create(*, reply_id: int) -> Delivery | None:
    """The webhook delivery of an approved reply to its ticket's API client, queued; None when
    the client has no webhook (it fetches replies over the API), is revoked (its access ended:
    no customer text goes to it), or the reply is not approved. Calling it again for the same
    reply returns the existing delivery and queues nothing."""
    from apps.drafts import selectors as drafts_selectors

    reply = (
        Reply.objects.select_related("ticket__api_client", "draft", "reviewed_by", "approved_by")
        .filter(pk=reply_id, stage=Reply.Stage.APPROVED)
        .first()
    )
    if reply is None:
        return None
    client = reply.ticket.api_client
    if client is None or not client.webhook_url or client.is_revoked:
        return None
    body = body_encode(payload=drafts_selectors.reply_payload(reply=reply))
    with transaction.atomic():
        delivery, created = Delivery.objects.get_or_create(
            reply=reply,
            api_client=client,
            event=Delivery.Event.REPLY_APPROVED,
            defaults={
                "ticket_id": reply.ticket_id,
                "body": body,
                "next_attempt_at": timezone.now(),
            },
        )
        if created:
            _queue_on_commit(delivery_id=delivery.pk, number=1)
    return delivery


def _queue_on_commit(*, delivery_id: int, number: int, countdown: int = 0) -> None:
    from apps.delivery.tasks import delivery_send

    def queue() -> None:
        try:
            delivery_send.apply_async((delivery_id, number), countdown=countdown, queue="default")
        except (OperationalError, OSError):
            # The broker is down: the delivery stays pending in the database, is shown as
            # stalled once its time has passed, and a lead sends it again. The approval that
            # led here is committed and must not turn into an error page.
            logger.exception("Could not queue attempt %s of delivery %s", number, delivery_id)

    transaction.on_commit(queue)


# --- one attempt ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    started_at: datetime
    duration_ms: float
    status_code: int | None = None
    error: str = ""
    # Retrying cannot help (no URL any more, client revoked): fail now, a lead decides.
    final: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def delivery_claim(*, delivery_id: int, number: int) -> bool:
    """Take attempt `number` of the delivery for this worker. One conditional UPDATE: of two
    workers holding the same task (a redelivered message, a resend racing a retry), exactly
    one sees the row still pending at attempt number-1, so an attempt is never sent twice."""
    return bool(
        Delivery.objects.filter(
            pk=delivery_id, status=Delivery.Status.PENDING, attempt_count=number - 1
        ).update(status=Delivery.Status.SENDING, attempt_count=number, claimed_at=timezone.now())
    )


def delivery_attempt(*, delivery_id: int, number: int) -> DeliveryAttempt | None:
    """Make attempt `number` of the delivery if it is still due: claim it, POST, log it, and
    decide what comes next. None when another worker has it or it is no longer pending."""
    if not delivery_claim(delivery_id=delivery_id, number=number):
        logger.info("Attempt %s of delivery %s is not due; skipped", number, delivery_id)
        return None
    delivery = Delivery.objects.select_related("api_client").get(pk=delivery_id)
    client = delivery.api_client
    # The client's URL and secret as they are now, not as they were on approval: an admin who
    # fixed a wrong URL or rotated the secret expects the next attempt to use it.
    if client.is_revoked:
        outcome = _refused(f"The API client “{client.name}” has been revoked.")
    elif not client.webhook_url:
        outcome = _refused(f"The API client “{client.name}” has no webhook URL any more.")
    else:
        outcome = webhook_post(
            url=client.webhook_url,
            body=delivery.body.encode("utf-8"),
            headers={
                EVENT_HEADER: delivery.event,
                DELIVERY_HEADER: str(delivery.uid),
                ATTEMPT_HEADER: str(number),
            },
            secret=client.webhook_secret,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        )
    return delivery_attempt_record(
        delivery=delivery, number=number, url=client.webhook_url, outcome=outcome
    )


def _refused(reason: str) -> Outcome:
    return Outcome(started_at=timezone.now(), duration_ms=0, error=reason, final=True)


@transaction.atomic
def delivery_attempt_record(
    *, delivery: Delivery, number: int, url: str, outcome: Outcome
) -> DeliveryAttempt:
    """Log the attempt and move the delivery on: delivered, retried after a backoff, or failed
    when the round's attempts are used up. Both in one transaction."""
    attempt = DeliveryAttempt.objects.create(
        delivery=delivery,
        number=number,
        url=url[:2000],
        started_at=outcome.started_at,
        duration_ms=outcome.duration_ms,
        status_code=outcome.status_code,
        ok=outcome.ok,
        error=outcome.error,
    )
    now = timezone.now()
    fields: dict = {"last_status_code": outcome.status_code, "last_error": outcome.error}
    failures = number - delivery.round_start
    delay = None
    if outcome.ok:
        fields.update(status=Delivery.Status.DELIVERED, delivered_at=now, next_attempt_at=None)
    elif outcome.final or failures >= settings.WEBHOOK_MAX_ATTEMPTS:
        fields.update(status=Delivery.Status.FAILED, failed_at=now, next_attempt_at=None)
    else:
        delay = backoff_seconds(failures=failures)
        fields.update(
            status=Delivery.Status.PENDING, next_attempt_at=now + timedelta(seconds=delay)
        )
    # Only while this attempt still holds the delivery: a lead who sent a stalled delivery
    # again meanwhile has started a new round, which this late answer must not overwrite.
    moved = Delivery.objects.filter(
        pk=delivery.pk, status=Delivery.Status.SENDING, attempt_count=number
    ).update(**fields, updated_at=now)
    if moved and delay is not None:
        _queue_on_commit(delivery_id=delivery.pk, number=number + 1, countdown=delay)
    if moved and outcome.ok:
        # The helpdesk has the reply: the ticket reads "Sent" from now on.
        Ticket.objects.filter(pk=delivery.ticket_id, status=Ticket.Status.APPROVED).update(
            status=Ticket.Status.SENT, updated_at=now
        )
    return attempt


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect answer is a failed attempt: following it would POST a signed customer reply
    to an address nobody configured (and urllib would turn the POST into a GET)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def webhook_post(
    *, url: str, body: bytes, headers: dict[str, str], secret: str, timeout: float
) -> Outcome:
    """POST the signed body once. Never raises: every way of not getting a 2xx answer is an
    outcome with its reason, so it is logged and retried like any other failure."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            **headers,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature_for(secret=secret, body=body),
        },
    )
    started_at = timezone.now()
    start = time.monotonic()
    status_code, error = None, ""
    try:
        if request.type not in ("http", "https"):
            raise ValueError(f"only http and https URLs are posted to, not {request.type}:")
        with _opener.open(request, timeout=timeout) as response:
            status_code = response.status
            # Read (a little of) the answer so the server sees the exchange through.
            response.read(ERROR_BODY_CHARS)
    except urllib.error.HTTPError as exc:
        status_code = exc.code
        error = f"HTTP {exc.code} {exc.reason}: {_snippet(exc)}".strip().rstrip(":")
    except urllib.error.URLError as exc:
        error = f"Could not connect: {exc.reason}"
    except TimeoutError:
        error = f"No answer within {timeout:g} s."
    except (http.client.HTTPException, OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    return Outcome(
        started_at=started_at,
        duration_ms=(time.monotonic() - start) * 1000,
        status_code=status_code,
        error=error,
    )


def _snippet(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read(ERROR_BODY_CHARS)
    except (OSError, http.client.HTTPException):
        return ""
    return " ".join(raw.decode("utf-8", "replace").split())


# --- a lead sends it again ------------------------------------------------------------------


def delivery_resend(*, delivery_id: int, user) -> bool:
    """Start a new round of attempts for a failed or stalled delivery (same delivery id, same
    body, the client's current URL and secret). False when it is delivered or already on its
    way: one conditional UPDATE, so a double click starts one round."""
    now = timezone.now()
    with transaction.atomic():
        resendable = Q(status=Delivery.Status.FAILED) | selectors.stalled_condition(now=now)
        started = Delivery.objects.filter(resendable, pk=delivery_id).update(
            status=Delivery.Status.PENDING,
            round_start=F("attempt_count"),
            next_attempt_at=now,
            claimed_at=None,
            failed_at=None,
            resend_count=F("resend_count") + 1,
            resent_by=user,
            resent_at=now,
            updated_at=now,
        )
        if not started:
            return False
        made = Delivery.objects.values_list("attempt_count", flat=True).get(pk=delivery_id)
        _queue_on_commit(delivery_id=delivery_id, number=made + 1)
    return True
