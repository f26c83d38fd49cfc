from django.urls import path

from apps.knowledge import views

app_name = "knowledge"
urlpatterns = [
    path("documents/", views.document_list, name="document_list"),
    path("documents/<int:pk>/", views.document_detail, name="document_detail"),
    path("documents/<int:pk>/reingest/", views.document_reingest, name="document_reingest"),
    path("documents/<int:pk>/delete/", views.document_delete, name="document_delete"),
    path("chunks/<int:pk>/", views.chunk_detail, name="chunk_detail"),
    path("ingest/", views.upload, name="upload"),
    path("ingest/<int:pk>/", views.job_detail, name="job_detail"),
    path("ingest/<int:pk>/retry/", views.job_retry, name="job_retry"),
    path("ingest/<int:pk>/resume/", views.job_resume, name="job_resume"),
    path("search/", views.search, name="search"),
    path("evaluation/", views.eval_list, name="eval_list"),
    path("evaluation/<int:pk>/", views.eval_detail, name="eval_detail"),
]
