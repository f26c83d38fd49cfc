import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.knowledge.models import ProductLine
from apps.synthetic import selectors, services
from apps.synthetic.models import QUESTION_KINDS, GenerationRun

KINDS = [k for k, _ in QUESTION_KINDS]


class Command(BaseCommand):
    help = "Generate synthetic Q&A pairs from chunks, balanced across product lines."

    def add_arguments(self, parser):
        parser.add_argument("--product-line", action="append", default=[], dest="lines")
        parser.add_argument("--per-chunk", type=int, default=1)
        parser.add_argument("--limit", type=int, default=20, help="Chunks to sample.")
        parser.add_argument("--kind", action="append", choices=KINDS, default=[], dest="kinds")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, lines, per_chunk, limit, kinds, seed, **options):
        found = list(ProductLine.objects.filter(name__in=lines))
        missing = set(lines) - {line.name for line in found}
        if missing:
            raise CommandError(f"Unknown product line(s): {', '.join(sorted(missing))}")
        run = services.generation_run_create(
            product_lines=found,
            kinds=kinds or KINDS,
            per_chunk=per_chunk,
            chunk_limit=limit,
            seed=seed,
        )
        with tqdm(total=limit, unit="chunk", file=sys.stderr, disable=None) as bar:

            def progress(done: int) -> None:
                bar.update(done - bar.n)

            # One process, no time limit: the whole run in one slice.
            services.generation_run_execute(run_id=run.pk, progress=progress)
        run.refresh_from_db()
        self.stdout.write(
            f"Generation run {run.pk}: {run.get_status_display()}, "
            f"{run.pairs.count()} pairs from {run.done_chunks} chunks."
        )
        for row in selectors.pair_distribution(run=run):
            self.stdout.write(
                f"  {row['product_line__name'] or '(none)'}: {row['total']} pairs, "
                f"{row['pending']} in the review queue, {row['failed_checks']} rejected by "
                f"checks, {row['nothing_to_ask']} chunks with nothing to ask about, "
                f"{row['invalid']} invalid, {row['duplicates']} duplicates"
            )
        if run.status == GenerationRun.Status.FAILED:
            raise CommandError(f"Generation run {run.pk} failed: {run.error}")
