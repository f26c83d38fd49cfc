import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.knowledge import evaluation
from apps.knowledge.selectors import MODES


class Command(BaseCommand):
    help = (
        "Measure retrieval against a labelled query set (JSONL of question, gold_doc_id, "
        "product_line?): hit@k, MRR@10, per product line, latency percentiles."
    )

    def add_arguments(self, parser):
        parser.add_argument("--queries", required=True, type=Path)
        parser.add_argument("--k", default="1,5,10", help="Comma-separated k values.")
        parser.add_argument("--mode", choices=MODES, default="hybrid")
        parser.add_argument(
            "--use-filters", action="store_true", help="Filter each query by its product_line."
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument(
            "--calibrate",
            action="store_true",
            help=(
                "Instead of hit@k: print, as JSON, how similar the best match is inside and "
                "outside each question's product line (the data behind "
                "RETRIEVAL_WEAK_SIMILARITY and RETRIEVAL_INFERRED_FILTER_MARGIN)."
            ),
        )
        parser.add_argument(
            "--save",
            metavar="NAME",
            default="",
            help="Also store the run under NAME for the browser's comparison.",
        )

    def handle(
        self,
        *args,
        queries: Path,
        k: str,
        mode: str,
        use_filters: bool,
        json: bool,
        save: str,
        calibrate: bool,
        **options,
    ):
        try:
            ks = sorted({int(v) for v in k.split(",") if v.strip()})
            parsed = (
                evaluation.queries_from_approved_pairs()
                if str(queries) == "approved"
                else evaluation.queries_parse(queries.read_text(encoding="utf-8"))
            )
        except ValueError:
            raise CommandError("--k takes whole numbers separated by commas.") from None
        except (OSError, evaluation.QueryFileError) as exc:
            raise CommandError(str(exc)) from None
        if calibrate:
            calibration = evaluation.similarity_calibrate(queries=parsed)
            if not calibration["queries"]:
                raise CommandError("No query names a product line that is in the index.")
            self.stdout.write(_as_json(calibration))
            return
        results = evaluation.retrieval_evaluate(
            queries=parsed, ks=ks, mode=mode, use_filters=use_filters
        )
        if save:
            evaluation.eval_run_store(name=save, queries=parsed, ks=ks, results=results)
        self.stdout.write(_as_json(results) if json else _as_table(results, ks))


def _as_json(results: dict) -> str:
    return json.dumps(results, sort_keys=True)


def _as_table(results: dict, ks: list[int]) -> str:
    columns = [f"hit@{k}" for k in ks] + ["mrr@10", "queries"]
    rows = [("overall", results["overall"]), *results["per_product_line"].items()]
    lines = ["  ".join(["product line".ljust(16), *(c.rjust(8) for c in columns)])]
    for name, metrics in rows:
        lines.append("  ".join([name[:16].ljust(16), *(str(metrics[c]).rjust(8) for c in columns)]))
    latency = results["latency_ms"]
    lines.append(
        f"mode={results['mode']} filters={results['use_filters']} "
        f"latency p50={latency['p50']} ms p95={latency['p95']} ms"
    )
    if results["gold_documents_missing_from_index"]:
        lines.append(
            f"warning: {results['gold_documents_missing_from_index']} gold documents "
            "are not in the index"
        )
    return "\n".join(lines)
