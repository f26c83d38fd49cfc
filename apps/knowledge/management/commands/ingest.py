import datetime as dt
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from apps.knowledge import services, tasks
from apps.knowledge.models import Document, IngestItem
from apps.knowledge.parsing import format_for


class Command(BaseCommand):
    help = (
        "Ingest files, folders (recursively) or JSONL into the knowledge base. Unchanged "
        "documents are skipped. Exits 2 when some files failed (the rest are ingested)."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--product-line", default="", help="Tag every document with this.")
        parser.add_argument(
            "--async",
            dest="run_async",
            action="store_true",
            help="Queue the job for the Celery workers instead of running here.",
        )
        parser.add_argument(
            "--delete-missing",
            action="store_true",
            help="Delete documents under a given folder that no longer exist.",
        )

    def handle(self, *args, paths, product_line, run_async, delete_missing, **options):
        uploads = [upload for path in paths for upload in self._collect(path)]
        if not uploads:
            raise CommandError("No files found.")
        line = services.product_line_get_or_create(name=product_line) if product_line else None
        job = services.ingest_job_create(files=uploads, product_line=line, source="command")
        if run_async:
            transaction.on_commit(lambda: tasks.ingest_job_run.delay(job.pk))
            self.stdout.write(f"Queued ingest job {job.pk} with {len(uploads)} file(s).")
            return
        self._run(job)
        if delete_missing:
            self._delete_missing(paths, {u.external_id for u in uploads})
        self._report(job)

    def _collect(self, path: Path) -> list[services.UploadedFile]:
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        if path.is_file():
            return [self._upload(path, path.name)]
        files = sorted(p for p in path.rglob("*") if p.is_file() and _wanted(p.relative_to(path)))
        return [
            self._upload(p, f"{path.resolve().name}/{p.relative_to(path).as_posix()}")
            for p in files
        ]

    def _upload(self, path: Path, external_id: str) -> services.UploadedFile:
        mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
        return services.UploadedFile(
            name=path.name if path.suffix != ".jsonl" else external_id,
            data=path.read_bytes(),
            external_id=external_id,
            mtime=mtime,
        )

    def _run(self, job) -> None:
        total = job.items.count()
        bar = tqdm(total=total, unit="file", file=sys.stderr, disable=None)
        bar.update(job.items.exclude(status=IngestItem.Status.PENDING).count())
        services.ingest_job_run(job_id=job.pk, progress=lambda item: bar.update(1))
        bar.close()

    def _delete_missing(self, paths: list[Path], seen: set[str]) -> None:
        for path in (p for p in paths if p.is_dir()):
            prefix = f"{path.resolve().name}/"
            stale = Document.objects.filter(external_id__startswith=prefix).exclude(
                external_id__in=seen
            )
            for document in stale:
                services.document_delete(document=document)
                self.stdout.write(f"deleted {document.external_id} (no longer on disk)")

    def _report(self, job) -> None:
        counts: dict[str, int] = {}
        failed = False
        for item in job.items.order_by("id"):
            counts[item.status] = counts.get(item.status, 0) + 1
            if item.error:
                failed |= item.status == IngestItem.Status.FAILED
                self.stderr.write(f"{item.get_status_display()}: {item.name}: {item.error}")
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        self.stdout.write(f"Ingest job {job.pk}: {summary}.")
        if failed:
            sys.exit(2)


def _wanted(path: Path) -> bool:
    if any(part.startswith(".") for part in path.parts):
        return False
    return format_for(path.name) is not None or path.suffix.lower() == ".zip"
