import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.drafts import evaluation
from apps.drafts.composing import DESIGNS

METRICS = (
    ("citation_gold_rate", "drafts citing a sentence of the gold document"),
    ("escalation_rate", "drafts escalated to a person"),
    ("needs_human_rate", "drafts without valid model output"),
    ("supported_sentence_rate", "reply sentences supported by what they cite"),
    ("unsupported_sentences", "unsupported reply sentences (all marked)"),
    ("verbatim_quote_rate", "cited quotes equal to their chunk's text"),
    ("token_f1", "token F1 against the reference answer"),
    ("rouge_l", "ROUGE-L against the reference answer"),
    ("total_ms_p50", "draft time p50 (ms)"),
    ("total_ms_p95", "draft time p95 (ms)"),
    ("ms_per_token_p50", "model ms per output token p50"),
    ("ms_per_token_p95", "model ms per output token p95"),
)


class Command(BaseCommand):
    help = (
        "Draft a reply to each labelled question exactly as a ticket would be drafted (no ticket "
        'is created) and score the drafts. Lines: {"question","gold_doc_id","answer"?,'
        '"product_line"?}.'
    )

    def add_arguments(self, parser):
        parser.add_argument("--queries", required=True, type=Path)
        parser.add_argument("--limit", type=int)
        parser.add_argument("--k", type=int, help="chunks retrieved (default: DRAFT_CHUNKS)")
        parser.add_argument("--design", choices=DESIGNS, help="default: DRAFT_DESIGN")
        parser.add_argument(
            "--no-filters", action="store_true", help="ignore the questions' product lines"
        )
        parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
        parser.add_argument("--save", metavar="NAME", help="keep the run for side-by-side views")

    def handle(self, *args, **options):
        if not options["queries"].is_file():
            raise CommandError(f"{options['queries']} is not a file.")
        try:
            questions = evaluation.questions_read(path=options["queries"], limit=options["limit"])
        except evaluation.EvalInputError as exc:
            raise CommandError(f"{options['queries']}: {exc}") from None
        with tqdm(total=len(questions), unit="q", file=sys.stderr, disable=None) as bar:
            report = evaluation.answers_evaluate(
                questions=questions,
                design=options["design"],
                k=options["k"],
                use_filters=not options["no_filters"],
                progress=lambda n: bar.update(1),
            )
        if options["save"]:
            run = evaluation.answer_eval_save(
                name=options["save"], queries_file=str(options["queries"]), report=report
            )
            report["saved_run"] = run.pk
        if options["json"]:
            self.stdout.write(json.dumps({k: v for k, v in report.items() if k != "questions"}))
            return
        self._table(report)

    def _table(self, report: dict) -> None:
        self.stdout.write(
            f"{report['overall']['n']} questions · design {report['design']} · k {report['k']} · "
            f"{report['model']} ({report['backend']}) · prompt {report['prompt_version'] or '—'}"
        )
        for key, label in METRICS:
            value = report["overall"][key]
            self.stdout.write(f"  {_show(value):>8}  {label}")
        for name, metrics in report["per_product_line"].items():
            self.stdout.write(
                f"  {name}: n {metrics['n']}, citation_gold_rate "
                f"{_show(metrics['citation_gold_rate'])}, escalation_rate "
                f"{_show(metrics['escalation_rate'])}"
            )
        if "saved_run" in report:
            self.stdout.write(f"Saved as run {report['saved_run']}.")


def _show(value) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if isinstance(value, float) else str(value)
