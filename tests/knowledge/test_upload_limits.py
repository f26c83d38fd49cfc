"""Uploads are bounded: the web process stores archives as they came, the worker unpacks them
member by member within per-file, per-archive and per-job limits."""

import io
import struct
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.knowledge import services
from apps.knowledge.models import Document, IngestItem, IngestJob
from tests import factories
from tests.knowledge import samples
from tests.knowledge.helpers import statuses

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _understating_bomb(name: str, real_size: int, declared_size: int) -> bytes:
    """A one-member zip whose headers claim `declared_size` bytes for a member that really
    expands to `real_size` (the classic zip bomb trick)."""
    data = bytearray(_zip({name: bytes(real_size)}))
    struct.pack_into("<I", data, 22, declared_size)  # local file header
    struct.pack_into("<I", data, data.rfind(b"PK\x01\x02") + 24, declared_size)  # directory
    return bytes(data)


def _create(files: dict[str, bytes]) -> IngestJob:
    uploads = [services.UploadedFile(name=n, data=d, external_id=n) for n, d in files.items()]
    return services.ingest_job_create(files=uploads, source="test")


def _errors(job: IngestJob) -> dict[str, str]:
    return dict(job.items.filter(status=IngestItem.Status.FAILED).values_list("name", "error"))


def test_an_uploaded_zip_is_stored_whole_and_unpacked_by_the_worker_one_item_per_member():
    archive = samples.zip_of({"pro/a.md": samples.MARKDOWN, "pro/b.txt": samples.TEXT})
    job = _create({"bundle.zip": archive})
    stored = job.items.get()
    assert (stored.name, bytes(stored.content)) == ("bundle.zip", archive)
    services.ingest_job_run(job_id=job.pk)
    assert statuses(job) == {"bundle.zip/pro/a.md": "done", "bundle.zip/pro/b.txt": "done"}
    assert Document.objects.count() == 2


def test_a_zip_bomb_member_that_understates_its_size_fails_alone_without_expanding(settings):
    settings.UPLOAD_MAX_FILE_BYTES = 1 * MB
    bomb = _understating_bomb("bomb.txt", real_size=64 * MB, declared_size=1000)
    job = _create({"bomb.zip": bomb, "sync.md": samples.MARKDOWN})
    assert sorted(job.items.values_list("name", flat=True)) == ["bomb.zip", "sync.md"]
    services.ingest_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert statuses(job) == {"bomb.zip/bomb.txt": "failed", "sync.md": "done"}
    assert "damaged" in _errors(job)["bomb.zip/bomb.txt"]
    assert job.expanded_bytes < 1 * MB  # stopped at what the header declared, not 64 MB
    assert job.status == IngestJob.Status.PARTIAL


def test_a_member_that_honestly_declares_a_huge_size_is_refused_unread(settings):
    settings.UPLOAD_MAX_FILE_BYTES = 1 * MB
    job = _create({"big.zip": _zip({"huge.txt": bytes(32 * MB), "ok.txt": samples.TEXT})})
    assert job.items.get().name == "big.zip"
    services.ingest_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert statuses(job) == {"big.zip/huge.txt": "failed", "big.zip/ok.txt": "done"}
    assert "the limit is 1.0 MB" in _errors(job)["big.zip/huge.txt"]
    assert job.expanded_bytes == len(samples.TEXT)


def test_five_hundred_small_bombs_share_one_budget_and_the_job_finishes(settings):
    settings.UPLOAD_MAX_BYTES = 1 * MB
    bomb = _zip({"zeros.txt": bytes(64 * 1024)})  # ~100 bytes on disk, 64 KB expanded
    job = _create({"sync.md": samples.MARKDOWN} | {f"b{i:03}.zip": bomb for i in range(500)})
    assert job.items.count() == 501
    services.ingest_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == IngestJob.Status.PARTIAL and job.expanded_bytes <= 1 * MB
    errors = _errors(job)
    refused = [name for name, error in errors.items() if "limit per upload" in error]
    # 16 archives fit the 1 MB budget; the other 484 are refused whole, one row each.
    assert len(refused) == 484 and refused[0] == "b016.zip"
    assert "binary" in errors["b000.zip/zeros.txt"]
    assert statuses(job)["sync.md"] == "done"
    assert not job.items.filter(status__in=["pending", "running"]).exists()


def test_a_zip_with_a_hundred_thousand_members_is_capped_with_one_message(settings):
    settings.UPLOAD_MAX_ARCHIVE_MEMBERS = 100
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(100_000):
            archive.writestr(f"notes/{i:06}.txt", b"")
    job = _create({"many.zip": buffer.getvalue()})
    services.ingest_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.items.count() == 101
    capped = job.items.get(name="many.zip")
    assert capped.status == IngestItem.Status.FAILED
    assert "100,000 files" in capped.error and "first 100" in capped.error
    assert job.items.filter(error="The file is empty.").count() == 100
    assert job.status == IngestJob.Status.FAILED


def test_a_zip_inside_a_zip_is_refused_with_a_message():
    inner = samples.zip_of({"deep.txt": samples.TEXT})
    job = _create({"outer.zip": samples.zip_of({"inner.zip": inner, "a.txt": samples.TEXT})})
    services.ingest_job_run(job_id=job.pk)
    assert statuses(job) == {"outer.zip/inner.zip": "failed", "outer.zip/a.txt": "done"}
    assert "zip inside a zip" in _errors(job)["outer.zip/inner.zip"]
    assert not Document.objects.filter(external_id__contains="deep").exists()


def test_a_member_whose_path_escapes_the_archive_is_refused_and_others_are_normalised():
    archive = samples.zip_of(
        {
            "../../evil.txt": samples.TEXT,
            "/etc/evil.txt": samples.TEXT,
            "docs/../../evil.txt": samples.TEXT,
            "docs/./sub/../ok.txt": samples.TEXT,
        }
    )
    job = _create({"paths.zip": archive})
    services.ingest_job_run(job_id=job.pk)
    assert statuses(job)["paths.zip/docs/ok.txt"] == "done"
    errors = _errors(job)
    assert len(errors) == 3
    assert all("outside the archive" in error for error in errors.values())
    assert list(Document.objects.values_list("external_id", flat=True)) == ["paths.zip/docs/ok.txt"]


def test_a_file_over_the_per_file_limit_is_refused_by_the_upload_form(client, settings):
    settings.UPLOAD_MAX_FILE_BYTES = 2048
    client.force_login(factories.lead())
    files = [
        SimpleUploadedFile("small.txt", samples.TEXT),
        SimpleUploadedFile("big.txt", b"x" * 4096),
    ]
    response = client.post(reverse("knowledge:upload"), {"files": files})
    assert response.status_code == 200
    body = response.content.decode()
    assert "big.txt is 4.0 KB; the limit is 2.0 KB per file" in body
    assert "small.txt" not in body.split("errorlist")[1]
    assert not IngestJob.objects.exists()
