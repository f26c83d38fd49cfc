from django.conf import settings
from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.template.loader import render_to_string


class HtmxMessagesMiddleware:
    """Append pending Django messages to htmx responses as an out-of-band swap, so a message
    raised while handling a fragment shows up in the page's message area (and an htmx action
    with none empties it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or not _swappable_html(response):
            return response
        messages = list(get_messages(request))
        # An action (a POST) without a message of its own clears the last one, so "Pair 3:
        # approved." does not stand over the next pairs; a poll (a GET) leaves it.
        if messages or request.method == "POST":
            fragment = render_to_string(
                "base.html#messages", {"messages": messages, "oob": True}, request=request
            )
            response.content += fragment.encode()
        return response


def _swappable_html(response) -> bool:
    return (
        response.status_code in (200, 286)  # 286: htmx "stop polling"
        and not response.streaming
        and response.get("Content-Type", "").startswith("text/html")
        and "HX-Redirect" not in response
        and "HX-Refresh" not in response
    )


class RequestSizeLimitMiddleware:
    """Refuse a request whose declared body is larger than any upload may be, before anything
    reads it: Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE) skips file uploads, so a 5 GB
    POST would otherwise be streamed to disk before the form says no. A body sent without a
    Content-Length is still bounded by the upload form's checks."""

    # Room for the multipart framing and the other form fields around the files.
    MARGIN_BYTES = 1024 * 1024

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        limit = settings.UPLOAD_MAX_BYTES + self.MARGIN_BYTES
        if declared.isdigit() and int(declared) > limit:
            return request_too_large(limit=limit, declared=int(declared))
        return self.get_response(request)


def request_too_large(*, limit: int, declared: int) -> HttpResponse:
    message = (
        f"This upload is {declared / 1024 / 1024:.1f} MB; reviewdesk accepts at most "
        f"{settings.UPLOAD_MAX_BYTES / 1024 / 1024:.0f} MB per upload. Split it into smaller "
        "uploads."
    )
    response = HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
    # The connection still carries the unread body: close it rather than reuse it.
    response["Connection"] = "close"
    return response
