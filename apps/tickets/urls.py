from django.urls import path

from apps.tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.ticket_list, name="list"),
    path("new/", views.ticket_new, name="new"),
    path("import/", views.ticket_import, name="import"),
    path("<int:pk>/", views.ticket_detail, name="detail"),
]
