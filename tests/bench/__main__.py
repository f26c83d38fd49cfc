"""Benchmarks: `python -m tests.bench [ingest|query|llm ...] [--files N] [--sizes 10000,100000]`.

Each figure is compared with a reference measured in the same run on the same machine (raw
SentenceTransformer.encode for ingestion, an exact scan for queries), because absolute times
on a shared machine are noise. Prints one JSON object and writes it to
tests/bench/results/latest.json. Runs against its own database (bench_reviewdesk).
"""

import argparse
import json
import os
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    # No `choices=`: argparse rejects an empty list against them (Python 3.11).
    parser.add_argument("which", nargs="*", help="ingest, query and/or llm (default: all).")
    parser.add_argument(
        "--files", type=int, default=0, help="Ingest only the first N redis-docs files (0: all)."
    )
    parser.add_argument("--sizes", default="10000,100000", help="Chunk counts for the query run.")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    args.which = args.which or ["ingest", "query", "llm"]
    if set(args.which) - {"ingest", "query", "llm"}:
        parser.error("choose from: ingest, query, llm")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewdesk.settings")
    os.environ["DATABASE_NAME_OVERRIDE"] = "bench_reviewdesk"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tests.bench import ingest, llm, query

    report: dict = {}
    if "ingest" in args.which:
        report["ingest"] = ingest.run(limit=args.files)
    if "query" in args.which:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        report["query"] = query.run(sizes=sizes, queries=args.queries)
    if "llm" in args.which:
        report["llm"] = llm.run()
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(report, indent=2, sort_keys=True)
    (RESULTS / "latest.json").write_text(text)
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
