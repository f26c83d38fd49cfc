from django.urls import path

from apps.oversight import views

app_name = "oversight"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("log/", views.log_list, name="log"),
    path("log/<int:pk>/", views.entry_detail, name="entry"),
    path("log/export.<str:fmt>", views.log_export, name="export"),
    path(f"plotly-{views.PLOTLY_VERSION}.min.js", views.plotly_js, name="plotly_js"),
]
