from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.tickets import services


class Command(BaseCommand):
    help = (
        "Import tickets from a CSV or JSONL file. Bad rows are listed with their line number "
        "and the rest imported; ids already imported are skipped. Exits 2 when any row failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--format", choices=["csv", "jsonl"], help="Default: from the file's extension."
        )

    def handle(self, *args, file: Path, format: str | None, **options):
        try:
            size = file.stat().st_size
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.", returncode=2) from None
        if size > settings.UPLOAD_MAX_FILE_BYTES:
            # Checked before reading: a huge file is refused without loading it into memory.
            message = services.import_too_large_message(name=str(file), size=size)
            raise CommandError(message, returncode=2)
        try:
            report = services.tickets_import(data=file.read_bytes(), filename=file.name, fmt=format)
        except services.TicketImportRefused as exc:
            raise CommandError(f"Nothing imported: {exc}", returncode=2) from None
        for error in report.errors:
            self.stderr.write(f"line {error.line}: {error.field}: {error.reason}")
        if report.ignored_columns:
            self.stdout.write(f"Columns not imported: {', '.join(report.ignored_columns)}")
        self.stdout.write(
            f"created {report.created}, skipped {report.skipped}, failed {report.failed}"
        )
        if report.failed:
            raise SystemExit(2)
