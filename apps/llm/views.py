from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.core.permissions import lead_required
from apps.llm import selectors


@lead_required
@require_GET
def telemetry(request: HttpRequest) -> HttpResponse:
    needs_human = request.GET.get("needs_human") == "1"
    context = {
        "rows": selectors.telemetry_by_purpose(),
        "calls": selectors.calls_recent(needs_human=True if needs_human else None),
        "needs_human": needs_human,
    }
    return render(request, "llm/telemetry.html", context)
