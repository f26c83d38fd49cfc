"""Writes for synthetic Q&A: generation runs and the pairs they produce."""

from __future__ import annotations

import logging
import random
import re
import time
import uuid
from collections.abc import Callable

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.core.claims import claim_held_by_other, claim_next
from apps.knowledge import embedding
from apps.knowledge.chunking import sentences_split
from apps.knowledge.models import Chunk
from apps.llm import gates
from apps.llm.services import StructuredResult, structured_generate
from apps.synthetic import quality
from apps.synthetic.models import (
    MODEL_QUESTION_HELD,
    QUESTION_KINDS,
    RUN_STALE_AFTER,
    GenerationRun,
    QAPair,
    Review,
)
from apps.synthetic.selectors import (
    duplicate_earliest,
    page_shows_as_code,
    reviewable_q,
    sentences_asked,
)

logger = logging.getLogger(__name__)
KIND_LABELS = dict(QUESTION_KINDS)
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def quote_verified(*, quote: str, source: str) -> bool:
    """The quote appears word for word in the source, whitespace aside."""
    quote = normalise(quote)
    return bool(quote) and quote in normalise(source)


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
        heartbeat_at=timezone.now(),
    )
    run.product_lines.set(product_lines)
    run.documents.set(documents)
    return run


def chunks_sample(*, run: GenerationRun) -> list[Chunk]:
    """Stratified by product line: take chunks from each line in turn, so a line with most of
    the docs cannot crowd the others out (the article's Pro/Enterprise confusion). Documents
    uploaded without a product line are one more stratum of their own, not left out."""
    chunks = Chunk.objects.defer("embedding", "search_vector")
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
        for line_id in sorted(per_line, key=lambda line: (line is None, line or 0)):
            if per_line[line_id] and len(picked) < run.chunk_limit:
                picked.append(per_line[line_id].pop())
    return picked


# A task works on a run for at most this many chunks, and stops starting new chunks once half
# of the soft time limit is spent: the other half is the margin for the chunk in progress
# (up to five pairs, each up to LLM_MAX_ATTEMPTS calls). The rest goes to the next task.
SLICE_MAX_CHUNKS = 20
SLICE_TIME_FRACTION = 0.5


def slice_time_budget() -> float:
    return settings.CELERY_TASK_SOFT_TIME_LIMIT * SLICE_TIME_FRACTION


class ModelUnreachable(Exception):
    """The model could not be reached: no point asking it about the next chunk."""


class _LeaseLost(Exception):
    """Another task was handed the run (a lead resumed it): this one stops without writing."""


def generation_run_execute(
    *,
    run_id: int,
    lease: str | None = None,
    backend=None,
    max_chunks: int | None = None,
    time_budget: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> str | None:
    """Work on a run under `lease` (the task's id): the chunks of its plan from where it
    stopped, at most `max_chunks` of them and no new one after `time_budget` seconds.

    Returns the lease for the next slice when work remains (the caller queues a task with
    that id), None when the run is done, cancelled, failed (with the reason in run.error) or
    held by another task. Safe to call again for the same lease after a crash: every unit of
    work (chunk and slot) is written at most once.
    """
    lease = lease or uuid.uuid4().hex
    claimed = (
        GenerationRun.objects.filter(pk=run_id)
        .filter(
            Q(status=GenerationRun.Status.QUEUED, lease__in=("", lease))
            | Q(status=GenerationRun.Status.RUNNING, lease=lease)
        )
        .update(
            status=GenerationRun.Status.RUNNING,
            lease=lease,
            heartbeat_at=timezone.now(),
            slices=F("slices") + 1,
        )
    )
    if not claimed:
        return None
    deadline = time.monotonic() + time_budget if time_budget else None
    try:
        return _slice_work(run_id, lease, backend, max_chunks, deadline, progress)
    except _LeaseLost:
        return None
    except ModelUnreachable as exc:
        _fail(run_id, lease, f"The model backend is unavailable: {exc}")
    except SoftTimeLimitExceeded:
        _fail(
            run_id,
            lease,
            "The task ran out of time (Celery soft time limit). Resume the run to continue "
            "where it stopped; the pairs written so far are kept.",
        )
    except Exception as exc:  # a bug or a broken dependency: the run must not stay "running"
        logger.exception("Generation run %s failed", run_id)
        _fail(run_id, lease, f"Generation stopped by an unexpected error: {exc!r}")
    return None


def _slice_work(
    run_id: int,
    lease: str,
    backend,
    max_chunks: int | None,
    deadline: float | None,
    progress: Callable[[int], None] | None,
) -> str | None:
    run = GenerationRun.objects.get(pk=run_id)
    if not run.plan:
        run.plan = [chunk.pk for chunk in chunks_sample(run=run)]
        _lease_update(run_id, lease, plan=run.plan, total_chunks=len(run.plan))
    kinds = run.kinds or list(KIND_LABELS)
    written = set(run.pairs.exclude(slot=None).values_list("slot", flat=True))
    start = run.done_chunks
    stop = len(run.plan) if max_chunks is None else min(len(run.plan), start + max_chunks)
    # With each chunk its document's title: a command's reference page names its subject
    # only there (quality.page_subject).
    chunks = (
        Chunk.objects.select_related("document")
        .defer("embedding", "search_vector", "document__raw", "document__metadata")
        .in_bulk(run.plan[start:stop])
    )
    index = start
    while index < stop:
        if index > start and deadline is not None and time.monotonic() > deadline:
            break
        cancel = (
            GenerationRun.objects.filter(pk=run_id, lease=lease)
            .values_list("cancel_requested", flat=True)
            .first()
        )
        if cancel is None:
            raise _LeaseLost
        if cancel:
            _finish(run_id, lease, GenerationRun.Status.CANCELLED)
            return None
        # A chunk deleted since the run was planned (re-ingested) is skipped, not fatal.
        chunk = chunks.get(run.plan[index])
        for n in range(run.per_chunk if chunk is not None else 0):
            slot = index * run.per_chunk + n
            if slot not in written:
                pair_generate(
                    run=run,
                    chunk=chunk,
                    kind=kinds[slot % len(kinds)],
                    slot=slot,
                    lease=lease,
                    backend=backend,
                )
        index += 1
        _lease_update(run_id, lease, done_chunks=index)
        if progress:
            progress(index)
    if index >= len(run.plan):
        _finish(run_id, lease, GenerationRun.Status.DONE)
        return None
    # Hand the run straight to the next task's id: no moment where nobody holds it.
    following = uuid.uuid4().hex
    _lease_update(run_id, lease, lease=following)
    return following


def _lease_update(run_id: int, held: str, **fields) -> None:
    """Write progress only while holding the lease `held`; also the heartbeat a stall is
    seen by."""
    if not GenerationRun.objects.filter(pk=run_id, lease=held).update(
        heartbeat_at=timezone.now(), **fields
    ):
        raise _LeaseLost


def _finish(run_id: int, lease: str, status: str) -> None:
    GenerationRun.objects.filter(pk=run_id, lease=lease).update(
        status=status, finished_at=timezone.now(), lease=""
    )


def _fail(run_id: int, lease: str, error: str) -> None:
    fields = {
        "status": GenerationRun.Status.FAILED,
        "error": error[:2000],
        "finished_at": timezone.now(),
        "lease": "",
    }
    try:
        GenerationRun.objects.filter(pk=run_id, lease=lease).update(**fields)
    except DatabaseError:
        # The interruption may have hit mid-query and left the connection unusable.
        connection.close()
        GenerationRun.objects.filter(pk=run_id, lease=lease).update(**fields)


def generation_run_resume(*, run: GenerationRun) -> str | None:
    """Hand a failed or stalled run to a new task: returns the lease (the id to give that
    task), or None when the run is not resumable. Units already written are skipped."""
    lease = uuid.uuid4().hex
    now = timezone.now()
    resumed = GenerationRun.objects.filter(GenerationRun.resumable_q(now), pk=run.pk).update(
        status=GenerationRun.Status.QUEUED,
        lease=lease,
        error="",
        finished_at=None,
        heartbeat_at=now,
    )
    return lease if resumed else None


def _backend_failure(result: StructuredResult) -> str | None:
    """Why the model could not be reached at all (not: its output was invalid, and not a
    problem with this one request), from structured_generate's record of it."""
    if result.backend_failed and result.errors:
        return result.errors[-1].removeprefix("backend:").strip()
    return None


def pair_generate(
    *,
    run: GenerationRun,
    chunk: Chunk,
    kind: str,
    slot: int | None = None,
    lease: str | None = None,
    backend=None,
) -> QAPair | None:
    """One unit of work: pick the sentence to ask about, have the model write the question,
    run the checks (retrying what fails, sampled and with the examples reordered), and keep
    the pair as pending, rejected by checks (with the reasons) or invalid (with the raw
    output). With a lease, the pair is written only while the lease is held; a unit someone
    else has written meanwhile is not written again (None is returned)."""
    sentences = [quality.sentence_normal(s) for s in sentences_split(chunk.text)]
    # Sentences this run, or an earlier pair still standing, already asks about: the next
    # best sentence gets the question instead.
    taken = sentences_asked(run=run, sentences=sentences)
    kinds = run.kinds or None
    subject = _page_subject(chunk)
    candidates = quality.support_candidates(
        text=chunk.text,
        kind=kind,
        kinds=kinds,
        taken=taken,
        subject=subject,
        opens_page=chunk.ordinal == 0,
    )
    support = candidates[0] if candidates else None
    pair = QAPair(
        run=run,
        chunk=chunk,
        slot=slot,
        document_id=chunk.document_id,
        product_line_id=chunk.product_line_id,
        source_text=chunk.text,
        # The label the sentence bears out (the slot's kind when it can).
        kind=support.kind if support is not None else kind,
    )
    if support is None:
        _pair_unaskable(pair, quality.support_missing(text=chunk.text, kinds=kinds, taken=taken))
    else:
        _pair_draft(
            pair,
            support,
            backend,
            alternatives=candidates[1 : quality.TEMPLATE_SENTENCES],
            subject=subject,
        )
    return _pair_save(pair, run=run, slot=slot, lease=lease)


def _page_subject(chunk: Chunk | None) -> str:
    """The command the chunk's page is about, when its title names one the page shows as
    code: its sentences that say "This command…" are then asked about with it named. (A
    pair whose chunk was re-ingested away has none.)"""
    if chunk is None:
        return ""
    subject = quality.page_subject(chunk.document.title)
    if subject and page_shows_as_code(document_id=chunk.document_id, name=subject):
        return subject
    return ""


def _pair_unaskable(pair: QAPair, detail: str) -> None:
    """No sentence to ask about (a table, code, a list of links, a figure's legend, or all
    asked already): the model is not asked; the pair is kept, rejected by checks, so the
    count stays honest."""
    pair.status = QAPair.Status.FAILED_CHECKS
    pair.question = pair.answer = pair.quote = ""
    pair.checks = [
        {
            "name": "has a sentence to ask about",
            "passed": False,
            "detail": detail,
            "version": 1,
        }
    ]


def _pair_draft(
    pair: QAPair,
    support: quality.Support,
    backend,
    alternatives: list[quality.Support] = (),
    subject: str = "",
) -> None:
    """The question for `support`, or for one of the next best sentences (`alternatives`):
    composed from the sentence's own structure when one of the best few has a shape to
    compose from and that question passes every check, the plainer shapes first (measured:
    a reviewer's read approved composed questions far more often than the model's, so a
    lower-ranked sentence with a composed question beats the best one asked of the model);
    else the model's for `support`. If all its tries fail the checks, or it passes them but
    the model's questions are not queued (SYNTHETIC_QUEUE_MODEL_QUESTIONS), one composed for
    any of the alternatives; failing that, the model's question is kept, refused, with the
    reasons."""
    # Composed questions already checked and refused: the checks (a search and an embedding
    # each) are not run twice on the same question for the same sentence.
    refused: set[tuple[str, str]] = set()
    first = [support, *alternatives][: settings.SYNTHETIC_COMPOSE_FIRST]
    composed = _question_templated(
        pair, first, refused=refused, subject=subject
    ) or _question_templated(pair, first, fallback=True, refused=refused, subject=subject)
    if composed is not None:
        _pair_fill(pair, *composed, composed=True)
        pair.status = QAPair.Status.PENDING
        return
    checked: dict[str, list] = {}

    def check(value) -> list[str]:
        results = quality.pair_checks(
            question=value.question.strip(),
            answer=support.answer,
            quote=support.sentence,
            chunk=pair.chunk,
            subject=subject,
        )
        checked["results"] = results
        return gates.gates_summary(results)

    prompt = quality.question_prompt(sentence=support.stated)
    result = structured_generate(
        purpose="synthetic_qa",
        prompt=prompt,
        schema=quality.QuestionDraft,
        max_tokens=60,
        backend=backend,
        check=check,
        retry_prompt=lambda attempt: quality.question_prompt(
            sentence=support.stated, attempt=attempt
        ),
    )
    failure = _backend_failure(result)
    if failure is not None:
        raise ModelUnreachable(failure)
    pair.llm_call, pair.model = result.call, result.call.model
    pair.prompt_version = f"{prompt.name}@{prompt.content_hash[:12]}"
    pair.raw_output = result.raw_outputs[-1] if result.raw_outputs else ""
    if result.value is not None and settings.SYNTHETIC_QUEUE_MODEL_QUESTIONS:
        _pair_fill(pair, support, result.value.question.strip(), checked.get("results", []))
        pair.status = QAPair.Status.PENDING
        return
    if result.value is None and result.refused is None:
        # Invalid output on every try: kept for a person to see (a model that cannot write
        # the schema is a fault to look into, not to paper over), never exported.
        pair.status = QAPair.Status.NEEDS_HUMAN
        pair.question = pair.answer = pair.quote = ""
        return
    # The model's questions failed the checks, or passed but are held back: a question
    # composed from the structure of one of the next best sentences may pass them all. The
    # model's call stays linked for its telemetry, and its last output for the record.
    composed = _question_templated(
        pair, [support, *alternatives], fallback=True, refused=refused, subject=subject
    )
    if composed is not None:
        _pair_fill(pair, *composed, composed=True)
        pair.status = QAPair.Status.PENDING
        return
    written = result.value or result.refused
    results = checked.get("results", [])
    if result.value is not None:
        results = [*results, quality.model_question_held(model=result.call.model)]
    _pair_fill(pair, support, written.question.strip(), results)
    pair.status = QAPair.Status.FAILED_CHECKS


def _pair_fill(
    pair: QAPair,
    support: quality.Support,
    question: str,
    results: list[gates.GateResult],
    *,
    composed: bool = False,
) -> None:
    if composed:
        # The app wrote this question: the pair says so instead of naming a model.
        pair.model, pair.prompt_version = "", quality.TEMPLATE_VERSION
    pair.kind = quality.pair_kind(question=question, support=support, kinds=pair.run.kinds or None)
    pair.question = question
    # Extractive: the answer is the source's own sentence, so it cannot be an id or invented.
    pair.quote = support.sentence
    pair.answer = support.answer
    pair.verified = quote_verified(quote=pair.quote, source=pair.source_text)
    pair.checks = quality.checks_as_json(results, version=1)
    pair.question_embedding = embedding.embed([pair.question])[0]


def _question_templated(
    pair: QAPair,
    supports: list[quality.Support],
    *,
    refused: set[tuple[str, str]],
    fallback: bool = False,
    subject: str = "",
) -> tuple[quality.Support, str, list[gates.GateResult]] | None:
    """The first of `supports` whose question composed from its own structure passes every
    check, with that question and the checks' results. (sentence, question) pairs in
    `refused` failed them already and are skipped; those that fail now are added."""
    for support in supports:
        question = quality.question_templated(support.stated, fallback=fallback)
        if question is None:
            continue
        question = quality.question_in_context(question, subject=subject, sentence=support.sentence)
        if (support.sentence, question) in refused:
            continue
        results = quality.pair_checks(
            question=question,
            answer=support.answer,
            quote=support.sentence,
            chunk=pair.chunk,
            subject=subject,
        )
        if not gates.gates_failed(results):
            return support, question, results
        refused.add((support.sentence, question))
    return None


def _pair_save(pair: QAPair, *, run: GenerationRun, slot: int | None, lease: str | None):
    try:
        with transaction.atomic():
            if lease is not None:
                # Locks the run row: a resume that takes the lease waits for this write, and
                # once it has committed this task can write nothing more.
                _lease_update(run.pk, lease)
            pair.save()
            if pair.question_embedding is not None:
                pair.duplicate_of = duplicate_find(pair=pair)
                pair.save(update_fields=["duplicate_of"])
    except IntegrityError:
        if slot is None:
            raise
        return None  # the unit was written by another task: keep theirs
    return pair


def duplicate_find(*, pair: QAPair) -> QAPair | None:
    """The earliest earlier pair whose question means nearly the same."""
    return duplicate_earliest(embedding=pair.question_embedding, before=pair.pk)


def generation_run_cancel(*, run: GenerationRun) -> None:
    GenerationRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    # A run no task is working on (queued, or stalled) is cancelled at once; a live task
    # stops before its next chunk.
    stalled = Q(status=GenerationRun.Status.QUEUED) | Q(
        status=GenerationRun.Status.RUNNING,
        heartbeat_at__lt=timezone.now() - RUN_STALE_AFTER,
    )
    GenerationRun.objects.filter(stalled, pk=run.pk).update(
        status=GenerationRun.Status.CANCELLED, finished_at=timezone.now(), lease=""
    )


# --- review ------------------------------------------------------------------------------


class ReviewError(Exception):
    """A review that cannot be applied; the message is shown to the reviewer."""


class EditConflict(ReviewError):
    """The pair changed after the reviewer was shown it: nothing was applied. `current` is
    the pair as it is now, for showing next to the reviewer's own text."""

    def __init__(self, current: QAPair) -> None:
        super().__init__(
            "Someone changed this pair after you opened it, so nothing was saved. Compare "
            "your text with the current one; save again to apply yours."
        )
        self.current = current


def pair_claim(
    *, user, filters: dict | None = None, after: int | None = None, before: int | None = None
) -> QAPair | None:
    """Give `user` the next pending pair nobody else holds (claims lapse), skipping pairs the
    user already reviewed as they are now; two reviewers asking at once get different pairs."""
    reviewable = QAPair.objects.filter(
        reviewable_q(user=user, now=timezone.now()), **(filters or {})
    )
    return claim_next(
        queryset=reviewable,
        user=user,
        minutes=settings.SYNTHETIC_CLAIM_MINUTES,
        after=after,
        before=before,
    )


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
    version: int | None = None,
) -> QAPair:
    """Apply one reviewer's decision. `version` is the pair's version the reviewer was shown
    (the screens always send it): if the pair has changed since, EditConflict is raised and
    nothing is written. An approval counts towards the run's required approvals only while
    the pair keeps the text it approved: an edit starts the count again."""
    with transaction.atomic():
        locked = QAPair.objects.select_for_update().select_related("run").get(pk=pair.pk)
        _review_check(locked, user)
        if version is not None and version != locked.version:
            raise EditConflict(locked)
        shown = _pair_text(locked)
        if decision == Review.Decision.APPROVE:
            edited = _edits_apply(locked, {"question": question, "answer": answer, "quote": quote})
            if edited:
                # Filed under what the edited question asks, as a generated one is.
                locked.kind = quality.pair_kind(
                    question=locked.question,
                    support=quality.Support(0, locked.quote, locked.kind),
                    kinds=locked.run.kinds or None,
                )
            if not locked.question.strip() or not locked.answer.strip():
                raise ReviewError("A pair needs a question and an answer to be approved.")
            _checks_require_pass(locked, edited=edited, before=shown["question"])
            if not locked.verified:
                raise ReviewError(
                    "The quote is not word for word in the source. Fix the quote "
                    "or reject the pair."
                )
            Review.objects.create(
                pair=locked,
                reviewer=user,
                decision=decision,
                edited=edited,
                note=note,
                version=locked.version,
            )
            approvals = (
                locked.reviews.filter(decision=Review.Decision.APPROVE, version=locked.version)
                .values("reviewer")
                .distinct()
                .count()
            )
            if approvals >= locked.run.required_approvals:
                locked.status = QAPair.Status.APPROVED
            _decision_log(locked, user, shown, decision=decision, note=note or reason)
        else:
            if reason not in dict(Review.REASONS):
                raise ReviewError("Choose why the pair is rejected.")
            Review.objects.create(
                pair=locked,
                reviewer=user,
                decision=decision,
                reason=reason,
                note=note,
                version=locked.version,
            )
            locked.status = QAPair.Status.REJECTED
            _decision_log(locked, user, shown, decision=decision, reason=reason, note=note)
        locked.claimed_by, locked.claimed_until = None, None
        locked.save(
            update_fields=[
                "question",
                "answer",
                "quote",
                "verified",
                "version",
                "status",
                "checks",
                "kind",
                "claimed_by",
                "claimed_until",
            ]
        )
    return locked


# Checks that judge how well a question fits its sentence by measure (similarity, search rank,
# answer type): a person's edit to a pair that passed them may fail one and still be right, so
# the outcome is shown, not enforced. The others (a question, no id, no prompt copy, a whole
# answer) hold for any text.
_JUDGEMENT_CHECKS = frozenset(
    {"asks what the sentence says", "answerable from the source", "finds its source"}
)


def _checks_require_pass(pair: QAPair, *, edited: bool, before: str = "") -> None:
    """Run the checks again on edited text, and on any pair the checks refused or whose
    answer is only an id: such a pair is approved only once its text passes them all; an
    edited pair that passed before only once it passes those that hold for any text."""
    id_answer = not gates.gate_not_an_id(name="answer", text=pair.answer).passed
    held = [c for c in pair.failed_checks if c["name"] == MODEL_QUESTION_HELD]
    # Held back only because the model wrote it: once a person has edited it, it is judged
    # as a pair that passed (a person's wording may fail a heuristic and still be right).
    refused = len(pair.failed_checks) > len(held) or id_answer
    if not refused and not held and not edited:
        return
    results = quality.pair_checks(
        question=pair.question,
        answer=pair.answer,
        quote=pair.quote,
        chunk=pair.chunk,
        before=pair.pk,
        subject=_page_subject(pair.chunk),
    )
    # A question held back because the model wrote it becomes a person's only by an edit
    # that changes its words of substance ("doesn't" → "does not" is no rewrite).
    if held and gates.content_words(pair.question) == gates.content_words(before):
        results.append(
            gates.GateResult(
                MODEL_QUESTION_HELD,
                False,
                "the model wrote this question and no word of substance has changed: "
                "rewrite it so it asks what the quote says, then approve it",
            )
        )
    pair.checks = quality.checks_as_json(results, version=pair.version)
    blocking = [r for r in results if refused or r.name not in _JUDGEMENT_CHECKS]
    failed = gates.gates_summary(blocking)
    if failed:
        raise ReviewError(
            "This pair fails the automatic checks, so it cannot be approved as it is: "
            + "; ".join(failed)
            + ". Edit it so the checks pass, or reject it."
        )


# A pair the checks refused is not queued, but a reviewer who opens it may rescue it by
# editing it until the checks pass.
REVIEWABLE = (QAPair.Status.PENDING, QAPair.Status.FAILED_CHECKS)


def _review_check(pair: QAPair, user) -> None:
    if pair.status not in REVIEWABLE:
        raise ReviewError(f"This pair was already {pair.get_status_display().lower()}.")
    if claim_held_by_other(item=pair, user=user):
        raise ReviewError("Another reviewer is working on this pair.")
    if pair.reviews.filter(reviewer=user, version=pair.version).exists():
        raise ReviewError("You have already reviewed this pair; it needs another reviewer.")


def _pair_text(pair: QAPair) -> dict[str, str]:
    return {"question": pair.question, "answer": pair.answer, "quote": pair.quote}


def _decision_log(pair: QAPair, user, shown: dict[str, str], **decision) -> None:
    """The one decision-log entry of a review (approval with or without edits, rejection),
    written in the review's transaction: the text as the reviewer found it and as it is now."""
    from apps.oversight.services import Area, decision_record

    decision_record(
        area=Area.QA,
        object_type=pair._meta.label_lower,
        object_id=pair.pk,
        object_version=pair.version,
        editor=user,
        before=shown,
        after=_pair_text(pair),
        product_line=pair.product_line.name if pair.product_line_id else "",
        model=pair.model,
        prompt_version=pair.prompt_version,
        ai_created_at=pair.created_at,
        **decision,
    )


def _edits_apply(pair: QAPair, changes: dict) -> bool:
    """Apply a reviewer's edits; any change raises the pair's version (the review's
    decision-log entry records before and after)."""
    edited = False
    for field, new in changes.items():
        if new is None or normalise(new) == normalise(getattr(pair, field)):
            continue
        setattr(pair, field, new.strip())
        edited = True
    if edited:
        pair.version += 1
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
    version: int | None = None,
) -> QAPair:
    return pair_review(
        pair=pair,
        user=user,
        decision=Review.Decision.APPROVE,
        question=question,
        answer=answer,
        quote=quote,
        note=reason,
        version=version,
    )


def pair_reject(
    *, pair: QAPair, user, reason: str, note: str = "", version: int | None = None
) -> QAPair:
    return pair_review(
        pair=pair,
        user=user,
        decision=Review.Decision.REJECT,
        reason=reason,
        note=note,
        version=version,
    )
