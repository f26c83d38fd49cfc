import json

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import SHARED_DATA
from tests.knowledge import samples
from tests.knowledge.helpers import ingest

pytestmark = pytest.mark.django_db

DOC2DIAL = SHARED_DATA / "doc2dial"


@pytest.fixture
def doc2dial_subset(tmp_path):
    """40 real documents from two domains and every labelled query about them."""
    lines = DOC2DIAL.joinpath("corpus.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    chosen = [r for r in records if r["domain"] == "ssa"][:20]
    chosen += [r for r in records if r["domain"] == "va"][:20]
    ingest({"subset.jsonl": samples.jsonl(chosen)})
    ids = {r["doc_id"] for r in chosen}
    queries = [
        q
        for q in map(json.loads, DOC2DIAL.joinpath("queries.jsonl").read_text().splitlines())
        if q["gold_doc_id"] in ids
    ]
    path = tmp_path / "queries.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in queries))
    return path, len(queries)


def test_eval_retrieval_prints_hit_rates_mrr_per_product_line_and_latency(doc2dial_subset, capsys):
    path, count = doc2dial_subset
    call_command(
        "eval_retrieval", "--queries", str(path), "--k", "1,5,10", "--use-filters", "--json"
    )
    result = json.loads(capsys.readouterr().out)
    overall = result["overall"]
    assert overall["queries"] == count > 20
    assert 0 < overall["hit@1"] <= overall["hit@5"] <= overall["hit@10"] <= 1
    assert overall["hit@10"] >= 0.8  # real retrieval over real documents, not chance
    assert 0 < overall["mrr@10"] <= overall["hit@10"]
    assert set(result["per_product_line"]) == {"ssa", "va"}
    assert result["latency_ms"]["p50"] <= result["latency_ms"]["p95"]
    assert result["gold_documents_missing_from_index"] == 0


def test_filters_do_not_hurt_and_keyword_mode_is_measured_too(doc2dial_subset, capsys):
    path, _ = doc2dial_subset
    scores = {}
    for args in (
        ["--mode", "keyword"],
        ["--mode", "hybrid"],
        ["--mode", "hybrid", "--use-filters"],
    ):
        call_command("eval_retrieval", "--queries", str(path), "--json", *args)
        scores[" ".join(args)] = json.loads(capsys.readouterr().out)["overall"]["mrr@10"]
    assert scores["--mode hybrid --use-filters"] >= scores["--mode hybrid"] - 0.02
    assert scores["--mode keyword"] > 0


def test_a_malformed_query_file_names_the_bad_lines(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "ok", "gold_doc_id": "x"}\n{"question": "no gold"}\nnope\n')
    with pytest.raises(CommandError, match=r"line 2: KeyError.*\n.*line 3: JSONDecodeError"):
        call_command("eval_retrieval", "--queries", str(path))


def test_a_run_can_be_saved_for_the_comparison_screen(doc2dial_subset, capsys):
    from apps.knowledge.models import EvalRun

    path, _ = doc2dial_subset
    call_command("eval_retrieval", "--queries", str(path), "--save", "baseline")
    run = EvalRun.objects.get(name="baseline")
    assert run.status == "done" and run.results["overall"]["hit@10"] > 0
    assert "overall" in capsys.readouterr().out
