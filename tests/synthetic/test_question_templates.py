"""A sentence with a shape to build on ("If X, Y." asked as "What … if X?") gets a question the
app composes from its own words; the model is asked about the others, and when its questions
keep failing the checks the next best sentences get a composed one. A composed question
passes every check before it is queued, and the review screen says the app wrote it.

The sentences are real ones, from ../shared/data/doc2dial and ../shared/data/redis-docs."""

import json

import pytest

from apps.knowledge import services as knowledge
from apps.knowledge.models import Document
from apps.synthetic import quality, services
from apps.synthetic.models import QAPair
from tests import factories
from tests.fakes import ScriptedBackend

pytestmark = pytest.mark.django_db

CONDITION = (
    "If the registration suspension period is more than 90 days , you must surrender your "
    "vehicle registration and plates."
)
WHAT_IF = "If you request details about non-existing commands, their return position will be nil."
# No shape a question can be composed from.
LIMITS = "The Pro API allows 600 requests per minute per workspace."
UNRELATED = json.dumps({"question": "Which colours can the desktop icon have in dark mode?"})


def _generate_from(name: str, body: str, kinds: list[str]) -> tuple[QAPair, ScriptedBackend]:
    job = knowledge.ingest_job_create(
        files=[knowledge.UploadedFile(name=name, data=body.encode())], source="test"
    )
    knowledge.ingest_job_run(job_id=job.pk)
    document = Document.objects.get(external_id__endswith=name)
    run = services.generation_run_create(
        kinds=kinds, per_chunk=1, chunk_limit=1, documents=[document.pk]
    )
    backend = ScriptedBackend(when_empty=UNRELATED)
    services.generation_run_execute(run_id=run.pk, backend=backend)
    return run.pairs.get(), backend


def _generate(text: str, kinds: list[str]) -> tuple[QAPair, ScriptedBackend]:
    """A run over a one-chunk page holding `text`, ingested for real (so the product's search,
    which the round-trip check uses, finds it), with a model that writes an unrelated
    question."""
    job = knowledge.ingest_job_create(
        files=[knowledge.UploadedFile(name="page.md", data=f"# Registration\n\n{text}\n".encode())],
        source="test",
    )
    knowledge.ingest_job_run(job_id=job.pk)
    document = Document.objects.get(external_id__endswith="page.md")
    run = services.generation_run_create(
        kinds=kinds, per_chunk=1, chunk_limit=1, documents=[document.pk]
    )
    backend = ScriptedBackend(when_empty=UNRELATED)
    services.generation_run_execute(run_id=run.pk, backend=backend)
    return run.pairs.get(), backend


def test_a_sentence_with_a_shape_gets_the_composed_question_without_asking_the_model(client):
    pair, backend = _generate(CONDITION, ["what_if"])
    assert backend.prompts == []
    assert pair.status == QAPair.Status.PENDING
    assert pair.question == (
        "What do you have to do if the registration suspension period is more than 90 days?"
    )
    # The quote word for word; the answer without the page's space before the comma.
    assert pair.quote == CONDITION and pair.answer == CONDITION.replace(" ,", ",")
    assert pair.checks and all(check["passed"] for check in pair.checks)
    assert pair.prompt_version == quality.TEMPLATE_VERSION and pair.question_composed
    assert pair.llm_call is None and pair.model == ""
    client.force_login(factories.reviewer())
    page = client.get(f"/qa/review/{pair.pk}/").content.decode()
    assert "Question composed by the app from the sentence" in page
    assert "failed the checks" not in page


def test_a_next_best_sentence_with_a_shape_is_composed_before_the_model_is_asked():
    pair, backend = _generate(f"{LIMITS} {WHAT_IF}", ["limits", "what_if"])
    assert backend.prompts == []
    assert pair.status == QAPair.Status.PENDING and pair.question_composed
    assert pair.question == "What happens if you request details about non-existing commands?"
    assert pair.quote == WHAT_IF and pair.kind == "what_if"


def test_when_the_model_keeps_failing_the_next_best_sentence_gets_a_composed_question(
    client, model_writes_first
):
    pair, backend = _generate(f"{LIMITS} {WHAT_IF}", ["limits", "what_if"])
    assert len(backend.prompts) == 3  # the model had all its tries on the first sentence
    assert pair.status == QAPair.Status.PENDING
    assert pair.question == "What happens if you request details about non-existing commands?"
    assert pair.quote == WHAT_IF
    assert pair.kind == "what_if"  # the label follows the sentence asked about
    assert pair.question_composed
    # The model's own call still says its questions failed: telemetry stays honest.
    assert pair.llm_call.checks_passed is False
    client.force_login(factories.reviewer())
    page = client.get(f"/qa/review/{pair.pk}/").content.decode()
    assert "after the model's questions failed the checks" in page
    assert "desktop icon" in page  # the model's last question, for the record
    assert "AI-written" not in page and "Not yet checked by a person" in page
    assert "The answer is the source's own sentence." in page


def test_without_a_sentence_to_compose_from_the_pair_stays_rejected_by_checks():
    pair, _ = _generate(LIMITS, ["limits"])
    assert pair.status == QAPair.Status.FAILED_CHECKS
    assert pair.question == "Which colours can the desktop icon have in dark mode?"
    assert not pair.question_composed


def test_the_queue_and_the_run_page_say_who_wrote_each_question(client):
    composed, _ = _generate(CONDITION, ["what_if"])
    client.force_login(factories.lead())
    queue = client.get(f"/qa/queue/?run={composed.run_id}").content.decode()
    assert "Question by" in queue and "<td>the app</td>" in queue
    run = client.get(f"/qa/runs/{composed.run_id}/").content.decode()
    assert "<strong>0</strong> written by the model" in run
    assert "<strong>1</strong> composed by the app" in run


def test_a_chunk_with_nothing_to_ask_about_is_no_pair_and_no_rejection(client):
    """A one-sentence page whose only sentence points at a figure: recorded with the reason,
    but the run does not count it as a pair or as rejected by checks, and the pair page offers
    nothing to approve."""
    pair, backend = _generate("As shown in the figure above, the fee is 20 dollars.", ["fact"])
    assert backend.prompts == [] and pair.quote == "" and pair.status == "failed_checks"
    client.force_login(factories.lead())
    run = client.get(f"/qa/runs/{pair.run_id}/").content.decode()
    assert "<strong>0</strong> pairs" in run and "<strong>0</strong> rejected by checks" in run
    assert "<strong>1</strong> chunk with nothing to ask about" in run
    page = client.get(f"/qa/review/{pair.pk}/").content.decode()
    assert "No pair: no sentence of this chunk was left to ask about" in page
    assert "Approve (a)" not in page
    queue = client.get(f"/qa/queue/?run={pair.run_id}&status=nothing_to_ask").content.decode()
    assert "nothing to ask about" in queue and ">supported<" not in queue


def test_an_approved_edited_pair_says_so(client):
    pair, _ = _generate(CONDITION, ["what_if"])
    reviewer = factories.reviewer()
    client.force_login(reviewer)
    services.pair_approve(
        pair=pair,
        user=reviewer,
        question="What must you do when a registration suspension lasts over 90 days?",
        answer=pair.answer,
        quote=pair.quote,
        reason="clearer wording",
        version=pair.version,
    )
    page = client.get(f"/qa/review/{pair.pk}/").content.decode()
    assert f"Edited since by {reviewer.username} (now version 2)" in page
    assert f"Approved by {reviewer.username} on" in page and "Not yet checked" not in page
    queue = client.get(f"/qa/queue/?run={pair.run_id}&status=approved").content.decode()
    assert "the app, edited" in queue


def test_an_answer_edited_away_from_the_sentence_is_not_called_the_sources_own(client):
    (pair,) = factories.qa_pairs(1)  # the answer is a rewording, not the quoted sentence
    client.force_login(factories.reviewer())
    page = client.get(f"/qa/review/{pair.pk}/").content.decode()
    assert "Question written by" in page
    assert "The answer is the source's own sentence." not in page


@pytest.mark.parametrize(
    ("question", "sentence", "kinds", "kind"),
    [
        # Seen in a new user's queue: an error code's meaning filed under limits.
        (
            "What does ERR_SYNC_TIMEOUT mean?",
            "ERR_SYNC_TIMEOUT means the desktop client waited 30 seconds for the server.",
            None,
            "error_code",
        ),
        # A definition filed under "what happens if" because the sentence holds an "if".
        ("What is `WRAP`?", "By default, `WRAP` is used if nothing is specified.", None, "fact"),
        # "if" as "whether": a how-to, not a condition.
        (
            "How can I check if items were lost?",
            "To check if items were lost, call `XINFO STREAM` with the `FULL` option.",
            None,
            "how_to",
        ),
        # Only kinds the run asked for: a limits-only run keeps its label.
        (
            "What does ERR_SYNC_TIMEOUT mean?",
            "ERR_SYNC_TIMEOUT means the desktop client waited 30 seconds for the server.",
            ["limits"],
            "limits",
        ),
    ],
)
def test_a_pair_is_filed_under_the_kind_its_question_asks(question, sentence, kinds, kind):
    support = quality.Support(0, sentence, quality.sentence_kinds(sentence)[0])
    assert quality.pair_kind(question=question, support=support, kinds=kinds) == kind


def test_an_edited_question_is_filed_under_the_kind_it_now_asks():
    pair, _ = _generate(WHAT_IF, ["what_if", "fact"])
    assert pair.kind == "what_if"
    edited = "What position is returned for details about non-existing commands?"
    approved = services.pair_approve(pair=pair, user=factories.lead(), question=edited)
    assert approved.status == QAPair.Status.APPROVED
    approved.refresh_from_db()
    assert approved.kind == "fact"


# A command's reference page, as in redis-docs: no title of its own, a summary line without
# a subject, sentences that say "This command…", the command shown as code.
GETDEL_PAGE = (
    "Get the value of `key` and delete the key.\n\n"
    "This function is similar to `GET`, except for the fact that it also deletes the key on "
    "success.\n\n    redis> GETDEL mykey\n"
)


def test_a_command_pages_summary_is_asked_about_with_the_command_its_title_names():
    pair, backend = _generate_from("getdel.md", GETDEL_PAGE, ["fact"])
    assert pair.document.title == "GETDEL"
    assert pair.question == "What does the `GETDEL` command do?", pair.checks
    assert pair.status == QAPair.Status.PENDING and backend.prompts == []
    assert pair.question == "What does the `GETDEL` command do?"
    assert pair.answer == pair.quote == "Get the value of `key` and delete the key."


def test_a_page_that_does_not_show_its_title_as_code_lends_no_command_to_its_sentences():
    body = "Get more information about the FAQ for student aid and how to apply for it.\n"
    pair, _ = _generate_from("faq.md", body, ["fact"])
    assert pair.document.title == "FAQ"
    assert pair.status == QAPair.Status.FAILED_CHECKS and pair.quote == ""


def test_a_composed_question_on_a_command_page_names_the_command_its_sentence_leaves_out():
    body = (
        "If the user already exists, the provided ACL rules are simply applied in addition to "
        "the rules already set.\n\n    ACL SETUSER virginia on allkeys +set\n"
    )
    pair, backend = _generate_from("acl-setuser.md", body, ["what_if"])
    assert pair.status == QAPair.Status.PENDING and backend.prompts == []
    assert pair.question == "With `ACL SETUSER`, what happens if the user already exists?"
    assert pair.answer.startswith("If the user already exists")
