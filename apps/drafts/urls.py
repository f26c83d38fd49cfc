from django.urls import path

from apps.drafts import views

app_name = "drafts"
urlpatterns = [
    path("tickets/<int:pk>/drafts/", views.drafts_section, name="section"),
    path("tickets/<int:pk>/drafts/new/", views.draft_regenerate, name="regenerate"),
    path("answers/evaluations/", views.eval_compare, name="eval_compare"),
    path("oversight/drift/", views.drift_list, name="drift"),
]
