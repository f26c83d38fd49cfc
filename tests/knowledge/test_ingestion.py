import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.knowledge import services, tagging
from apps.knowledge.models import Chunk, Document, IngestItem, ProductLine
from tests.factories import ProductLineFactory
from tests.knowledge import samples
from tests.knowledge.helpers import ingest, statuses

pytestmark = pytest.mark.django_db

GOOD = {
    "docs/sync.md": samples.MARKDOWN,
    "docs/account.rst": samples.RST,
    "docs/guests.html": samples.HTML,
    "docs/history.txt": samples.TEXT,
    "docs/limits.pdf": samples.pdf(["Enterprise allows 6,000 API requests per minute."]),
    "docs/corpus.jsonl": samples.jsonl([{"id": "kb-1", "text": "Legal holds block deletion."}]),
}


def test_every_supported_format_is_ingested_with_its_chunks_and_embeddings():
    job = ingest(GOOD)
    assert set(statuses(job).values()) == {IngestItem.Status.DONE}
    assert Document.objects.count() == 6
    assert set(Document.objects.values_list("format", flat=True)) == {
        "markdown",
        "rst",
        "html",
        "text",
        "pdf",
        "jsonl",
    }
    for document in Document.objects.all():
        chunks = list(document.chunks.all())
        assert len(chunks) == document.chunk_count > 0
        assert all(len(chunk.embedding) == 384 for chunk in chunks)
    assert Chunk.objects.filter(search_vector__isnull=True).count() == 0


def test_no_chunk_with_its_title_and_section_prefix_exceeds_what_the_model_reads():
    from apps.knowledge import embedding

    long_title = b"---\ntitle: " + b"A very long document title about sync " * 6 + b"\n---\n"
    ingest({"long.md": long_title + samples.MARKDOWN.split(b"---\n", 2)[2] * 12})
    chunks = list(Chunk.objects.select_related("document"))
    assert len(chunks) > 1
    texts = [
        services.embedding_text(
            title=c.document.title, heading_path=tuple(c.heading_path.split(" > ")), text=c.text
        )
        for c in chunks
    ]
    assert max(embedding.token_counts(texts)) <= embedding.max_tokens()


def test_a_bad_file_fails_alone_with_its_reason_and_the_batch_goes_on(settings):
    settings.UPLOAD_MAX_FILE_BYTES = 50_000
    bad = {
        "bad/empty.md": b"",
        "bad/binary.txt": b"\x00\x00\x00\x01",
        "bad/latin1.txt": "naïve café".encode("latin-1"),
        "bad/huge.txt": b"word " * 20_000,
        "bad/image.png": b"\x89PNG\r\n",
        "bad/corrupt.pdf": b"%PDF-1.7 broken",
        "bad/archive.zip": b"PK\x03\x04 not really a zip",
    }
    job = ingest({**bad, "docs/sync.md": samples.MARKDOWN})
    items = {item.name: item for item in job.items.all()}
    assert items["sync.md"].status == IngestItem.Status.DONE
    reasons = {name: items[name.split("/")[-1]].error for name in bad}
    assert "empty" in reasons["bad/empty.md"]
    assert "binary" in reasons["bad/binary.txt"]
    assert "UTF-8" in reasons["bad/latin1.txt"]
    assert "limit is" in reasons["bad/huge.txt"]
    assert "Unsupported file type (.png)" in reasons["bad/image.png"]
    assert "PDF could not be read" in reasons["bad/corrupt.pdf"]
    assert "Not a readable zip" in reasons["bad/archive.zip"]
    assert all(items[n.split("/")[-1]].status == IngestItem.Status.FAILED for n in bad)
    assert Document.objects.count() == 1


def test_a_zip_is_opened_member_by_member():
    archive = samples.zip_of(
        {
            "pro/a.md": samples.MARKDOWN,
            "pro/b.txt": samples.TEXT,
            "pro/c.exe": b"MZ",
            "__MACOSX/._a.md": b"junk",
        }
    )
    job = ingest({"bundle.zip": archive})
    assert statuses(job) == {
        "bundle.zip/pro/a.md": "done",
        "bundle.zip/pro/b.txt": "done",
        "bundle.zip/pro/c.exe": "failed",
    }
    assert Document.objects.filter(external_id="bundle.zip/pro/b.txt").exists()


def test_jsonl_lines_fail_one_by_one_with_line_numbers():
    data = samples.jsonl([{"id": "a", "text": "Alpha."}, "{oops", {"id": "b", "text": "Beta."}])
    job = ingest({"kb.jsonl": data})
    item = job.items.get()
    assert item.status == IngestItem.Status.PARTIAL
    assert item.documents == 2 and "line 2: invalid JSON" in item.error
    assert set(Document.objects.values_list("external_id", flat=True)) == {"a", "b"}


def test_metadata_lands_on_every_chunk():
    ingest({"sync.md": samples.MARKDOWN})
    chunks = Chunk.objects.select_related("product_line")
    assert {c.product_line.name for c in chunks} == {"Enterprise"}
    assert {c.source_updated_at for c in chunks} == {dt.date(2026, 5, 4)}
    codes = {code for c in chunks for code in c.error_codes}
    assert {"ERR_SYNC_TIMEOUT", "E2051", "E1042"} <= codes
    categories = {cat for c in chunks for cat in c.error_categories}
    assert {"Sync and storage", "Authentication and accounts"} <= categories
    first = chunks.order_by("ordinal").first()
    assert first.heading_path == "Sync troubleshooting"
    assert "## Timeouts" in first.text  # the sub-heading travels with its text


def test_a_folder_named_after_a_product_line_tags_its_files_and_the_form_overrides_both():
    ProductLineFactory(name="Pro", slug="pro")
    ingest({"pro/history.txt": samples.TEXT})
    assert Document.objects.get(external_id="pro/history.txt").product_line.name == "Pro"
    chosen = ProductLineFactory(name="Enterprise", slug="enterprise")
    ingest({"sync2.md": samples.MARKDOWN.replace(b"Enterprise", b"Pro")}, product_line=chosen)
    assert Document.objects.get(external_id="sync2.md").product_line == chosen


def test_reingesting_unchanged_content_is_skipped_and_changed_content_replaces_all_chunks():
    ingest({"history.txt": samples.TEXT})
    old_ids = set(Chunk.objects.values_list("id", flat=True))
    again = ingest({"history.txt": samples.TEXT})
    assert statuses(again) == {"history.txt": IngestItem.Status.SKIPPED}
    assert set(Chunk.objects.values_list("id", flat=True)) == old_ids
    changed = ingest({"history.txt": samples.TEXT + b"\n\nBusiness keeps 90 days."})
    assert statuses(changed) == {"history.txt": IngestItem.Status.DONE}
    new_ids = set(Chunk.objects.values_list("id", flat=True))
    assert not (new_ids & old_ids)
    assert Document.objects.count() == 1
    assert "Business keeps 90 days." in " ".join(Chunk.objects.values_list("text", flat=True))


def test_the_same_folder_uploaded_from_another_root_is_not_stored_twice():
    ingest({"docs/history.txt": samples.TEXT, "docs/guests.html": samples.HTML})
    again = ingest({"history.txt": samples.TEXT, "guests.html": samples.HTML + b"<p>New.</p>"})
    assert statuses(again) == {
        "history.txt": IngestItem.Status.DUPLICATE,
        "guests.html": IngestItem.Status.DONE,  # changed: a document of its own
    }
    item = again.items.get(external_id="history.txt")
    assert "already stored as 'docs/history.txt'" in item.error
    assert Document.objects.filter(external_id__endswith="history.txt").count() == 1
    # The same page in another product line is that line's document too.
    ingest({"pro/history.txt": samples.TEXT}, product_line=ProductLineFactory(name="Pro"))
    assert Document.objects.filter(external_id__endswith="history.txt").count() == 2


def test_changing_the_chunk_size_rechunks_unchanged_documents(settings):
    ingest({"history.txt": samples.TEXT})
    settings.CHUNK_TOKENS = 200
    job = ingest({"history.txt": samples.TEXT})
    assert statuses(job) == {"history.txt": IngestItem.Status.DONE}
    assert Document.objects.get().chunk_config.startswith("200/")


def test_a_document_can_be_reingested_from_its_stored_source_and_deleted():
    ingest({"corpus.jsonl": samples.jsonl([{"id": "kb-9", "text": "Holds.", "title": "Holds"}])})
    document = Document.objects.get()
    job = services.document_reingest(document=document)
    services.ingest_job_run(job_id=job.pk)
    assert statuses(job) == {"kb-9.jsonl": IngestItem.Status.DONE}
    assert Document.objects.get().title == "Holds"
    services.document_delete(document=Document.objects.get())
    assert Chunk.objects.count() == 0


def test_the_ingest_command_walks_folders_reports_failures_and_deletes_missing(tmp_path, capsys):
    folder = tmp_path / "kb"
    (folder / "pro").mkdir(parents=True)
    (folder / "pro" / "history.txt").write_bytes(samples.TEXT)
    (folder / "sync.md").write_bytes(samples.MARKDOWN)
    (folder / "empty.md").write_bytes(b"")
    (folder / ".hidden.md").write_bytes(samples.MARKDOWN)
    with pytest.raises(SystemExit) as exit_info:
        call_command("ingest", str(folder), "--product-line", "Pro")
    assert exit_info.value.code == 2
    assert "empty.md: The file is empty." in capsys.readouterr().err
    assert set(Document.objects.values_list("external_id", flat=True)) == {
        "kb/pro/history.txt",
        "kb/sync.md",
    }
    assert set(Document.objects.values_list("product_line__name", flat=True)) == {"Pro"}
    (folder / "sync.md").unlink()
    (folder / "empty.md").unlink()
    call_command("ingest", str(folder), "--product-line", "Pro", "--delete-missing")
    assert list(Document.objects.values_list("external_id", flat=True)) == ["kb/pro/history.txt"]
    assert ProductLine.objects.filter(name="Pro").count() == 1


def test_a_job_interrupted_midway_is_resumed_without_duplicates():
    files = {f"doc{i}.txt": samples.TEXT + f"\n\nVariant {i}.".encode() for i in range(4)}
    uploads = [services.UploadedFile(name=n, data=d, external_id=n) for n, d in files.items()]
    job = services.ingest_job_create(files=uploads, source="test")
    # Simulate a worker that died after claiming the first item and storing the second.
    first, second = job.items.order_by("id")[:2]
    IngestItem.objects.filter(pk=first.pk).update(status=IngestItem.Status.RUNNING)
    services.ingest_item_process(item=second, job=job, patterns=tagging.active_patterns())
    # ...and has given no sign of life since: the job is stale, a new run takes it over.
    job.status = job.Status.RUNNING
    job.heartbeat_at = timezone.now() - dt.timedelta(minutes=10)
    job.save(update_fields=["status", "heartbeat_at"])
    services.ingest_job_run(job_id=job.pk)
    assert set(statuses(job).values()) == {IngestItem.Status.DONE}
    assert Document.objects.count() == 4
    for document in Document.objects.all():
        assert document.chunks.count() == document.chunk_count
