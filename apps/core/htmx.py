from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseStopPolling


def page_render(
    request: HttpRequest, template: str, partial: str, context: dict, *, still_polling: bool = True
) -> HttpResponse:
    """The whole page for a normal request, the named partial for htmx. A polled partial whose
    work has finished is answered with 286, so htmx swaps in the final state and stops."""
    name = f"{template}#{partial}" if request.htmx else template
    response = render(request, name, context)
    patch_vary_headers(response, ["HX-Request"])
    if request.htmx and not still_polling:
        response.status_code = HttpResponseStopPolling.status_code
    return response
