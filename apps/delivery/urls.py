from django.urls import path

from apps.delivery import views

app_name = "delivery"
urlpatterns = [
    path("", views.delivery_list, name="list"),
    path("<int:pk>/resend/", views.delivery_resend, name="resend"),
]
