"""Benchmarks: `python -m tests.bench [ingest|query|llm|search|qa|oversight|drafts|review ...]
[--files N] [--sizes 10000,100000] [--queries N] [--raw-mb MB] [--chunks N]`.

Each figure is compared with a reference measured in the same run on the same machine (raw
SentenceTransformer.encode for ingestion, an exact scan for queries, the previous whole-document
loading for search), because absolute times on a shared machine are noise. Prints one JSON
object and writes it to tests/bench/results/latest.json. Runs against its own database
(bench_reviewdesk, or BENCH_DATABASE_NAME), never the dev data.
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
    parser.add_argument(
        "which", nargs="*", help="ingest, query, llm, search and/or qa (default: all)."
    )
    parser.add_argument(
        "--files", type=int, default=0, help="Ingest only the first N redis-docs files (0: all)."
    )
    parser.add_argument("--sizes", default="10000,100000", help="Chunk counts for the query run.")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--raw-mb", type=float, default=2.0, help="Size of each document's upload for search."
    )
    parser.add_argument(
        "--chunks", type=int, default=100, help="Chunks per corpus for the Q&A quality run."
    )
    args = parser.parse_args()
    benches = ["ingest", "query", "llm", "search", "qa", "oversight", "drafts", "review"]
    args.which = args.which or benches
    if set(args.which) - set(benches):
        parser.error(f"choose from: {', '.join(benches)}")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewdesk.settings")
    # Every bench empties the documents of this database first: two benches running at once
    # need two names.
    os.environ["DATABASE_NAME_OVERRIDE"] = os.environ.get("BENCH_DATABASE_NAME", "bench_reviewdesk")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tests.bench import ingest, llm, qa_quality, query, search

    report: dict = {}
    if "ingest" in args.which:
        report["ingest"] = ingest.run(limit=args.files)
    if "query" in args.which:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        report["query"] = query.run(sizes=sizes, queries=args.queries)
    if "llm" in args.which:
        report["llm"] = llm.run()
    if "search" in args.which:
        report["search"] = search.run(queries=args.queries, raw_mb=args.raw_mb)
    if "qa" in args.which:
        report["qa"] = qa_quality.run(chunks=args.chunks)
    if "oversight" in args.which:
        from tests.bench import oversight

        report["oversight"] = oversight.run()
    if "drafts" in args.which:
        from tests.bench import drafts

        report["drafts"] = drafts.run(questions=min(args.queries, 60))
    if "review" in args.which:
        from tests.bench import review

        report["review"] = review.run()
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(report, indent=2, sort_keys=True)
    (RESULTS / "latest.json").write_text(text)
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
