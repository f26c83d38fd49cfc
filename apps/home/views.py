from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.core.permissions import login_required
from apps.home.selectors import dashboard_summary


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home/home.html", {"summary": dashboard_summary(user=request.user)})
