from django.urls import path

from apps.drafts import views

app_name = "drafts"
urlpatterns = [
    path("tickets/<int:pk>/drafts/", views.drafts_section, name="section"),
    path("tickets/<int:pk>/drafts/new/", views.draft_regenerate, name="regenerate"),
    path("replies/", views.reply_queue, name="queue"),
    path("replies/next/", views.reply_next, name="next"),
    path("replies/<int:pk>/", views.reply_review, name="review"),
    path("replies/<int:pk>/check/", views.reply_check, name="check"),
    path("replies/<int:pk>/release/", views.reply_release, name="release"),
    path("replies/<int:pk>/act/", views.reply_act, name="act"),
    path("replies/<int:pk>/redraft/", views.reply_regenerate, name="redraft"),
    path("answers/evaluations/", views.eval_compare, name="eval_compare"),
    path("oversight/drift/", views.drift_list, name="drift"),
]
