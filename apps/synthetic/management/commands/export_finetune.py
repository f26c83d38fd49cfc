import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.synthetic.export import FORMATS, ExportRefused, export_create


class Command(BaseCommand):
    help = (
        "Export approved, verified, non-duplicate Q&A pairs as fine-tuning JSONL: FILE gets "
        "the training set, FILE with .val before the suffix the validation set, and "
        "FILE.manifest.json the manifest."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=FORMATS, default="chat")
        parser.add_argument("--out", required=True, type=Path)
        parser.add_argument("--val-fraction", type=float, default=0.1)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--balance",
            action="store_true",
            help="Cap every product line at the size of the smallest.",
        )
        parser.add_argument(
            "--allow-empty-validation",
            action="store_true",
            help=(
                "Write the export even when the validation fraction leaves the validation set "
                "empty (without it the command refuses and writes nothing)."
            ),
        )

    def handle(
        self, *args, format, out, val_fraction, seed, balance, allow_empty_validation, **options
    ):
        from apps.synthetic import selectors

        cap = None
        if balance:
            sizes = [
                row["exportable"] for row in selectors.pair_distribution() if row["exportable"]
            ]
            cap = min(sizes) if sizes else None
        try:
            export = export_create(
                fmt=format,
                val_fraction=val_fraction,
                seed=seed,
                cap_per_line=cap,
                allow_empty_validation=allow_empty_validation,
            )
        except ExportRefused as exc:
            how = (
                " To write it without a validation set, pass --allow-empty-validation."
                if exc.split == "validation"
                else ""
            )
            raise CommandError(f"Nothing was written. {exc}{how}") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        val_path = out.with_name(f"{out.stem}.val{out.suffix or '.jsonl'}")
        out.write_text(export.train, encoding="utf-8")
        val_path.write_text(export.validation, encoding="utf-8")
        manifest_path = out.with_name(out.name + ".manifest.json")
        manifest_path.write_text(json.dumps(export.manifest, indent=2), encoding="utf-8")
        ids = export.manifest["pair_ids"]
        self.stdout.write(
            f"Export {export.pk}: {export.manifest['total']} pairs, {len(ids['train'])} in "
            f"{out} and {len(ids['validation'])} in {val_path} "
            f"({json.dumps(export.manifest['counts'])}); sha256 {export.sha256}"
        )
