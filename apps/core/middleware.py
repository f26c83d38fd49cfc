from django.contrib.messages import get_messages
from django.template.loader import render_to_string


class HtmxMessagesMiddleware:
    """Append pending Django messages to htmx responses as an out-of-band swap, so a message
    raised while handling a fragment shows up in the page's message area."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or not _swappable_html(response):
            return response
        messages = list(get_messages(request))
        if messages:
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
