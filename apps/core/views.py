from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.core.permissions import login_required
from apps.core.selectors import dashboard_summary


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html", {"summary": dashboard_summary(user=request.user)})


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers: answers only whether the database is reachable."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
