"""Reviewing replies: what a reviewer waits for, through the whole Django stack as a signed-in
reviewer, on the demo tickets' drafts.

- "check an edit": the htmx call that judges every sentence of an edited reply again as the
  reviewer types (two reworded sentences, one new sentence without a source). Reference, in
  the same run: embedding the same sentences alone (`embed`), the floor of any check.
- "open a reply" (the review screen, sources in their passages) and "the queue", against the
  plain ticket page as a reference page of the same app.
- "save an edit": a POST that verifies, saves and logs the edit, then redirects."""

import re
import statistics
import time

from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment

from apps.accounts.models import User
from apps.core.stats import percentile
from apps.drafts import services
from apps.drafts.models import Reply
from apps.drafts.reviewing import _pieces
from apps.knowledge.embedding import embed
from apps.tickets.models import Ticket
from tests import factories

ROUNDS = 30


def _ms(fn, rounds: int = ROUNDS) -> dict:
    values = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        values.append((time.perf_counter() - started) * 1000)
    return {
        "p50": round(percentile(values, 0.5), 1),
        "p95": round(percentile(values, 0.95), 1),
        "mean": round(statistics.fmean(values), 1),
    }


def _replies() -> list[Reply]:
    """Drafts of every demo ticket, as the worker writes them."""
    Ticket.objects.all().delete()
    call_command("seed_demo", verbosity=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
    for ticket in Ticket.objects.all():
        services.draft_create(ticket_id=ticket.pk, version=ticket.drafts_requested)
    return list(Reply.objects.filter(stage=Reply.Stage.REVIEW).select_related("draft"))


def _edited(text: str) -> str:
    """Reword the first two claims (a word each) and add one sentence citing nothing."""
    edited = re.sub(r"\b(the|a)\b", "this", text, count=2)
    return edited + "\n\nWe have also checked your account settings for you."


def run() -> dict:
    setup_test_environment()
    replies = _replies()
    reply = max(replies, key=lambda r: r.sentence_count)
    # The bench database outlives a run: one reviewer, made once.
    reviewer = User.objects.filter(username="bench-reviewer").first() or factories.UserFactory(
        username="bench-reviewer", role="Reviewer"
    )
    client = Client()
    client.force_login(reviewer)
    edited = _edited(reply.text)
    sentences = [words for words, _ in _pieces(edited)]
    check_url = f"/replies/{reply.pk}/check/"
    client.post(check_url, {"text": edited})  # the embedding model loads once per process
    figures = {
        "replies": len(replies),
        "sentences_in_edit": len(sentences),
        "check an edit (htmx)": _ms(lambda: client.post(check_url, {"text": edited})),
        "reference: embed the same sentences": _ms(lambda: embed(sentences)),
        "open a reply": _ms(lambda: client.get(f"/replies/{reply.pk}/")),
        "the queue": _ms(lambda: client.get("/replies/")),
        "reference: the ticket page": _ms(lambda: client.get(f"/tickets/{reply.ticket_id}/")),
    }
    versions = iter(range(reply.version, reply.version + 1000))
    texts = iter([edited + f" Note {n}." for n in range(1000)])

    def save() -> None:
        Reply.objects.filter(pk=reply.pk).update(claimed_by=None)
        client.post(
            f"/replies/{reply.pk}/act/",
            {"action": "save", "version": next(versions), "text": next(texts)},
        )

    figures["save an edit"] = _ms(save, rounds=10)
    return figures
