import datetime as dt
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from apps.knowledge import services, tasks
from apps.knowledge.models import FINISHED_STATUSES, IngestItem
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
            help=(
                "Delete the documents earlier runs ingested from a given folder whose file is "
                "no longer there (documents from other folders are never touched)."
            ),
        )

    def handle(self, *args, paths, product_line, run_async, delete_missing, **options):
        if run_async and delete_missing:
            raise CommandError(
                "--delete-missing cannot be combined with --async: what is missing is known "
                "only once the ingest has finished. Run without --async."
            )
        found = [entry for path in paths for entry in self._collect(path)]
        if not found:
            raise CommandError("No files found.")
        line = services.product_line_get_or_create(name=product_line) if product_line else None
        # A generator: each file is read only when the service stores it.
        uploads = (self._upload(*entry) for entry in found)
        job = services.ingest_job_create(files=uploads, product_line=line, source="command")
        if run_async:
            transaction.on_commit(lambda: tasks.ingest_job_run.delay(job.pk))
            self.stdout.write(f"Queued ingest job {job.pk} with {len(found)} file(s).")
            return
        self._run(job)
        if delete_missing:
            self._delete_missing(paths, job)
        self._report(job)

    def _collect(self, path: Path) -> list[tuple[Path, str, str]]:
        """(file, external id, source folder) for a file or every wanted file of a folder."""
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        if path.is_file():
            return [(path, path.name, "")]
        root = path.resolve()
        files = sorted(p for p in path.rglob("*") if p.is_file() and _wanted(p.relative_to(path)))
        return [(p, f"{root.name}/{p.relative_to(path).as_posix()}", str(root)) for p in files]

    def _upload(self, path: Path, external_id: str, source_root: str) -> services.UploadedFile:
        stat = path.stat()
        name = path.name if path.suffix != ".jsonl" else external_id
        refused = services.upload_problem(name=name, size=stat.st_size)
        return services.UploadedFile(
            name=name,
            # A file refused for its size or type is recorded with its reason, never read.
            data=b"" if refused else path.read_bytes(),
            size=stat.st_size if refused else None,
            external_id=external_id,
            mtime=dt.datetime.fromtimestamp(stat.st_mtime, tz=dt.UTC),
            source_root=source_root,
        )

    def _run(self, job) -> None:
        bar = tqdm(total=job.items.count(), unit="file", file=sys.stderr, disable=None)
        bar.update(job.items.exclude(status=IngestItem.Status.PENDING).count())

        def tick(item) -> None:
            bar.update(1)
            if bar.n >= bar.total:  # archives unpacked into their members: count again
                bar.total = IngestItem.objects.filter(job_id=job.pk).count()

        services.ingest_job_run(job_id=job.pk, progress=tick)
        bar.close()

    def _delete_missing(self, paths: list[Path], job) -> None:
        job.refresh_from_db(fields=["status"])
        if job.status not in FINISHED_STATUSES:
            raise CommandError(f"Ingest job {job.pk} did not finish; nothing was deleted.")
        for path in (p for p in paths if p.is_dir()):
            root = str(path.resolve())
            for external_id in services.documents_delete_missing(source_root=root, job=job):
                self.stdout.write(f"deleted {external_id} (no longer in {root})")

    def _report(self, job) -> None:
        counts: dict[str, int] = {}
        failed = False
        for item in job.items.order_by("id"):
            counts[item.status] = counts.get(item.status, 0) + 1
            if item.error:
                failed |= item.status == IngestItem.Status.FAILED
                # The path, not the base name: a folder may hold many _index.md files.
                self.stderr.write(f"{item.get_status_display()}: {item.external_id}: {item.error}")
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        job.refresh_from_db(fields=["status"])
        self.stdout.write(f"Ingest job {job.pk} ({job.get_status_display().lower()}): {summary}.")
        if failed:
            sys.exit(2)


def _wanted(path: Path) -> bool:
    if any(part.startswith(".") for part in path.parts):
        return False
    return format_for(path.name) is not None or path.suffix.lower() == ".zip"
