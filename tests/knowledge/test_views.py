import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.knowledge.models import Chunk, Document, IngestItem, IngestJob
from tests import factories
from tests.knowledge import samples
from tests.knowledge.helpers import ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_client(client):
    client.force_login(factories.lead())
    return client


def test_uploading_creates_a_job_with_one_item_per_file_and_queues_it_on_commit(
    lead_client, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr("apps.knowledge.tasks.ingest_job_run.delay", queued.append)
    files = [
        SimpleUploadedFile("sync.md", samples.MARKDOWN),
        SimpleUploadedFile("bundle.zip", samples.zip_of({"a.txt": samples.TEXT})),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = lead_client.post(reverse("knowledge:upload"), {"files": files})
    job = IngestJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "knowledge:job_detail", args=[job.pk]
    )
    assert queued == [job.pk]
    # The archive is stored as uploaded; the worker unpacks it.
    assert sorted(job.items.values_list("name", flat=True)) == ["bundle.zip", "sync.md"]


def test_an_upload_over_the_total_limit_is_refused_with_a_message(lead_client, settings):
    settings.UPLOAD_MAX_BYTES = 2048
    response = lead_client.post(
        reverse("knowledge:upload"), {"files": [SimpleUploadedFile("big.txt", b"x" * 4096)]}
    )
    assert response.status_code == 200
    assert "the limit is" in response.content.decode()
    assert not IngestJob.objects.exists()


def test_job_progress_polls_while_running_and_stops_when_done(lead_client):
    job = IngestJob.objects.create(status=IngestJob.Status.RUNNING)
    IngestItem.objects.create(
        job=job, name="a.md", external_id="a.md", status=IngestItem.Status.DONE
    )
    IngestItem.objects.create(job=job, name="b.md", external_id="b.md")
    url = reverse("knowledge:job_detail", args=[job.pk])
    running = lead_client.get(url, headers={"HX-Request": "true"})
    body = running.content.decode()
    assert running.status_code == 200 and 'hx-trigger="every 1s"' in body
    assert "1 of 2 files" in body and "<html" not in body
    IngestItem.objects.filter(name="b.md").update(
        status=IngestItem.Status.FAILED, error="The file is empty."
    )
    IngestJob.objects.filter(pk=job.pk).update(status=IngestJob.Status.DONE)
    done = lead_client.get(url, headers={"HX-Request": "true"})
    assert done.status_code == 286  # htmx stops polling
    assert "The file is empty." in done.content.decode()


def test_hit_testing_renders_results_as_a_partial_for_htmx(client, demo_docs):
    client.force_login(factories.reviewer())
    response = client.get(
        reverse("knowledge:search"),
        {"q": "enterprise upload timeout ERR_SYNC_TIMEOUT", "infer": "on"},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "Troubleshooting Skylark Sync Enterprise" in body
    assert "(inferred)" in body
    assert "<mark>ERR_SYNC_TIMEOUT</mark>" in body
    assert "HX-Request" in response["Vary"]


def test_document_text_is_escaped_everywhere_it_is_shown(client):
    ingest({"xss.md": b"# Title\n\nHello <script>alert('pwned')</script> world."})
    client.force_login(factories.reviewer())
    chunk = Chunk.objects.get()
    for url in [
        reverse("knowledge:document_detail", args=[chunk.document_id]),
        reverse("knowledge:chunk_detail", args=[chunk.pk]) + "?terms=hello",
        reverse("knowledge:search") + "?q=hello+script",
    ]:
        body = client.get(url).content.decode()
        assert "<script>alert" not in body
        assert "alert(&#x27;pwned&#x27;)" in body and "&lt;" in body


def test_a_chunk_opens_in_context_with_its_neighbours(client, demo_docs):
    client.force_login(factories.reviewer())
    document = Document.objects.filter(chunk_count__gte=2).first()
    middle = document.chunks.order_by("ordinal")[1]
    body = client.get(reverse("knowledge:chunk_detail", args=[middle.pk])).content.decode()
    assert body.count('class="context-chunk') == min(3, document.chunk_count)
    assert "Previous chunk" in body and "This chunk" in body


def test_leads_can_delete_and_reingest_documents(lead_client, monkeypatch):
    monkeypatch.setattr("apps.knowledge.tasks.ingest_job_run.delay", lambda pk: None)
    ingest({"history.txt": samples.TEXT})
    document = Document.objects.get()
    response = lead_client.post(reverse("knowledge:document_reingest", args=[document.pk]))
    assert response.status_code == 302
    assert IngestJob.objects.filter(source="reingest").count() == 1
    lead_client.post(reverse("knowledge:document_delete", args=[document.pk]))
    assert not Document.objects.exists() and not Chunk.objects.exists()


def test_document_list_filters_by_product_line_and_text(client, demo_docs):
    client.force_login(factories.reviewer())
    body = client.get(
        reverse("knowledge:document_list"), {"product_line": "pro", "q": "trouble"}
    ).content.decode()
    assert "Troubleshooting Skylark Sync Pro" in body
    assert "Troubleshooting Skylark Sync Enterprise" not in body
    assert "1 document" in body
