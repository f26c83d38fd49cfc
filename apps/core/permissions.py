"""The one permission gate for browser views: anonymous users go to login, users without the
permission get 403. Every view states the permission it needs."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect

from apps.accounts.roles import LEAD_SCREENS, REVIEWER_SCREENS


def permission_required(perm: str | None) -> Callable:
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return _to_login(request)
            if perm is not None and not request.user.has_perm(perm):
                raise PermissionDenied(ROLE_NEEDED.get(perm, ""))
            return view(request, *args, **kwargs)

        wrapped.required_permission = perm
        return wrapped

    return decorator


# What the 403 page tells someone sent to a screen their role does not open.
ROLE_NEEDED = {
    LEAD_SCREENS: "This screen is for support leads.",
    REVIEWER_SCREENS: "This screen is for reviewers and support leads.",
}


def _to_login(request: HttpRequest) -> HttpResponse:
    if request.htmx:
        # A swapped-in login form inside a page fragment would be confusing: reload to login.
        login = resolve_url(settings.LOGIN_URL)
        return HttpResponseClientRedirect(f"{login}?next={request.htmx.current_url_abs_path}")
    return redirect_to_login(request.get_full_path())


login_required = permission_required(None)
reviewer_required = permission_required(REVIEWER_SCREENS)
lead_required = permission_required(LEAD_SCREENS)
