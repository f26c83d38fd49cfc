"""Approved items whose cited sentence changed under them are listed for a lead to re-check."""

import pytest
from django.urls import reverse

from apps.drafts import services
from apps.knowledge import services as knowledge
from apps.knowledge.models import Chunk, Document
from apps.synthetic.models import GenerationRun, QAPair
from apps.tickets.models import Ticket
from tests import factories

pytestmark = pytest.mark.django_db

GUIDE = "# Storage\n\nEach member gets 2 TB of storage. Storage is pooled across the workspace.\n"


def _ingest(text: str) -> Document:
    job = knowledge.ingest_job_create(
        files=[knowledge.UploadedFile(name="guide.md", data=text.encode())], source="test"
    )
    knowledge.ingest_job_run(job_id=job.pk)
    return Document.objects.get(external_id="guide.md")


def _approved_pair(document: Document, quote: str) -> QAPair:
    chunk = Chunk.objects.get(document=document)
    return QAPair.objects.create(
        run=GenerationRun.objects.create(),
        chunk=chunk,
        document=document,
        source_text=chunk.text,
        kind="limits",
        question="How much storage does each member get?",
        answer=quote,
        quote=quote,
        status=QAPair.Status.APPROVED,
    )


@pytest.fixture
def lead_client(client):
    client.force_login(factories.lead())
    return client


def test_an_approved_pair_whose_sentence_changed_is_listed(lead_client):
    pair = _approved_pair(_ingest(GUIDE), "Each member gets 2 TB of storage.")
    untouched = _approved_pair(Document.objects.get(), "Storage is pooled across the workspace.")
    _ingest(GUIDE.replace("2 TB", "5 TB"))
    page = lead_client.get(reverse("drafts:drift")).content.decode()
    assert "Approved Q&amp;A pairs (1)" in page and pair.question in page
    assert "Each member gets 2 TB of storage." in page
    assert untouched.quote not in page  # its sentence is still in the new text


def test_nothing_is_listed_while_documents_are_unchanged(lead_client):
    _approved_pair(_ingest(GUIDE), "Each member gets 2 TB of storage.")
    _ingest(GUIDE)
    page = lead_client.get(reverse("drafts:drift")).content.decode()
    assert "Approved Q&amp;A pairs (0)" in page and "None: every approved pair" in page


def test_a_draft_in_review_citing_a_changed_sentence_is_listed(demo_docs, lead_client):
    ticket = Ticket.objects.get(external_id="DEMO-1007")
    draft = services.draft_create(ticket_id=ticket.pk, version=1)
    cited = draft.sources.filter(cited=True).first()
    # The page is re-ingested with that sentence rewritten: every chunk is replaced (the
    # sentence may sit in two chunks, through the overlap).
    old = list(Chunk.objects.filter(document_id=cited.document_id))
    Chunk.objects.filter(document_id=cited.document_id).delete()
    Chunk.objects.bulk_create(
        Chunk(
            document_id=c.document_id,
            ordinal=c.ordinal,
            text=c.text.replace(cited.text, "Exports now run without a time limit."),
            token_count=c.token_count,
            embedding=c.embedding,
        )
        for c in old
    )
    page = lead_client.get(reverse("drafts:drift")).content.decode()
    assert "DEMO-1007" in page and "E5003 means the audit log export" in page


def test_reviewers_cannot_open_the_drift_list(client):
    client.force_login(factories.reviewer())
    assert client.get(reverse("drafts:drift")).status_code == 403
