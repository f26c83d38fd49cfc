from django.contrib import admin
from django.urls import include, path

import apps.delivery.api  # noqa: F401  (adds GET /api/tickets/<id>/reply before api.urls)
from apps.tickets.api import api

admin.site.site_header = "reviewdesk administration"
admin.site.site_title = "reviewdesk admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("apps.accounts.urls")),
    path("knowledge/", include("apps.knowledge.urls")),
    path("llm/", include("apps.llm.urls")),
    path("qa/", include("apps.synthetic.urls")),
    path("oversight/", include("apps.oversight.urls")),
    path("tickets/", include("apps.tickets.urls")),
    path("deliveries/", include("apps.delivery.urls")),
    path("", include("apps.drafts.urls")),
    path("api/", api.urls),
    path("", include("apps.core.urls")),
    path("", include("apps.home.urls")),
]
