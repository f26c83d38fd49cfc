"""Uploads and jobs that tell the truth: product lines created where files are uploaded, the
job page names each file by its path, a file with nothing to index is skipped (not failed),
and a document's date says where it came from."""

import datetime as dt
import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from apps.knowledge import services
from apps.knowledge.models import DateSource, Document, IngestItem, IngestJob, ProductLine
from tests import factories
from tests.knowledge import samples
from tests.knowledge.helpers import ingest, statuses

pytestmark = pytest.mark.django_db

FRONT_MATTER_ONLY = b"---\ntitle: Manage Redis\nweight: 60\n---\n"
UNDATED = b"# Sharing\n\nShared folders can be opened by guests with a link.\n"


@pytest.fixture
def lead_client(client, monkeypatch):
    monkeypatch.setattr("apps.knowledge.tasks.ingest_job_run.delay", lambda pk: None)
    client.force_login(factories.lead())
    return client


def _upload(client, **data):
    return client.post(reverse("knowledge:upload"), data)


def _ms(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC).timestamp() * 1000)


# --- product lines --------------------------------------------------------------------------


def test_a_lead_creates_a_product_line_while_uploading(lead_client):
    response = _upload(
        lead_client,
        files=[SimpleUploadedFile("sync.md", samples.MARKDOWN)],
        product_line="new",
        new_product_line="  Skylark   Mobile ",
    )
    job = IngestJob.objects.get()
    assert response.status_code == 302
    assert job.product_line == ProductLine.objects.get(name="Skylark Mobile", slug="skylark-mobile")
    services.ingest_job_run(job_id=job.pk)
    assert Document.objects.get().product_line.name == "Skylark Mobile"


def test_a_new_product_line_with_an_existing_name_reuses_it(lead_client):
    pro = factories.ProductLineFactory(name="Pro", slug="pro")
    _upload(
        lead_client,
        files=[SimpleUploadedFile("a.txt", samples.TEXT)],
        product_line="new",
        new_product_line="pro",
    )
    assert IngestJob.objects.get().product_line == pro
    assert ProductLine.objects.count() == 1


def test_the_upload_form_offers_a_new_product_line_and_asks_for_its_name(lead_client):
    page = lead_client.get(reverse("knowledge:upload")).content.decode()
    assert '<option value="new">New product line…</option>' in page
    assert 'name="new_product_line"' in page
    response = _upload(
        lead_client, files=[SimpleUploadedFile("a.txt", samples.TEXT)], product_line="new"
    )
    assert response.status_code == 200
    assert "Name the new product line." in response.content.decode()
    assert not IngestJob.objects.exists() and not ProductLine.objects.exists()


def test_product_lines_named_in_other_scripts_stay_apart():
    first = services.product_line_get_or_create(name="Россия")
    second = services.product_line_get_or_create(name="日本")
    assert first != second and first.slug != second.slug


# --- the job page ---------------------------------------------------------------------------


def test_the_job_page_names_each_file_of_a_folder_by_its_path(lead_client):
    folder = {
        "docs/_index.md": b"# Docs\n\nWelcome to the documentation.\n",
        "docs/management/_index.md": FRONT_MATTER_ONLY,
        "docs/reference/_index.md": b"",
    }
    _upload(
        lead_client,
        folder=[SimpleUploadedFile("_index.md", data) for data in folder.values()],
        folder_paths=json.dumps(list(folder)),
    )
    job = IngestJob.objects.get()
    services.ingest_job_run(job_id=job.pk)
    body = lead_client.get(reverse("knowledge:job_detail", args=[job.pk])).content.decode()
    for path in folder:
        assert f"<td>{path}</td>" in body
    assert "Skipped: no content: 1" in body and "Failed: 1" in body


def test_the_job_page_says_which_documents_a_folder_filed_and_which_have_no_product_line(
    lead_client,
):
    factories.ProductLineFactory(name="Pro", slug="pro")
    job = ingest({"pro/sync.md": UNDATED, "enterprise/sso.md": samples.TEXT})
    body = lead_client.get(reverse("knowledge:job_detail", args=[job.pk])).content.decode()
    warning = body.split('id="untagged">', 1)[1].split("</div>", 1)[0]
    assert warning.startswith("1 document from this upload has no product line")
    assert "none is named “enterprise”" in warning and "“pro”" not in warning
    filed = body.split('id="filed-by-folder">', 1)[1].split("</div>", 1)[0]
    assert "<strong>1</strong> document under “Pro” (folder “pro”)" in filed
    # Chosen on the form: nothing to warn of.
    chosen = ingest(
        {"enterprise/sso.md": samples.TEXT}, product_line=factories.ProductLineFactory()
    )
    body = lead_client.get(reverse("knowledge:job_detail", args=[chosen.pk])).content.decode()
    assert 'id="untagged"' not in body and 'id="filed-by-folder"' not in body


def test_a_file_with_front_matter_and_no_body_is_skipped_not_failed():
    job = ingest({"docs/management/_index.md": FRONT_MATTER_ONLY, "ok.md": UNDATED})
    item = job.items.get(name="_index.md")
    assert item.status == IngestItem.Status.NO_CONTENT
    assert item.error == "No content: the file has front matter but no body."
    job.refresh_from_db()
    assert job.status == IngestJob.Status.DONE  # nothing failed
    assert not job.items.retryable().exists()
    assert Document.objects.count() == 1


def test_a_file_with_only_headings_is_skipped_too():
    job = ingest({"empty-section.md": b"# Title\n\n## Nothing here yet\n"})
    assert statuses(job) == {"empty-section.md": IngestItem.Status.NO_CONTENT}


# --- dates ------------------------------------------------------------------------------------


def _zip(members: dict[str, tuple[bytes, tuple]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, (data, when) in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=when), data)
    return buffer.getvalue()


def test_a_zip_members_own_date_dates_its_document():
    archive = _zip(
        {
            "kb/sharing.md": (UNDATED, (2025, 3, 2, 23, 30, 0)),
            "kb/dated.md": (samples.MARKDOWN, (2025, 3, 2, 10, 0, 0)),
            "kb/placeholder.md": (b"# Guests\n\nGuests see folders.\n", (1980, 1, 1, 0, 0, 0)),
        }
    )
    ingest({"bundle.zip": archive})
    documents = {d.external_id: d for d in Document.objects.all()}
    sharing = documents["bundle.zip/kb/sharing.md"]
    assert (sharing.source_updated_at, sharing.date_source) == (dt.date(2025, 3, 2), "file")
    dated = documents["bundle.zip/kb/dated.md"]  # the front matter's date wins
    assert (dated.source_updated_at, dated.date_source) == (dt.date(2026, 5, 4), "document")
    # 1980-01-01 is what zip tools write when they keep no date: no date at all.
    placeholder = documents["bundle.zip/kb/placeholder.md"]
    assert (placeholder.source_updated_at, placeholder.date_source) == (None, "")


def test_a_browser_upload_keeps_each_files_own_date_and_says_when_it_had_none(lead_client):
    _upload(
        lead_client,
        files=[SimpleUploadedFile("a.md", UNDATED), SimpleUploadedFile("b.txt", samples.TEXT)],
        files_dates=f"[{_ms(dt.date(2025, 3, 2))}, null]",
    )
    _upload(
        lead_client,
        folder=[SimpleUploadedFile("c.md", b"# Links\n\nLinks expire after 30 days.\n")],
        folder_paths='["kb/c.md"]',
        folder_dates=f"[{_ms(dt.date(2024, 12, 24))}]",
    )
    for job in IngestJob.objects.all():
        services.ingest_job_run(job_id=job.pk)
    dates = {d.external_id: (d.source_updated_at, d.date_source) for d in Document.objects.all()}
    today = timezone.localdate()
    assert dates == {
        "a.md": (dt.date(2025, 3, 2), DateSource.FILE),
        "b.txt": (today, DateSource.UPLOAD),
        "kb/c.md": (dt.date(2024, 12, 24), DateSource.FILE),
    }


def test_implausible_browser_dates_fall_back_to_the_upload_time(lead_client):
    future = _ms(timezone.localdate() + dt.timedelta(days=30))
    _upload(
        lead_client,
        files=[SimpleUploadedFile("a.md", UNDATED), SimpleUploadedFile("b.md", UNDATED + b"x")],
        files_dates=f'[{future}, "yesterday"]',
    )
    services.ingest_job_run(job_id=IngestJob.objects.get().pk)
    assert set(Document.objects.values_list("date_source", flat=True)) == {DateSource.UPLOAD}


def test_the_document_page_says_where_its_date_came_from(client):
    ingest({"dated.md": samples.MARKDOWN, "undated.md": UNDATED})
    client.force_login(factories.reviewer())
    pages = {
        d.external_id: client.get(reverse("knowledge:document_detail", args=[d.pk]))
        for d in Document.objects.all()
    }
    assert (
        '2026-05-04 <span class="muted">(date in the document)</span>'
        in pages["dated.md"].content.decode()
    )
    assert "<dd>unknown</dd>" in pages["undated.md"].content.decode()


def test_a_reingested_document_keeps_a_date_it_did_not_name_itself(lead_client):
    _upload(
        lead_client,
        files=[SimpleUploadedFile("a.md", UNDATED)],
        files_dates=f"[{_ms(dt.date(2025, 3, 2))}]",
    )
    services.ingest_job_run(job_id=IngestJob.objects.get().pk)
    document = Document.objects.get()
    job = services.document_reingest(document=document)
    services.ingest_job_run(job_id=job.pk)
    document.refresh_from_db()
    assert (document.source_updated_at, document.date_source) == (dt.date(2025, 3, 2), "file")


def test_a_date_changed_by_an_admin_is_shown_as_set_by_hand():
    ingest({"dated.md": samples.MARKDOWN})
    document = Document.objects.get()
    services.document_metadata_update(
        document=document, product_line=None, source_updated_at=dt.date(2027, 1, 1)
    )
    document.refresh_from_db()
    assert document.date_source == DateSource.MANUAL


# --- chunking in words ----------------------------------------------------------------------


def test_the_document_page_describes_its_chunking_in_words(client, settings):
    ingest({"undated.md": UNDATED})
    client.force_login(factories.reviewer())
    document = Document.objects.get()
    body = client.get(reverse("knowledge:document_detail", args=[document.pk])).content.decode()
    assert (
        "Chunks of at most 300 tokens with 50 tokens of overlap, fitted to the 256 tokens the "
        "embedding model reads (all-MiniLM-L6-v2)" in body
    )
    assert "site-packages" not in body and document.chunk_config not in body


def test_chunking_is_described_for_other_models_and_sizes():
    describe = services.chunk_config_describe
    assert describe("200/20/512//models/bge-small-en-v1.5") == (
        "Chunks of at most 200 tokens with 20 tokens of overlap; the embedding model "
        "(bge-small-en-v1.5) reads 512 tokens"
    )
    assert describe("300/50/256/e-transformers/e5-small/model") == (
        "Chunks of at most 300 tokens with 50 tokens of overlap, fitted to the 256 tokens the "
        "embedding model reads (e5-small)"
    )
    assert describe("") == "Not recorded (re-ingest the document to record it)."
