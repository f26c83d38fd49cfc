"""Ingest jobs: one worker at a time, a stopped worker is noticed and taken over, the final
status tells what happened, and the ingest command syncs exactly the folder it was given."""

import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.knowledge import services
from apps.knowledge.models import Document, IngestItem, IngestJob
from tests import factories
from tests.knowledge import samples
from tests.knowledge.helpers import ingest, statuses


def _create(files: dict[str, bytes]) -> IngestJob:
    uploads = [services.UploadedFile(name=n, data=d, external_id=n) for n, d in files.items()]
    return services.ingest_job_create(files=uploads, source="test")


def _variants(n: int) -> dict[str, bytes]:
    return {f"doc{i}.txt": samples.TEXT + f"\n\nVariant {i}.".encode() for i in range(n)}


@pytest.fixture
def lead_client(client):
    client.force_login(factories.lead())
    return client


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_of_one_job_process_each_item_once():
    job = _create(_variants(4))
    processed: list[int] = []
    second_run = threading.Event()

    def run_again():
        try:
            services.ingest_job_run(job_id=job.pk, progress=lambda item: processed.append(item.pk))
        finally:
            connection.close()  # this thread's own connection

    def progress(item):
        processed.append(item.pk)
        # The first run has stored one document and holds the other three, claimed, for the
        # embedding batch: a second run (another worker, own connection) starts right now.
        if not second_run.is_set():
            second_run.set()
            other = threading.Thread(target=run_again)
            other.start()
            other.join(120)

    services.ingest_job_run(job_id=job.pk, progress=progress)
    assert second_run.is_set()
    assert sorted(processed) == sorted(job.items.values_list("id", flat=True))
    assert set(statuses(job).values()) == {IngestItem.Status.DONE}
    assert Document.objects.count() == 4


@pytest.mark.django_db
def test_a_run_takes_over_a_running_job_only_once_its_heartbeat_is_stale():
    job = _create(_variants(2))
    first = job.items.order_by("id").first()
    IngestItem.objects.filter(pk=first.pk).update(status=IngestItem.Status.RUNNING)
    IngestJob.objects.filter(pk=job.pk).update(
        status=IngestJob.Status.RUNNING, heartbeat_at=timezone.now()
    )
    services.ingest_job_run(job_id=job.pk)  # a redelivered task while the worker is alive
    assert statuses(job) == {"doc0.txt": "running", "doc1.txt": "pending"}
    IngestJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(minutes=6)
    )
    services.ingest_job_run(job_id=job.pk)
    assert statuses(job) == {"doc0.txt": "done", "doc1.txt": "done"}
    assert IngestJob.objects.get(pk=job.pk).status == IngestJob.Status.DONE


@pytest.mark.django_db
def test_a_job_whose_worker_stopped_is_shown_as_stale_and_can_be_resumed(
    lead_client, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr("apps.knowledge.tasks.ingest_job_run.delay", queued.append)
    job = _create(_variants(3))
    done, running, _ = job.items.order_by("id")
    IngestItem.objects.filter(pk=done.pk).update(status=IngestItem.Status.DONE)
    IngestItem.objects.filter(pk=running.pk).update(status=IngestItem.Status.RUNNING)
    last_beat = timezone.now() - dt.timedelta(minutes=7)
    IngestJob.objects.filter(pk=job.pk).update(
        status=IngestJob.Status.RUNNING, heartbeat_at=last_beat
    )
    url = reverse("knowledge:job_detail", args=[job.pk])
    page = lead_client.get(url).content.decode()
    at = timezone.localtime(last_beat).strftime("%H:%M")
    assert f"The worker stopped responding at {at}; 2 files not processed" in page
    assert "Resume" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = lead_client.post(reverse("knowledge:job_resume", args=[job.pk]))
    assert response.status_code == 302 and queued == [job.pk]
    job.refresh_from_db()
    assert job.status == IngestJob.Status.QUEUED
    assert statuses(job) == {"doc0.txt": "done", "doc1.txt": "pending", "doc2.txt": "pending"}
    services.ingest_job_run(job_id=job.pk)
    assert statuses(job) == {"doc0.txt": "done", "doc1.txt": "done", "doc2.txt": "done"}


@pytest.mark.django_db
def test_resuming_a_job_that_is_still_running_is_refused_with_a_message(
    lead_client, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr("apps.knowledge.tasks.ingest_job_run.delay", queued.append)
    job = _create(_variants(2))
    IngestItem.objects.filter(job=job, external_id="doc0.txt").update(
        status=IngestItem.Status.RUNNING
    )
    IngestJob.objects.filter(pk=job.pk).update(
        status=IngestJob.Status.RUNNING, heartbeat_at=timezone.now()
    )
    page = lead_client.get(reverse("knowledge:job_detail", args=[job.pk])).content.decode()
    assert "stopped responding" not in page and "Resume" not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = lead_client.post(reverse("knowledge:job_resume", args=[job.pk]), follow=True)
    assert queued == []
    assert "still running" in response.content.decode()
    assert IngestJob.objects.get(pk=job.pk).status == IngestJob.Status.RUNNING
    assert statuses(job)["doc0.txt"] == "running"


@pytest.mark.django_db
def test_a_finished_job_says_done_done_with_failures_or_failed():
    done = IngestJob.objects.get(pk=ingest({"a.txt": samples.TEXT}).pk)
    mixed = IngestJob.objects.get(pk=ingest({"b.txt": samples.TEXT, "empty.md": b""}).pk)
    failed = IngestJob.objects.get(pk=ingest({"empty.md": b"", "image.png": b"\x89PNG"}).pk)
    assert done.status == IngestJob.Status.DONE
    assert mixed.status == IngestJob.Status.PARTIAL
    assert mixed.get_status_display() == "Done with failures"
    assert failed.status == IngestJob.Status.FAILED


@pytest.mark.django_db
def test_retry_is_offered_only_for_failures_a_retry_can_fix(
    lead_client, django_capture_on_commit_callbacks, monkeypatch, settings
):
    queued = []
    monkeypatch.setattr("apps.knowledge.tasks.ingest_job_run.delay", queued.append)
    settings.UPLOAD_MAX_FILE_BYTES = 4096
    bad = {
        "empty.md": b"",
        "image.png": b"\x89PNG",
        "huge.txt": b"x" * 8192,
        "binary.txt": b"\x00\x01",
        "paths.zip": samples.zip_of({"../evil.txt": samples.TEXT}),
    }
    job = ingest(bad)
    url = reverse("knowledge:job_detail", args=[job.pk])
    assert "Retry" not in lead_client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        lead_client.post(reverse("knowledge:job_retry", args=[job.pk]))
    assert queued == [] and job.items.filter(status="pending").count() == 0

    # A failure outside the file (the embedding service was down) keeps the bytes for a retry.
    IngestItem.objects.create(
        job=job,
        name="later.txt",
        external_id="later.txt",
        content=samples.TEXT,
        status=IngestItem.Status.FAILED,
        error="Embedding failed: connection refused",
    )
    assert "Retry 1 failed file" in lead_client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        lead_client.post(reverse("knowledge:job_retry", args=[job.pk]))
    assert queued == [job.pk]
    services.ingest_job_run(job_id=job.pk)
    assert statuses(job)["later.txt"] == "done"


@pytest.mark.django_db
def test_retrying_a_job_that_is_still_running_changes_nothing(monkeypatch):
    job = _create(_variants(1))
    IngestJob.objects.filter(pk=job.pk).update(status=IngestJob.Status.RUNNING)
    IngestItem.objects.create(
        job=job, name="x.txt", external_id="x.txt", content=b"x", status="failed", error="e"
    )
    assert services.ingest_job_retry_failed(job=job) == 0
    assert IngestJob.objects.get(pk=job.pk).status == IngestJob.Status.RUNNING


def _folder(root, files: dict[str, bytes]):
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


@pytest.mark.django_db
def test_delete_missing_deletes_only_documents_from_the_same_folder(tmp_path):
    first = _folder(
        tmp_path / "a" / "docs",
        {
            "keep.txt": samples.TEXT,
            "gone.txt": samples.TEXT + b"\n\nGone soon.",
            "records.jsonl": samples.jsonl([{"id": "kb-1", "text": "Legal holds."}]),
            "bundle.zip": samples.zip_of({"inner.txt": samples.TEXT + b"\n\nZipped."}),
        },
    )
    other = _folder(tmp_path / "b" / "docs", {"elsewhere.txt": samples.TEXT + b"\n\nB."})
    call_command("ingest", str(first), stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("ingest", str(other), stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Document.objects.count() == 5

    (first / "gone.txt").unlink()
    call_command("ingest", str(first), "--delete-missing", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert set(Document.objects.values_list("external_id", flat=True)) == {
        "docs/keep.txt",
        "kb-1",
        "docs/bundle.zip/inner.txt",
        "docs/elsewhere.txt",
    }
    assert Document.objects.get(external_id="docs/keep.txt").source_root == str(first.resolve())


@pytest.mark.django_db
def test_delete_missing_with_async_is_refused(tmp_path):
    folder = _folder(tmp_path / "docs", {"a.txt": samples.TEXT})
    with pytest.raises(CommandError, match="--delete-missing"):
        call_command("ingest", str(folder), "--async", "--delete-missing")
    assert not IngestJob.objects.exists()
