"""Writes for synthetic Q&A: generation runs and the pairs they produce."""

from __future__ import annotations

import logging
import random
import re
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from pgvector.django import CosineDistance
from pydantic import BaseModel, ConfigDict, Field, create_model

from apps.knowledge import embedding
from apps.knowledge.chunking import sentences_split
from apps.knowledge.models import Chunk
from apps.llm.prompts import prompt_render
from apps.llm.services import structured_generate
from apps.synthetic.models import QUESTION_KINDS, GenerationRun, QAPair, Review

logger = logging.getLogger(__name__)
KIND_LABELS = dict(QUESTION_KINDS)
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def quote_verified(*, quote: str, source: str) -> bool:
    """The quote appears word for word in the source, whitespace aside."""
    quote = normalise(quote)
    return bool(quote) and quote in normalise(source)


def _draft_schema(sentence_ids: list[str]) -> type[BaseModel]:
    """The supporting sentence is an id from the list: the model cannot invent a quote."""
    from typing import Literal

    return create_model(
        "QADraft",
        __config__=ConfigDict(extra="forbid"),
        question=(str, Field(min_length=10, max_length=300)),
        answer=(str, Field(min_length=2, max_length=600)),
        support=(Literal[tuple(sentence_ids)], ...),
    )


def generation_run_create(
    *,
    user=None,
    product_lines=(),
    documents=(),
    kinds: list[str],
    per_chunk: int,
    chunk_limit: int,
    seed: int = 0,
    required_approvals: int = 1,
) -> GenerationRun:
    run = GenerationRun.objects.create(
        created_by=user,
        kinds=kinds or list(KIND_LABELS),
        per_chunk=per_chunk,
        chunk_limit=chunk_limit,
        seed=seed,
        required_approvals=required_approvals,
    )
    run.product_lines.set(product_lines)
    run.documents.set(documents)
    return run


def chunks_sample(*, run: GenerationRun) -> list[Chunk]:
    """Stratified by product line: take chunks from each line in turn, so a line with most of
    the docs cannot crowd the others out (the article's Pro/Enterprise confusion)."""
    chunks = Chunk.objects.exclude(product_line=None).defer("embedding", "search_vector")
    lines = list(run.product_lines.values_list("pk", flat=True))
    if lines:
        chunks = chunks.filter(product_line_id__in=lines)
    documents = list(run.documents.values_list("pk", flat=True))
    if documents:
        chunks = chunks.filter(document_id__in=documents)
    rng = random.Random(run.seed)
    per_line: dict[int, list[Chunk]] = {}
    for chunk in chunks.order_by("id"):
        per_line.setdefault(chunk.product_line_id, []).append(chunk)
    for pool in per_line.values():
        rng.shuffle(pool)
    picked: list[Chunk] = []
    while len(picked) < run.chunk_limit and any(per_line.values()):
        for line_id in sorted(per_line):
            if per_line[line_id] and len(picked) < run.chunk_limit:
                picked.append(per_line[line_id].pop())
    return picked


def generation_run_execute(*, run_id: int, backend=None) -> None:
    if not GenerationRun.objects.filter(pk=run_id, status=GenerationRun.Status.QUEUED).update(
        status=GenerationRun.Status.RUNNING
    ):
        return
    run = GenerationRun.objects.get(pk=run_id)
    chunks = chunks_sample(run=run)
    GenerationRun.objects.filter(pk=run_id).update(total_chunks=len(chunks))
    kinds = run.kinds or list(KIND_LABELS)
    turn = 0
    for chunk in chunks:
        if GenerationRun.objects.filter(pk=run_id, cancel_requested=True).exists():
            _finish(run_id, GenerationRun.Status.CANCELLED)
            return
        for _ in range(run.per_chunk):
            pair_generate(run=run, chunk=chunk, kind=kinds[turn % len(kinds)], backend=backend)
            turn += 1
        GenerationRun.objects.filter(pk=run_id).update(done_chunks=F("done_chunks") + 1)
    _finish(run_id, GenerationRun.Status.DONE)


def _finish(run_id: int, status: str) -> None:
    GenerationRun.objects.filter(pk=run_id).update(status=status, finished_at=timezone.now())


def pair_generate(*, run: GenerationRun, chunk: Chunk, kind: str, backend=None) -> QAPair:
    sentences = sentences_split(chunk.text)[:40]
    ids = [f"S{i}" for i in range(1, len(sentences) + 1)]
    prompt = prompt_render(
        "qa_pair",
        sentences="\n".join(f"{sid}: {s}" for sid, s in zip(ids, sentences, strict=True)),
        kind=KIND_LABELS.get(kind, kind),
    )
    result = structured_generate(
        purpose="synthetic_qa",
        prompt=prompt,
        schema=_draft_schema(ids),
        max_tokens=160,
        backend=backend,
    )
    pair = QAPair(
        run=run,
        chunk=chunk,
        document_id=chunk.document_id,
        product_line_id=chunk.product_line_id,
        source_text=chunk.text,
        kind=kind,
        llm_call=result.call,
        model=result.call.model,
        prompt_version=f"{prompt.name}@{prompt.content_hash[:12]}",
        raw_output=result.raw_outputs[-1] if result.raw_outputs else "",
    )
    if result.value is None:
        # Kept for a person to see, never exported.
        pair.status = QAPair.Status.NEEDS_HUMAN
        pair.question = pair.answer = pair.quote = ""
    else:
        value = result.value
        pair.question, pair.answer = value.question.strip(), value.answer.strip()
        pair.quote = sentences[ids.index(value.support)]
        pair.verified = quote_verified(quote=pair.quote, source=chunk.text)
        pair.question_embedding = embedding.embed([pair.question])[0]
    with transaction.atomic():
        pair.save()
        if pair.question_embedding is not None:
            pair.duplicate_of = duplicate_find(pair=pair)
            pair.save(update_fields=["duplicate_of"])
    return pair


def duplicate_find(*, pair: QAPair) -> QAPair | None:
    """The earliest earlier pair whose question means nearly the same (cosine similarity at
    or above SYNTHETIC_DUPLICATE_SIMILARITY)."""
    limit = 1 - settings.SYNTHETIC_DUPLICATE_SIMILARITY
    return (
        QAPair.objects.filter(pk__lt=pair.pk, question_embedding__isnull=False)
        .annotate(distance=CosineDistance("question_embedding", pair.question_embedding))
        .filter(distance__lte=limit)
        .order_by("pk")
        .first()
    )


def generation_run_cancel(*, run: GenerationRun) -> None:
    GenerationRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    GenerationRun.objects.filter(pk=run.pk, status=GenerationRun.Status.QUEUED).update(
        status=GenerationRun.Status.CANCELLED, finished_at=timezone.now()
    )


# --- review ------------------------------------------------------------------------------


class ReviewError(Exception):
    """A review that cannot be applied; the message is shown to the reviewer."""


def pair_claim(
    *, user, filters: dict | None = None, after: int | None = None, before: int | None = None
) -> QAPair | None:
    """Give `user` the next pending pair nobody else holds (claims expire), skipping pairs the
    user already reviewed. SKIP LOCKED: two reviewers asking at once get different pairs."""
    now = timezone.now()
    with transaction.atomic():
        pairs = (
            QAPair.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=QAPair.Status.PENDING, **(filters or {}))
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now) | Q(claimed_by=user))
            .exclude(reviews__reviewer=user)
        )
        if after is not None:
            pairs = pairs.filter(pk__gt=after).order_by("pk")
        elif before is not None:
            pairs = pairs.filter(pk__lt=before).order_by("-pk")
        else:
            pairs = pairs.order_by("pk")
        pair = pairs.first()
        if pair is not None:
            pair.claimed_by = user
            pair.claimed_until = now + timedelta(minutes=settings.SYNTHETIC_CLAIM_MINUTES)
            pair.save(update_fields=["claimed_by", "claimed_until"])
    return pair


def pair_release(*, pair: QAPair, user) -> None:
    QAPair.objects.filter(pk=pair.pk, claimed_by=user).update(claimed_by=None, claimed_until=None)


def pair_review(
    *,
    pair: QAPair,
    user,
    decision: str,
    question: str | None = None,
    answer: str | None = None,
    quote: str | None = None,
    reason: str = "",
    note: str = "",
) -> QAPair:
    with transaction.atomic():
        locked = QAPair.objects.select_for_update().select_related("run").get(pk=pair.pk)
        _review_check(locked, user)
        if decision == Review.Decision.APPROVE:
            edited = _edits_apply(
                locked,
                user,
                note or reason,
                {"question": question, "answer": answer, "quote": quote},
            )
            if not locked.verified:
                raise ReviewError(
                    "The quote is not word for word in the source. Fix the quote "
                    "or reject the pair."
                )
            Review.objects.create(
                pair=locked, reviewer=user, decision=decision, edited=edited, note=note
            )
            approvals = locked.reviews.filter(decision=Review.Decision.APPROVE).count()
            if approvals >= locked.run.required_approvals:
                locked.status = QAPair.Status.APPROVED
        else:
            if reason not in dict(Review.REASONS):
                raise ReviewError("Choose why the pair is rejected.")
            Review.objects.create(
                pair=locked, reviewer=user, decision=decision, reason=reason, note=note
            )
            locked.status = QAPair.Status.REJECTED
        locked.claimed_by, locked.claimed_until = None, None
        locked.save(
            update_fields=[
                "question",
                "answer",
                "quote",
                "verified",
                "status",
                "claimed_by",
                "claimed_until",
            ]
        )
    return locked


def _review_check(pair: QAPair, user) -> None:
    if pair.status != QAPair.Status.PENDING:
        raise ReviewError(f"This pair was already {pair.get_status_display().lower()}.")
    held_by_other = (
        pair.claimed_by_id not in (None, user.pk)
        and pair.claimed_until
        and pair.claimed_until > timezone.now()
    )
    if held_by_other:
        raise ReviewError("Another reviewer is working on this pair.")
    if pair.reviews.filter(reviewer=user).exists():
        raise ReviewError("You have already reviewed this pair; it needs another reviewer.")


def _edits_apply(pair: QAPair, user, why: str, changes: dict) -> bool:
    """Apply a reviewer's edits; each changed field goes to the append-only edit log."""
    from apps.oversight.services import edit_log_record

    edited = False
    for field, new in changes.items():
        if new is None or normalise(new) == normalise(getattr(pair, field)):
            continue
        edit_log_record(
            obj=pair,
            field=field,
            before=getattr(pair, field),
            after=new.strip(),
            editor=user,
            reason=why,
            model=pair.model,
            prompt_version=pair.prompt_version,
        )
        setattr(pair, field, new.strip())
        edited = True
    pair.verified = quote_verified(quote=pair.quote, source=pair.source_text)
    return edited


def pair_approve(
    *,
    pair: QAPair,
    user,
    question: str | None = None,
    answer: str | None = None,
    quote: str | None = None,
    reason: str = "",
) -> QAPair:
    return pair_review(
        pair=pair,
        user=user,
        decision=Review.Decision.APPROVE,
        question=question,
        answer=answer,
        quote=quote,
        note=reason,
    )


def pair_reject(*, pair: QAPair, user, reason: str, note: str = "") -> QAPair:
    return pair_review(
        pair=pair, user=user, decision=Review.Decision.REJECT, reason=reason, note=note
    )
