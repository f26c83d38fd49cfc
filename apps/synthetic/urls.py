from django.urls import path

from apps.synthetic import views

app_name = "synthetic"
urlpatterns = [
    path("runs/", views.runs, name="runs"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run_cancel"),
    path("runs/<int:pk>/resume/", views.run_resume, name="run_resume"),
    path("queue/", views.queue, name="queue"),
    path("review/next/", views.review_next, name="review_next"),
    path("review/<int:pk>/", views.review, name="review"),
    path("review/<int:pk>/act/", views.review_act, name="review_act"),
    path("exports/", views.exports, name="exports"),
    path("exports/preview/", views.export_preview, name="export_preview"),
    path("exports/<int:pk>/<str:part>/", views.export_download, name="export_download"),
]
