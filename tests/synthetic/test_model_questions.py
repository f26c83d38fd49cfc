"""Questions the model writes (for sentences with no shape the app composes a question from)
are held back from the review queue unless SYNTHETIC_QUEUE_MODEL_QUESTIONS is on: a person
may still read one, and approve it after an edit."""

import json
import re

import pytest
from django.urls import reverse

from apps.knowledge import services as knowledge
from apps.knowledge.models import Document
from apps.synthetic import quality, services
from apps.synthetic.models import QAPair
from tests import factories
from tests.fakes import ScriptedBackend

pytestmark = pytest.mark.django_db

# The app has no shape for this sentence, so the model is asked.
SENTENCE = "The Pro API allows 600 requests per minute per workspace."
WRITTEN = "How many requests per minute does the Pro API allow per workspace?"


def _generated() -> QAPair:
    job = knowledge.ingest_job_create(
        files=[knowledge.UploadedFile(name="pro-api.md", data=f"# API\n\n{SENTENCE}\n".encode())],
        source="test",
    )
    knowledge.ingest_job_run(job_id=job.pk)
    run = services.generation_run_create(
        kinds=["limits"],
        per_chunk=1,
        chunk_limit=1,
        seed=1,
        documents=[Document.objects.get(external_id__endswith="pro-api.md")],
    )
    backend = ScriptedBackend(when_empty=json.dumps({"question": WRITTEN}))
    services.generation_run_execute(run_id=run.pk, backend=backend)
    (pair,) = run.pairs.all()
    assert pair.question == WRITTEN and pair.answer == SENTENCE and not pair.question_composed
    return pair


def test_a_model_written_question_that_passes_every_check_is_held_back_with_the_reason(db):
    pair = _generated()
    assert pair.status == QAPair.Status.FAILED_CHECKS
    (held,) = pair.failed_checks
    assert held["name"] == quality.MODEL_QUESTION_HELD
    assert "written by the model" in held["detail"] and "edit it to approve" in held["detail"]
    assert services.pair_claim(user=factories.reviewer(), filters={"pk": pair.pk}) is None


def test_a_held_question_is_approved_only_after_a_persons_edit(db):
    pair = _generated()
    lead = factories.lead()
    with pytest.raises(services.ReviewError, match="question not left to the model"):
        services.pair_approve(pair=pair, user=lead)
    pair.refresh_from_db()
    assert pair.status == QAPair.Status.FAILED_CHECKS
    edited = "How many requests per minute may a Pro API workspace make?"
    approved = services.pair_approve(pair=pair, user=lead, question=edited, reason="clearer")
    assert approved.status == QAPair.Status.APPROVED and approved.question == edited
    assert all(c["passed"] for c in approved.checks)


def test_with_the_setting_on_a_model_written_question_that_passes_is_queued(db, settings):
    settings.SYNTHETIC_QUEUE_MODEL_QUESTIONS = True
    pair = _generated()
    assert pair.status == QAPair.Status.PENDING and pair.failed_checks == []


def test_the_screens_say_a_held_question_was_written_by_the_model_and_held_back(db, client):
    pair = _generated()
    client.force_login(factories.lead())
    run_page = client.get(reverse("synthetic:run_detail", args=[pair.run_id])).content.decode()
    refusals = re.search(r'id="run-refusals">(.*?)</p>', run_page, re.S).group(1)
    assert "the model wrote the question, held back</span> <strong>1</strong>" in refusals
    assert "(1 of them the model's questions, which passed the other checks" in run_page
    queue = client.get(reverse("synthetic:queue"), {"status": "failed_checks"}).content.decode()
    assert "model's question, held back" in queue and WRITTEN in queue
    page = client.get(reverse("synthetic:review", args=[pair.pk])).content.decode()
    assert "held back from the review queue: it can be approved once edited" in page


def test_a_persons_rewrite_of_a_held_question_is_judged_as_a_passing_pairs_edit_would_be(db):
    pair = _generated()
    # A fair question that a heuristic check still faults.
    rewrite = "What is the ceiling on calls a Pro workspace may make?"
    approved = services.pair_approve(pair=pair, user=factories.lead(), question=rewrite)
    assert approved.status == QAPair.Status.APPROVED
    failed = {c["name"] for c in approved.failed_checks}
    # Shown on the pair, not enforced: the checks that judge fit by measure.
    judged = {"asks what the sentence says", "answerable from the source", "finds its source"}
    assert failed and failed <= judged


def test_an_edit_that_changes_no_word_of_substance_does_not_release_a_held_question(db):
    pair = _generated()
    reworded = WRITTEN.replace("does the Pro API allow", "does the Pro API  allow").replace(
        "How many", "how many"
    )
    with pytest.raises(services.ReviewError, match="no word of substance has changed"):
        services.pair_approve(pair=pair, user=factories.lead(), question=reworded)
    pair.refresh_from_db()
    assert pair.status == QAPair.Status.FAILED_CHECKS and pair.question == WRITTEN
