"""Ingestion through the real broker and a real worker process."""

import datetime as dt
import os
import signal
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.knowledge import services, tasks
from apps.knowledge.models import FINISHED_STATUSES, Document, EvalRun, IngestItem, IngestJob
from tests import factories
from tests.conftest import SHARED_DATA, worker_start
from tests.knowledge import samples

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _wait(predicate, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise TimeoutError("condition not reached")


def _job_done(job_id):
    return lambda: IngestJob.objects.get(pk=job_id).status in FINISHED_STATUSES


def test_an_upload_is_ingested_by_the_worker_while_the_page_polls(client, celery_worker):
    client.force_login(factories.lead())
    files = [
        SimpleUploadedFile("sync.md", samples.MARKDOWN),
        SimpleUploadedFile("empty.txt", b""),
        SimpleUploadedFile("bundle.zip", samples.zip_of({"kb/history.txt": samples.TEXT})),
    ]
    response = client.post(reverse("knowledge:upload"), {"files": files})
    job = IngestJob.objects.get()
    assert response["Location"] == reverse("knowledge:job_detail", args=[job.pk])
    _wait(_job_done(job.pk))
    page = client.get(response["Location"], headers={"HX-Request": "true"})
    assert page.status_code == 286
    assert dict(job.items.values_list("name", "status")) == {
        "sync.md": "done",
        "empty.txt": "failed",
        "bundle.zip/kb/history.txt": "done",  # unpacked by the worker, not the web process
    }
    assert IngestJob.objects.get(pk=job.pk).status == IngestJob.Status.PARTIAL
    assert Document.objects.get(external_id="sync.md").chunk_count > 0


def test_an_evaluation_started_in_the_browser_runs_on_the_worker(client, celery_worker):
    tasks_file = SimpleUploadedFile(
        "q.jsonl", b'{"question": "How long is version history kept?", "gold_doc_id": "h.txt"}'
    )
    from tests.knowledge.helpers import ingest

    ingest({"h.txt": samples.TEXT})
    client.force_login(factories.lead())
    client.post(
        reverse("knowledge:eval_list"),
        {"name": "smoke", "queries": tasks_file, "mode": "hybrid", "ks": "1,5"},
    )
    _wait(lambda: EvalRun.objects.get().status == EvalRun.Status.DONE, timeout=120)
    assert EvalRun.objects.get().results["overall"]["hit@1"] == 1.0


def test_a_worker_killed_mid_job_leaves_no_partial_document_and_the_job_resumes(
    client, celery_worker, tmp_path
):
    commands = sorted((SHARED_DATA / "redis-docs" / "commands").glob("*.md"))[:40]
    uploads = [
        services.UploadedFile(name=p.name, data=p.read_bytes(), external_id=p.name)
        for p in commands
    ]
    job = services.ingest_job_create(files=uploads, source="test")
    doomed = worker_start(
        connection.settings_dict["NAME"], tmp_path / "doomed.log", queues="doomed"
    )
    try:
        tasks.ingest_job_run.apply_async(args=[job.pk], queue="doomed")
        _wait(lambda: job.items.filter(status=IngestItem.Status.DONE).count() >= 3)
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    finished = job.items.exclude(status__in=["pending", "running"]).count()
    assert 3 <= finished < len(uploads)
    for document in Document.objects.all():
        assert document.chunks.count() == document.chunk_count  # never half a document
    # The dead worker's heartbeat goes stale (as it would after INGEST_STALE_SECONDS).
    IngestJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(minutes=10)
    )
    client.force_login(factories.lead())
    client.post(reverse("knowledge:job_resume", args=[job.pk]))
    _wait(_job_done(job.pk), timeout=300)
    # An item whose document was stored just before the kill is found unchanged: "skipped";
    # the folder's _index.md holds front matter only: "no_content".
    finished = ["done", "skipped", "no_content", "failed"]
    assert job.items.exclude(status__in=finished).count() == 0
    assert Document.objects.count() == job.items.filter(status__in=["done", "skipped"]).count()
    assert Document.objects.values("external_id").distinct().count() == Document.objects.count()
