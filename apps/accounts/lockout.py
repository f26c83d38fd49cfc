"""Login rate limiting (django-axes): which address a login attempt comes from, and the page a
locked-out username+address gets instead of the login form's answer."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def client_ip_address(request: HttpRequest) -> str:
    """The connection's address or, behind TRUSTED_PROXY_COUNT proxies, the address the
    outermost proxy saw. Entries further left in X-Forwarded-For were written by the client
    and are never used; a malformed entry falls back to the connection's address."""
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if not count:
        return remote
    forwarded = [
        entry.strip()
        for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if entry.strip()
    ]
    if len(forwarded) < count:
        return remote
    try:
        return str(ipaddress.ip_address(forwarded[-count]))
    except ValueError:
        return remote


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """429 with the log-in page's look and a sentence saying when to try again.

    Every attempt during the lock is recorded as a failure and restarts the wait
    (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so the lock lifts one cool-off after now.
    """
    cool_off = settings.AXES_COOLOFF_TIME
    context = {
        "minutes": round(cool_off.total_seconds() / 60),
        "retry_at": timezone.localtime() + cool_off,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
