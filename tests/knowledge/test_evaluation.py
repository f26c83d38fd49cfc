import json
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.knowledge import evaluation
from tests import factories
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


def test_calibration_measures_how_similar_the_best_match_is_inside_and_outside_a_line(
    doc2dial_subset, capsys
):
    path, count = doc2dial_subset
    call_command("eval_retrieval", "--queries", str(path), "--calibrate")
    result = json.loads(capsys.readouterr().out)
    spread = result["best_similarity"]
    assert result["queries"] == count
    assert spread["own_product_line"]["n"] == count and spread["other_product_lines"]["n"] == count
    # The line that holds the answer matches far better than the one that does not…
    assert spread["own_product_line"]["p50"] > spread["other_product_lines"]["p50"] + 0.15
    # …so the shipped floor and margin flag few right-line searches and many wrong-line ones.
    floor, margin = result["floors"]["0.30"], result["margins"]["0.150"]
    assert floor["own_line_flagged_weak"] < 0.05 < floor["other_lines_flagged_weak"]
    assert margin["own_line_filter_dropped"] < 0.05 < margin["other_line_filter_dropped"]


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


# --- what a run keeps and the screens -------------------------------------------------------

DEMO_QUERIES = [
    {
        "question": "How do I set up SAML single sign-on?",
        "gold_doc_id": "demo/enterprise/sso-setup.md",
        "product_line": "Enterprise",
    },
    # Asked within the wrong product line: the gold document can never come back.
    {
        "question": "Members cannot sign in after SSO is enforced (E1042)",
        "gold_doc_id": "demo/enterprise/troubleshooting.md",
        "product_line": "Pro",
    },
]


def _demo_run(name: str, queries=DEMO_QUERIES):
    parsed = [evaluation.EvalQuery(**q) for q in queries]
    run = evaluation.eval_run_create(
        name=name, queries=parsed, mode="hybrid", ks=[1, 5, 10], use_filters=True
    )
    evaluation.eval_run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


def test_a_run_keeps_each_questions_rank_and_what_came_back_instead(demo_docs):
    run = _demo_run("demo")
    found, missed = run.results["per_query"]
    assert found["rank"] == 1 and found["gold_title"] == "Setting up single sign-on (Enterprise)"
    assert found["top"][0] == {
        "id": "demo/enterprise/sso-setup.md",
        "title": "Setting up single sign-on (Enterprise)",
    }
    assert missed["rank"] is None and missed["question"] == DEMO_QUERIES[1]["question"]
    assert len(missed["top"]) == 3
    assert all(hit["id"].startswith("demo/pro/") for hit in missed["top"])
    assert run.results["overall"]["queries"] == 2


def test_the_evaluation_screen_shows_n_explains_each_metric_and_links_to_the_questions(
    client, demo_docs
):
    run = _demo_run("demo")
    client.force_login(factories.lead())
    body = client.get(reverse("knowledge:eval_list")).content.decode()
    assert '<th class="num">n</th>' in body and '<td class="num">2</td>' in body
    for metric in ("<strong>n</strong>:", "<strong>hit@k</strong>:", "<strong>MRR@10</strong>:"):
        assert metric in body
    assert reverse("knowledge:eval_detail", args=[run.pk]) in body
    assert "site-packages" not in body
    detail = client.get(reverse("knowledge:eval_detail", args=[run.pk])).content.decode()
    assert "How do I set up SAML single sign-on?" in detail and "#1" in detail
    missed = client.get(
        reverse("knowledge:eval_detail", args=[run.pk]), {"show": "missed"}
    ).content.decode()
    assert "How do I set up SAML single sign-on?" not in missed
    assert DEMO_QUERIES[1]["question"] in missed and ">missed</span>" in missed
    assert "Troubleshooting Skylark Sync Pro" in missed  # what came back instead


def test_comparing_runs_shows_a_plain_dash_where_a_run_measured_no_such_line(client, demo_docs):
    both = _demo_run("both lines")
    one = _demo_run("enterprise only", queries=DEMO_QUERIES[:1])
    client.force_login(factories.lead())
    body = client.get(
        reverse("knowledge:eval_list"), {"compare": [both.pk, one.pk]}
    ).content.decode()
    assert "— /" not in body
    compare = body[body.index('class="table compare"') :]
    pro_row = compare[compare.index("<td>Pro</td>") :].split("</tr>")[0]
    assert pro_row.count("<td>—</td>") == 1


def test_the_runs_list_reads_no_per_question_results(client, demo_docs):
    client.force_login(factories.lead())
    _demo_run("first")
    counts = []
    for name in ("second", "third"):
        _demo_run(name)
        with CaptureQueriesContext(connection) as queries:
            client.get(reverse("knowledge:eval_list"))
        counts.append(len(queries))
        sql = "\n".join(q["sql"] for q in queries)
        # Only keys of the results are read, never the whole column.
        assert re.search(r'"knowledge_evalrun"\."results"(?!\s*->)', sql) is None
    assert counts[0] == counts[1]
