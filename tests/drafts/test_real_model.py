"""The model designs with the real GGUF, the worker drafting a ticket posted over the API, and
eval_answers on a small labelled set."""

import json
import time

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.drafts import services
from apps.drafts.models import AnswerEvalRun, Draft
from apps.tickets.models import Ticket
from apps.tickets.services import api_client_create
from tests import factories

LABELLED = [
    {
        "question": "Our audit log export keeps stopping with E5003. What does it mean?",
        "gold_doc_id": "demo/enterprise/troubleshooting.md",
        "answer": "E5003 means the audit log export took longer than 15 minutes and was stopped.",
        "product_line": "Enterprise",
    },
    {
        "question": "How many requests per minute does the Pro API allow?",
        "gold_doc_id": "demo/pro/plan-limits.md",
        "answer": "The Pro API allows 600 requests per minute per workspace.",
        "product_line": "Pro",
    },
    {
        "question": "Can you send our invoices in Swiss francs and add our VAT number?",
        "gold_doc_id": "demo/pro/plan-limits.md",
        "product_line": "Pro",
    },
]


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.parametrize("design", ["select", "write"])
def test_the_packaged_model_drafts_with_citations_only_to_given_sources(demo_docs, design):
    ticket = Ticket.objects.get(external_id="DEMO-1007")
    draft = services.draft_create(ticket_id=ticket.pk, version=1, design=design)
    assert draft.llm_call.backend == "llama.cpp" and draft.model_ms > 0
    sids = set(draft.sources.values_list("sid", flat=True))
    for sentence in draft.sentences.filter(kind="claim"):
        assert set(sentence.citations) <= sids and sentence.verdict
    for source in draft.sources.filter(cited=True).select_related("chunk"):
        assert source.chunk.text[source.start : source.end] == source.text
    assert draft.status in {s.value for s in Draft.Status}
    if draft.status == Draft.Status.NEEDS_HUMAN:
        assert draft.llm_call.raw_outputs  # kept for the person who takes over


@pytest.mark.slow
@pytest.mark.django_db
def test_eval_answers_scores_a_small_labelled_set_and_saves_the_run(
    demo_docs, tmp_path, capsys, client
):
    queries = tmp_path / "labelled.jsonl"
    queries.write_text("\n".join(json.dumps(q) for q in LABELLED) + "\n")
    call_command("eval_answers", "--queries", str(queries), "--json", "--save", "ranked")
    report = json.loads(capsys.readouterr().out)
    overall = report["overall"]
    assert overall["n"] == 3 and report["design"] == "ranked"
    assert overall["citation_gold_rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert overall["escalation_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert overall["verbatim_quote_rate"] == 1.0 and overall["supported_sentence_rate"] == 1.0
    assert overall["token_f1"] > 0.3 and overall["total_ms_p50"] > 0
    assert set(report["per_product_line"]) == {"Enterprise", "Pro"}
    call_command(
        "eval_answers", "--queries", str(queries), "--design", "select", "--save", "select"
    )
    table = capsys.readouterr().out
    assert "drafts citing a sentence of the gold document" in table and "Saved as run" in table
    runs = list(AnswerEvalRun.objects.order_by("pk"))
    assert [(r.name, r.design) for r in runs] == [("ranked", "ranked"), ("select", "select")]
    assert (
        runs[0].model == "none"
        and runs[1].model.endswith(".gguf")
        and runs[1].prompt_version.startswith("draft_select@")
    )
    client.force_login(factories.lead())
    page = client.get(
        reverse("drafts:eval_compare"), {"run": [runs[0].pk, runs[1].pk]}
    ).content.decode()
    assert "Cites the gold document" in page and "draft_select@" in page
    client.force_login(factories.reviewer())
    assert client.get(reverse("drafts:eval_compare")).status_code == 403


@pytest.mark.django_db
def test_eval_answers_names_the_line_of_a_malformed_question(tmp_path):
    queries = tmp_path / "bad.jsonl"
    queries.write_text(json.dumps(LABELLED[0]) + "\n{not json\n")
    with pytest.raises(Exception, match="line 2: not JSON"):
        call_command("eval_answers", "--queries", str(queries))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_ticket_posted_over_the_api_is_drafted_by_the_worker(client, celery_worker, demo_docs):
    _, token = api_client_create(name="Helpdesk")
    response = client.post(
        "/api/tickets/",
        json.dumps(
            {
                "external_id": "HD-1",
                "subject": "Export stops",
                "body": "The audit log export stops with E5003 every time. What does it mean?",
                "product_line": "Enterprise",
            }
        ),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201
    ticket = Ticket.objects.get(external_id="HD-1")
    deadline = time.monotonic() + 120
    while not ticket.drafts.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    draft = ticket.drafts.get()
    assert draft.status == Draft.Status.READY and "E5003 means" in draft.text
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.AWAITING_REVIEW


@pytest.mark.django_db
def test_draft_replies_drafts_what_is_pending_and_then_nothing(demo_docs, capsys):
    call_command("draft_replies", "--pending")
    out = capsys.readouterr().out
    assert "12 ticket(s) drafted." in out and "2  Escalated" in out
    call_command("draft_replies", "--pending")
    assert "0 ticket(s) drafted." in capsys.readouterr().out
    ticket = Ticket.objects.get(external_id="DEMO-1001")
    call_command("draft_replies", "--ticket", str(ticket.pk))
    assert list(ticket.drafts.values_list("version", flat=True)) == [2, 1]
