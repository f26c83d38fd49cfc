import hashlib
import json
import re
from collections import Counter

import pytest
from django.core.management import call_command

from apps.knowledge import services as knowledge
from apps.knowledge.models import Chunk, Document
from apps.oversight.models import EditLogEntry
from apps.synthetic import selectors, services
from apps.synthetic.export import export_create, exportable_pairs
from apps.synthetic.models import GenerationRun, QAPair
from tests import factories
from tests.fakes import ScriptedBackend, fact_question

pytestmark = pytest.mark.django_db


# What the script answers once it runs out: invalid, so a surplus call ends as "needs human".
EXHAUSTED = '{"oops": 1}'


def _question(question):
    return json.dumps({"question": question})


def _run(lines=(), limit=6, per_chunk=1):
    return services.generation_run_create(
        product_lines=lines,
        kinds=["limits", "how_to"],
        per_chunk=per_chunk,
        chunk_limit=limit,
        seed=1,
    )


def test_sampling_is_balanced_across_product_lines(demo_docs):
    run = _run(limit=4)
    chunks = services.chunks_sample(run=run)
    names = sorted(chunk.product_line.name for chunk in chunks)
    assert names == ["Enterprise", "Enterprise", "Pro", "Pro"]


def test_a_run_can_be_limited_to_chosen_documents(demo_docs):
    from apps.knowledge.models import Document

    chosen = Document.objects.filter(title__icontains="troubleshooting")
    run = services.generation_run_create(
        documents=chosen, kinds=["error_code"], per_chunk=1, chunk_limit=10
    )
    picked = services.chunks_sample(run=run)
    assert picked and {c.document_id for c in picked} <= set(chosen.values_list("pk", flat=True))


def test_each_pair_keeps_provenance_and_answers_with_the_sources_own_sentence(
    demo_docs, model_writes_first
):
    run = _run(limit=2)
    services.generation_run_execute(
        run_id=run.pk, backend=ScriptedBackend(when_empty=fact_question)
    )
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.DONE and run.done_chunks == 2
    pairs = list(run.pairs.order_by("id"))
    assert [p.status for p in pairs] == [QAPair.Status.PENDING] * 2
    first = pairs[0]
    assert first.chunk and first.document and first.product_line and first.llm_call
    assert first.prompt_version.startswith("qa_question@") and first.model == "script"
    # Extractive: the answer is the quoted sentence, word for word from the chunk.
    assert first.answer == first.quote and first.verified and first.supported
    assert first.quote in Chunk.objects.get(pk=first.chunk_id).text
    assert first.checks and all(check["passed"] for check in first.checks)


def _page(name: str, text: str):
    """A page ingested for real (searchable, so the round trip can find it)."""
    job = knowledge.ingest_job_create(
        files=[knowledge.UploadedFile(name=name, data=f"# API\n\n{text}\n".encode())],
        source="test",
    )
    knowledge.ingest_job_run(job_id=job.pk)
    return Document.objects.get(external_id__endswith=name)


def test_a_question_asked_before_is_refused_as_a_duplicate_and_never_queued(demo_docs, settings):
    settings.SYNTHETIC_QUEUE_MODEL_QUESTIONS = True
    # Two pages with no sentence the app could compose a question from itself.
    pages = [
        _page("pro-api.md", "The Pro API allows 600 requests per minute per workspace."),
        _page("team-api.md", "The Team API allows 900 requests per minute per workspace."),
    ]
    same = _question("How many requests per minute does the API allow per workspace?")
    run = services.generation_run_create(
        kinds=["limits"], per_chunk=1, chunk_limit=2, seed=1, documents=pages
    )
    services.generation_run_execute(run_id=run.pk, backend=ScriptedBackend(when_empty=same))
    first, second = run.pairs.order_by("id")
    assert first.status == QAPair.Status.PENDING
    assert second.duplicate_of == first
    assert second.status == QAPair.Status.FAILED_CHECKS
    assert any(c["name"] == "not a duplicate" and not c["passed"] for c in second.checks)
    assert services.pair_claim(user=factories.reviewer(), filters={"pk": second.pk}) is None


def test_output_that_stays_invalid_is_kept_for_a_person_with_the_raw_text(
    demo_docs, model_writes_first
):
    run = _run(limit=1)
    backend = ScriptedBackend("not json at all", "still not json", "{}")
    services.generation_run_execute(run_id=run.pk, backend=backend)
    (failed,) = run.pairs.all()
    assert failed.status == QAPair.Status.NEEDS_HUMAN and failed.raw_output == "{}"
    rows = selectors.pair_distribution(run=run)
    assert sum(row["invalid"] for row in rows) == 1
    assert sum(row["unverified"] for row in rows) == 0  # the invalid one has no quote to check


def test_a_run_cancelled_before_it_starts_writes_nothing(demo_docs):
    run = _run(limit=4)
    services.generation_run_cancel(run=run)
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.CANCELLED
    backend = ScriptedBackend(when_empty=EXHAUSTED)
    services.generation_run_execute(run_id=run.pk, backend=backend)
    assert run.pairs.count() == 0 and backend.prompts == []


def test_quote_verification_ignores_whitespace_only():
    source = "Pro keeps 30 days\nof version history."
    assert services.quote_verified(quote="Pro keeps 30 days of version history.", source=source)
    assert not services.quote_verified(quote="Pro keeps 60 days", source=source)
    assert not services.quote_verified(quote="   ", source=source)


@pytest.fixture
def reviewed(demo_docs, settings):
    """Pairs in every state an export must tell apart."""
    # Some demo sentences repeat across product lines; here pairs must all reach the queue.
    settings.SYNTHETIC_DUPLICATE_SIMILARITY = 1.01
    settings.SYNTHETIC_QUEUE_MODEL_QUESTIONS = True
    run = _run(limit=8)
    services.generation_run_execute(
        run_id=run.pk, backend=ScriptedBackend(when_empty=fact_question)
    )
    pairs = list(run.pairs.order_by("id"))
    assert {p.status for p in pairs} == {QAPair.Status.PENDING}
    lead = factories.lead()
    services.pair_approve(pair=pairs[0], user=lead)
    services.pair_approve(
        pair=pairs[1], user=lead, answer="An edited, better answer.", reason="more precise"
    )
    services.pair_approve(pair=pairs[2], user=lead)
    QAPair.objects.filter(pk=pairs[2].pk).update(verified=False)
    services.pair_approve(pair=pairs[3], user=lead)
    QAPair.objects.filter(pk=pairs[3].pk).update(duplicate_of=pairs[0])
    services.pair_reject(pair=pairs[4], user=lead, reason="wrong")
    services.pair_approve(pair=pairs[6], user=lead)
    return {"pairs": pairs, "lead": lead, "exportable": {pairs[0].pk, pairs[1].pk, pairs[6].pk}}


def test_edits_are_logged_with_before_after_editor_and_reason(reviewed):
    entry = EditLogEntry.objects.get(edited=True)
    pair = reviewed["pairs"][1]
    assert (entry.object_type, entry.object_id, entry.changed_fields) == (
        "synthetic.qapair",
        pair.pk,
        ["answer"],
    )
    assert entry.before["answer"] == pair.answer  # the source sentence the AI chose
    assert entry.after["answer"] == "An edited, better answer."
    assert entry.editor == reviewed["lead"] and entry.editor_role == "Support lead"
    assert entry.note == "more precise" and "+An edited" in entry.diff
    assert entry.model == "script" and entry.prompt_version.startswith("qa_question@")


def test_only_approved_verified_non_duplicate_pairs_are_exported(reviewed):
    assert {p.pk for p in exportable_pairs()} == reviewed["exportable"]
    export = export_create(fmt="chat", val_fraction=0.0, seed=3)
    lines = [json.loads(line) for line in export.train.splitlines()]
    assert len(lines) == 3 and export.validation == ""
    answers = {line["messages"][2]["content"] for line in lines}
    assert "An edited, better answer." in answers
    assert [m["role"] for m in lines[0]["messages"]] == ["system", "user", "assistant"]
    ids = set(export.manifest["pair_ids"]["train"])
    assert ids == reviewed["exportable"]


def test_the_split_is_seeded_and_the_manifest_checks_out(reviewed):
    first = export_create(fmt="instruction", val_fraction=0.5, seed=7)
    again = export_create(fmt="instruction", val_fraction=0.5, seed=7)
    assert first.sha256 == again.sha256
    assert first.sha256 == hashlib.sha256((first.train + first.validation).encode()).hexdigest()
    assert first.manifest["train_sha256"] == hashlib.sha256(first.train.encode()).hexdigest()
    counts = first.manifest["counts"]
    assert sum(c["train"] + c["validation"] for c in counts.values()) == 3
    record = json.loads(first.train.splitlines()[0])
    assert {"instruction", "output", "metadata"} <= set(record)
    assert record["metadata"]["document"].startswith("demo/")


def test_the_validation_set_takes_the_same_share_of_every_product_line(db):
    sizes = {"Pro": 40, "Enterprise": 20, "Free": 10}
    factories.approved_pairs(sizes)
    splits = [export_create(fmt="instruction", val_fraction=0.2, seed=seed) for seed in (5, 6)]
    for export in splits:
        validation = Counter(
            json.loads(line)["metadata"]["product_line"] for line in export.validation.splitlines()
        )
        train = Counter(
            json.loads(line)["metadata"]["product_line"] for line in export.train.splitlines()
        )
        # Each line's share of the validation set is the fraction, to the pair.
        assert validation == {"Pro": 8, "Enterprise": 4, "Free": 2}
        assert train == {name: n - validation[name] for name, n in sizes.items()}
        assert export.manifest["counts"] == {
            name: {"train": train[name], "validation": validation[name]} for name in sizes
        }
    # Seeded: another seed draws other pairs, in the same proportions.
    assert splits[0].manifest["pair_ids"] != splits[1].manifest["pair_ids"]


def test_export_command_writes_train_validation_and_manifest(reviewed, tmp_path, capsys):
    out = tmp_path / "ft.jsonl"
    call_command(
        "export_finetune",
        "--format",
        "chat",
        "--out",
        str(out),
        "--val-fraction",
        "0.34",
        "--seed",
        "1",
        "--balance",
        # One pair per line after the cap: a third of one pair rounds to no validation pair.
        "--allow-empty-validation",
    )
    manifest = json.loads((tmp_path / "ft.jsonl.manifest.json").read_text())
    train = out.read_text().splitlines()
    validation = (tmp_path / "ft.val.jsonl").read_text().splitlines()
    assert manifest["cap_per_line"] == 1  # the smallest line has one exportable pair
    assert len(train) == manifest["total"] == 2 and validation == []
    assert "sha256" in capsys.readouterr().out


def test_distribution_shows_every_state_per_product_line(reviewed):
    rows = {row["product_line__name"]: row for row in selectors.pair_distribution()}
    assert set(rows) == {"Pro", "Enterprise"}
    assert sum(row["exportable"] for row in rows.values()) == 3
    assert sum(row["duplicates"] for row in rows.values()) == 1
    queries = selectors.approved_pairs_as_queries()
    assert len(queries) == 3 and all(q["gold_doc_id"].startswith("demo/") for q in queries)


@pytest.mark.slow
def test_generate_qa_runs_on_the_real_model(demo_docs, capsys, model_writes_first):
    call_command(
        "generate_qa", "--product-line", "Pro", "--product-line", "Enterprise", "--limit", "2"
    )
    run = GenerationRun.objects.get()
    assert run.status == GenerationRun.Status.DONE and run.pairs.count() == 2
    assert all(pair.llm_call.backend == "llama.cpp" for pair in run.pairs.all())
    # The model must have produced something usable, not merely have been called.
    valid = run.pairs.exclude(status=QAPair.Status.NEEDS_HUMAN)
    assert valid.exists()
    for pair in valid:
        assert len(pair.question) >= 10 and pair.answer and pair.verified
        assert pair.quote in pair.source_text and pair.question_embedding is not None
    out = capsys.readouterr().out
    assert f"Generation run {run.pk}: Done, 2 pairs" in out
    # The summary says how many reached the queue and how many the checks refused.
    queued = run.pairs.filter(status=QAPair.Status.PENDING).count()
    refused = run.pairs.filter(status=QAPair.Status.FAILED_CHECKS).exclude(quote="").count()
    shown = re.findall(r"(\d+) in the review queue, (\d+) rejected by checks", out)
    assert sum(int(q) for q, _ in shown) == queued
    assert sum(int(r) for _, r in shown) == refused


def test_approved_pairs_serve_as_a_retrieval_query_set(reviewed, capsys):
    call_command("eval_retrieval", "--queries", "approved", "--json", "--k", "1,5")
    result = json.loads(capsys.readouterr().out)
    assert result["overall"]["queries"] == 3
    assert result["gold_documents_missing_from_index"] == 0


def test_without_approved_pairs_the_evaluation_says_so(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no approved Q&A pairs"):
        call_command("eval_retrieval", "--queries", "approved")
