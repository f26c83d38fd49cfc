"""Automatic checks on generated pairs: what the model is asked, what is refused before a
person sees it and why, retries that can change the answer, and approval of refused pairs."""

import json
import re

import pytest

from apps.knowledge import services as knowledge
from apps.knowledge.models import Document
from apps.llm.models import LLMCall
from apps.synthetic import quality, services
from apps.synthetic.models import QAPair
from apps.synthetic.selectors import pair_distribution
from tests import factories
from tests.fakes import ScriptedBackend, fact_question

pytestmark = pytest.mark.django_db

TEXT = (
    "# Limits\n\n"
    "| Limit | Pro |\n|---|---|\n| Members | 25 |\n\n"
    "The Pro API allows 600 requests per minute per workspace. "
    "Contact us. "
    "If a client goes over the limit, it gets the error ERR_RATE_LIMITED and a "
    "Retry-After header."
)


def _run(limit=1, documents=()):
    return services.generation_run_create(
        kinds=["limits"], per_chunk=1, chunk_limit=limit, seed=1, documents=documents
    )


@pytest.fixture
def plain_page(demo_docs):
    """A page of limits whose sentences have no shape the app could compose a question from
    ("If X, Y.", "X is a Y.", "You can X."), next to the demo docs: what the model writes is
    all a pair can get."""
    job = knowledge.ingest_job_create(
        files=[
            knowledge.UploadedFile(
                name="api-limits.md",
                data=b"# API limits\n\nThe Pro API allows 600 requests per minute per workspace.\n",
            )
        ],
        source="test",
    )
    knowledge.ingest_job_run(job_id=job.pk)
    return Document.objects.get(external_id__endswith="api-limits.md")


def test_the_sentence_to_ask_about_is_whole_prose_ranked_by_what_the_kind_is_about():
    limits = [s.sentence for s in quality.support_candidates(text=TEXT, kind="limits")]
    codes = [s.sentence for s in quality.support_candidates(text=TEXT, kind="error_code")]
    assert all("|" not in s and not s.startswith("#") for s in limits)
    assert "Contact us." not in limits  # too short to ask about
    assert limits[0].startswith("The Pro API allows 600")
    assert codes[0].startswith("If a client goes over the limit")


def test_a_retry_shows_the_same_examples_in_another_order():
    first = quality.question_prompt(sentence="Keys rotate every 90 days.")
    retry = quality.question_prompt(sentence="Keys rotate every 90 days.", attempt=1)
    assert first.text != retry.text
    assert sorted(first.text.split("\n\n")) == sorted(retry.text.split("\n\n"))
    assert retry.text.endswith("Fact: Keys rotate every 90 days.\nJSON: ")


def test_a_copied_prompt_example_is_retried_then_refused_with_the_reason(plain_page):
    copy = json.dumps({"question": "What do overdue books cost per day?"})
    backend = ScriptedBackend(when_empty=copy)
    run = _run(documents=[plain_page])
    services.generation_run_execute(run_id=run.pk, backend=backend)
    (pair,) = run.pairs.all()
    assert len(backend.prompts) == 3  # LLM_MAX_ATTEMPTS tries, each with the examples reordered
    assert len(set(backend.prompts)) == 3
    assert pair.status == QAPair.Status.FAILED_CHECKS
    failed = {c["name"] for c in pair.failed_checks}
    assert "question not copied from the prompt" in failed
    assert pair.question == "What do overdue books cost per day?"  # kept for the record
    assert services.pair_claim(user=factories.reviewer()) is None  # never queued
    call = LLMCall.objects.get()
    assert (call.valid, call.checks_passed, call.attempts) == (True, False, 3)


def test_a_bare_sentence_id_as_question_is_refused(plain_page):
    run = _run(documents=[plain_page])
    services.generation_run_execute(
        run_id=run.pk, backend=ScriptedBackend(when_empty=json.dumps({"question": "S1, S2, S3?"}))
    )
    (pair,) = run.pairs.all()
    assert pair.status == QAPair.Status.FAILED_CHECKS
    assert {"is a question", "question is not an id"} <= {c["name"] for c in pair.failed_checks}


def test_a_question_the_sentence_does_not_answer_is_refused(plain_page):
    unrelated = json.dumps({"question": "Which colours can the desktop icon have in dark mode?"})
    run = _run(documents=[plain_page])
    services.generation_run_execute(run_id=run.pk, backend=ScriptedBackend(when_empty=unrelated))
    (pair,) = run.pairs.all()
    assert pair.status == QAPair.Status.FAILED_CHECKS
    assert "answerable from the source" in {c["name"] for c in pair.failed_checks}
    assert not pair.supported


def test_a_failed_first_try_can_pass_on_a_retry(demo_docs, model_writes_first):
    copy = json.dumps({"question": "What do overdue books cost per day?"})
    run = _run()
    services.generation_run_execute(
        run_id=run.pk, backend=ScriptedBackend(copy, when_empty=fact_question)
    )
    (pair,) = run.pairs.all()
    assert pair.status == QAPair.Status.PENDING and pair.supported
    call = LLMCall.objects.get()
    assert (call.first_try_valid, call.checks_passed, call.attempts) == (True, True, 2)


@pytest.fixture
def refused(plain_page):
    unrelated = json.dumps({"question": "Which colours can the desktop icon have in dark mode?"})
    run = _run(documents=[plain_page])
    services.generation_run_execute(run_id=run.pk, backend=ScriptedBackend(when_empty=unrelated))
    return run.pairs.get()


def test_a_refused_pair_cannot_be_approved_as_it_is(refused):
    with pytest.raises(services.ReviewError, match="fails the automatic checks"):
        services.pair_approve(pair=refused, user=factories.reviewer(), version=refused.version)
    refused.refresh_from_db()
    assert refused.status == QAPair.Status.FAILED_CHECKS


def test_a_refused_pair_is_approved_after_an_edit_that_passes_the_checks(refused):
    sentence = refused.quote.rstrip(".")
    better = f"Is it true that {sentence}?"
    pair = services.pair_approve(
        pair=refused,
        user=factories.reviewer(),
        question=better,
        reason="asked what the sentence says",
        version=refused.version,
    )
    assert pair.status == QAPair.Status.APPROVED
    assert pair.checks and all(c["passed"] for c in pair.checks)


def test_an_answer_that_is_only_an_id_blocks_approval_until_edited():
    (pair,) = factories.qa_pairs(1)
    QAPair.objects.filter(pk=pair.pk).update(answer="S8")
    pair.refresh_from_db()
    with pytest.raises(services.ReviewError, match="answer is not an id"):
        services.pair_approve(pair=pair, user=factories.reviewer(), version=pair.version)


def test_the_review_screen_shows_each_check_and_the_supported_badge(refused, client):
    client.force_login(factories.reviewer())
    page = client.get(f"/qa/review/{refused.pk}/").content.decode()
    assert "answerable from the source" in page and "✗" in page
    assert "not shown to support the answer" in page
    assert "can be approved only after an edit that passes them all" in page


def test_the_run_page_counts_pairs_rejected_by_checks(refused, client):
    rows = pair_distribution(run=refused.run)
    assert sum(row["failed_checks"] for row in rows) == 1
    assert sum(row["pending"] for row in rows) == 0
    client.force_login(factories.lead())
    page = client.get(f"/qa/runs/{refused.run_id}/").content.decode()
    assert "<th>Rejected by checks</th>" in page


def test_documents_without_a_product_line_are_sampled_as_a_stratum_of_their_own(demo_docs):
    from apps.knowledge.models import Chunk

    loose = Chunk.objects.filter(document__title__icontains="troubleshooting")
    loose.update(product_line=None)
    run = services.generation_run_create(kinds=[], per_chunk=1, chunk_limit=3, seed=2)
    lines = [chunk.product_line_id for chunk in services.chunks_sample(run=run)]
    assert None in lines and len(set(lines)) == 3


def test_a_chunk_with_nothing_to_ask_about_is_refused_without_asking_the_model(demo_docs, client):
    from apps.knowledge.models import Chunk, Document

    document = Document.objects.order_by("pk").first()
    Chunk.objects.filter(document=document).update(
        text="| Limit | Pro |\n|---|---|\n| Seats | 25 |"
    )
    run = services.generation_run_create(
        kinds=["limits"], per_chunk=1, chunk_limit=1, seed=1, documents=[document]
    )
    backend = ScriptedBackend(when_empty=fact_question)
    services.generation_run_execute(run_id=run.pk, backend=backend)
    (pair,) = run.pairs.all()
    assert backend.prompts == []
    assert pair.status == QAPair.Status.FAILED_CHECKS
    assert [c["name"] for c in pair.failed_checks] == ["has a sentence to ask about"]
    assert sum(row["unverified"] for row in pair_distribution(run=run)) == 0
    client.force_login(factories.reviewer())
    page = client.get(f"/qa/review/{pair.pk}/").content.decode()
    assert "the chunk has no sentence to ask about" in page
    assert "output was invalid" not in page and "quote not in source" not in page


def test_after_an_edit_the_screen_says_which_text_the_checks_were_run_on(refused, client):
    services.pair_approve(
        pair=refused,
        user=factories.reviewer(),
        question=f"Is it true that {refused.quote.rstrip('.')}?",
        version=refused.version,
    )
    client.force_login(factories.lead())
    page = client.get(f"/qa/review/{refused.pk}/").content.decode()
    assert "on the edited text (version 2)" in page


def test_approve_is_not_offered_as_the_main_action_on_a_pair_that_failed_checks(refused, client):
    client.force_login(factories.reviewer())
    page = client.get(f"/qa/review/{refused.pk}/").content.decode()
    approve = re.search(r"<button[^>]*value=\"approve\"[^>]*>", page).group(0)
    assert 'class="primary"' not in approve and "edit the pair so they pass" in approve


@pytest.mark.parametrize(
    "sentence",
    [
        "This is obtained by using the `-r` switch of the command line tool.",
        "In this case the default configuration is to continue regardless of the error.",
        "The list of configuration directives is shown in the table below.",
        "It returns the number of keys that were removed from the database.",
    ],
)
def test_a_sentence_that_needs_the_one_before_it_is_never_asked_about(sentence):
    text = f"{sentence} The Pro API allows 600 requests per minute per workspace."
    picked = [s.sentence for s in quality.support_candidates(text=text, kind="limits")]
    assert sentence not in picked
    assert picked == ["The Pro API allows 600 requests per minute per workspace."]


def test_an_edit_to_a_passing_pair_is_checked_again_and_an_id_answer_refused():
    (pair,) = factories.qa_pairs(1)
    with pytest.raises(services.ReviewError, match="answer is not an id"):
        services.pair_approve(
            pair=pair, user=factories.reviewer(), answer="S8", version=pair.version
        )
    pair.refresh_from_db()
    assert pair.status == QAPair.Status.PENDING and pair.answer != "S8"


def test_an_edit_to_a_passing_pair_shows_the_checks_of_the_edited_text(client):
    (pair,) = factories.qa_pairs(1)
    reviewer = factories.reviewer()
    services.pair_approve(
        pair=pair,
        user=reviewer,
        question=f"Is it true that {pair.quote.rstrip('.')}?",
        version=pair.version,
    )
    pair.refresh_from_db()
    assert pair.checks and pair.checks_version == 2
    client.force_login(factories.lead())
    page = client.get(f"/qa/review/{pair.pk}/").content.decode()
    assert "on the edited text (version 2)" in page
    assert f"Edited since by {reviewer.username}" in page and "Approved by" in page


def test_every_screen_counts_chunks_with_nothing_to_ask_about_apart(refused, client):
    QAPair.objects.create(
        run=refused.run,
        chunk=refused.chunk,
        document=refused.document,
        product_line=refused.product_line,
        kind="fact",
        slot=99,
        status=QAPair.Status.FAILED_CHECKS,
        checks=[{"name": "has a sentence to ask about", "passed": False, "detail": "none"}],
    )
    (row,) = pair_distribution(run=refused.run)
    assert (row["total"], row["failed_checks"], row["nothing_to_ask"]) == (1, 1, 1)
    client.force_login(factories.lead())
    queue = client.get(f"/qa/queue/?run={refused.run_id}&status=failed_checks").content.decode()
    assert "Rejected by checks: 1" in queue and "Nothing to ask about: 1" in queue
    assert queue.count("(no question: nothing to ask about)") == 0
    apart = client.get(f"/qa/queue/?run={refused.run_id}&status=nothing_to_ask").content.decode()
    assert apart.count("(no question: nothing to ask about)") == 1
    run = client.get(f"/qa/runs/{refused.run_id}/").content.decode()
    assert "<strong>1</strong> rejected by checks" in run
    assert "status=nothing_to_ask" in run
