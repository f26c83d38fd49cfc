"""Generation runs end in a recorded state, can be resumed where they stopped, never write a
unit of work twice, stop early when the model is unreachable, and are worked in slices."""

import datetime as dt

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from apps.llm.backends import BackendUnavailable
from apps.synthetic import quality, services, tasks
from apps.synthetic.models import RUN_STALE_AFTER, GenerationRun, QAPair
from tests import factories
from tests.fakes import ScriptedBackend, fact_question

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("model_writes_first")]

EXHAUSTED = '{"oops": 1}'


@pytest.fixture(autouse=True)
def _no_duplicates(settings):
    """The demo docs repeat some sentences across product lines; here the run's mechanics are
    under test (one model call per unit), not the duplicate check."""
    settings.SYNTHETIC_DUPLICATE_SIMILARITY = 1.01


def _drafts(n):
    """n scripted answers that pass the checks: the run's mechanics are under test here."""
    return [fact_question] * n


def _run(limit=4, per_chunk=1):
    return services.generation_run_create(
        kinds=["limits", "how_to"], per_chunk=per_chunk, chunk_limit=limit, seed=1
    )


def _stall(run):
    """What the clock shows once the run's task has said nothing for longer than allowed."""
    GenerationRun.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - RUN_STALE_AFTER - dt.timedelta(minutes=1)
    )


def _slots(run):
    return list(run.pairs.order_by("slot").values_list("slot", flat=True))


def test_an_exception_in_the_middle_marks_the_run_failed_with_the_reason(demo_docs, client):
    backend = ScriptedBackend(fact_question, RuntimeError("the disk is full"), when_empty=EXHAUSTED)
    run = _run(limit=4)
    assert services.generation_run_execute(run_id=run.pk, backend=backend) is None
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.FAILED and run.finished_at is not None
    assert "the disk is full" in run.error and run.lease == ""
    assert run.pairs.count() == 1 and run.done_chunks == 1
    client.force_login(factories.lead())
    page = client.get(reverse("synthetic:run_detail", args=[run.pk])).content.decode()
    assert "the disk is full" in page and "Resume run" in page


def test_a_run_cut_by_the_soft_time_limit_resumes_where_it_stopped_without_duplicates(
    demo_docs, client
):
    run = _run(limit=3, per_chunk=2)
    first = ScriptedBackend(*_drafts(3), SoftTimeLimitExceeded(), when_empty=EXHAUSTED)
    services.generation_run_execute(run_id=run.pk, backend=first)
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.FAILED and "time limit" in run.error
    assert _slots(run) == [0, 1, 2] and run.done_chunks == 1  # chunk 2 was half done

    client.force_login(factories.lead())
    with_resume = client.get(reverse("synthetic:run_detail", args=[run.pk])).content.decode()
    assert "Resume run" in with_resume
    client.post(reverse("synthetic:run_resume", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.QUEUED and run.lease and run.error == ""

    second = ScriptedBackend(*[fact_question] * 3, when_empty=EXHAUSTED)
    services.generation_run_execute(run_id=run.pk, lease=run.lease, backend=second)
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.DONE and run.done_chunks == 3
    assert _slots(run) == [0, 1, 2, 3, 4, 5]  # one pair per unit, none twice
    asked = run.pairs.filter(slot__in=[3, 4, 5]).exclude(quote="")
    assert len(second.prompts) == asked.count()  # only missing units, with a sentence left
    assert all(p.kind in quality.sentence_kinds(p.quote) for p in run.pairs.exclude(quote=""))
    assert not run.pairs.filter(status=QAPair.Status.NEEDS_HUMAN).exists()


def test_a_redelivered_task_does_not_write_a_unit_twice(demo_docs):
    """A worker killed after writing a pair but before recording progress: the message comes
    back with the same task id (the lease) and the run carries on."""
    run = _run(limit=3)
    services.generation_run_execute(
        run_id=run.pk, lease="task-1", backend=ScriptedBackend(*_drafts(2)), max_chunks=2
    )
    GenerationRun.objects.filter(pk=run.pk).update(done_chunks=1, lease="task-1")
    again = ScriptedBackend(fact_question, when_empty=EXHAUSTED)
    services.generation_run_execute(run_id=run.pk, lease="task-1", backend=again)
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.DONE and _slots(run) == [0, 1, 2]
    assert len(again.prompts) == 1


def test_a_stalled_run_is_offered_resume_and_a_live_one_is_not(demo_docs, client):
    run = _run(limit=3)
    following = services.generation_run_execute(
        run_id=run.pk, backend=ScriptedBackend(fact_question), max_chunks=1
    )
    run.refresh_from_db()
    assert following and run.status == GenerationRun.Status.RUNNING and run.lease == following
    client.force_login(factories.lead())
    url = reverse("synthetic:run_detail", args=[run.pk])
    assert "Resume run" not in client.get(url).content.decode()
    assert services.generation_run_resume(run=run) is None  # its task is alive

    _stall(run)  # ...and then the next task never came (worker killed, message lost)
    page = client.get(url).content.decode()
    assert "Resume run" in page and "may have stopped" in page
    reviewer = factories.reviewer()
    client.force_login(reviewer)
    client.post(reverse("synthetic:run_resume", args=[run.pk]))
    assert GenerationRun.objects.get(pk=run.pk).lease == following  # leads only

    lease = services.generation_run_resume(run=run)
    assert lease and lease != following
    # The task the run was handed to before can no longer take it.
    late = ScriptedBackend(when_empty=EXHAUSTED)
    assert services.generation_run_execute(run_id=run.pk, lease=following, backend=late) is None
    assert late.prompts == []
    services.generation_run_execute(
        run_id=run.pk, lease=lease, backend=ScriptedBackend(*[fact_question] * 2)
    )
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.DONE and _slots(run) == [0, 1, 2]


def test_a_task_that_loses_the_run_mid_chunk_writes_nothing_more(demo_docs):
    """A lead resumes a run whose old task was only slow: the old task's pair in flight is
    not written, and the new task writes it once."""
    run = _run(limit=2)
    leases = []

    def resumed_meanwhile(prompt):
        _stall(run)
        leases.append(services.generation_run_resume(run=run))
        return fact_question(prompt)

    old = ScriptedBackend(fact_question, resumed_meanwhile, when_empty=EXHAUSTED)
    assert services.generation_run_execute(run_id=run.pk, lease="old", backend=old) is None
    run.refresh_from_db()
    assert leases[0] and run.lease == leases[0] and _slots(run) == [0]
    assert run.status == GenerationRun.Status.QUEUED
    new = ScriptedBackend(fact_question)
    services.generation_run_execute(run_id=run.pk, lease=leases[0], backend=new)
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.DONE and _slots(run) == [0, 1]


def test_an_unreachable_backend_stops_the_run_early_with_that_reason(demo_docs):
    down = BackendUnavailable("connection refused by 127.0.0.1:8080")
    backend = ScriptedBackend(fact_question, when_empty=down)
    run = _run(limit=4)
    services.generation_run_execute(run_id=run.pk, backend=backend)
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.FAILED
    assert run.error == ("The model backend is unavailable: connection refused by 127.0.0.1:8080")
    assert len(backend.prompts) == 2  # no third chunk was tried
    assert run.pairs.count() == 1
    assert not run.pairs.filter(status=QAPair.Status.NEEDS_HUMAN).exists()


def test_invalid_output_is_still_kept_for_a_person_and_the_run_goes_on(demo_docs):
    backend = ScriptedBackend("nope", "{}", "[]", fact_question)
    run = _run(limit=2)
    services.generation_run_execute(run_id=run.pk, backend=backend)
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.DONE and run.error == ""
    statuses = list(run.pairs.order_by("slot").values_list("status", flat=True))
    assert statuses == [QAPair.Status.NEEDS_HUMAN, QAPair.Status.PENDING]


def test_a_long_run_is_worked_in_slices_that_add_up(demo_docs):
    run = _run(limit=5)
    backend = ScriptedBackend(*_drafts(5))
    lease, calls = None, 0
    while True:
        lease = services.generation_run_execute(
            run_id=run.pk, lease=lease, backend=backend, max_chunks=2
        )
        calls += 1
        run.refresh_from_db()
        if lease is None:
            break
        assert run.status == GenerationRun.Status.RUNNING and run.lease == lease
    assert calls == 3 and run.slices == 3
    assert run.status == GenerationRun.Status.DONE and run.done_chunks == run.total_chunks == 5
    assert _slots(run) == [0, 1, 2, 3, 4] and len(backend.prompts) == 5


def test_a_slice_stops_starting_chunks_once_its_time_budget_is_spent(demo_docs):
    run = _run(limit=3)
    backend = ScriptedBackend(*_drafts(3))
    lease = services.generation_run_execute(run_id=run.pk, backend=backend, time_budget=1e-9)
    run.refresh_from_db()
    assert lease and run.done_chunks == 1  # always one chunk, so every slice moves on
    assert services.slice_time_budget() < settings.CELERY_TASK_SOFT_TIME_LIMIT


def test_the_generation_task_is_acknowledged_only_after_it_ran():
    task = tasks.generation_run_execute
    assert task.acks_late is True and task.reject_on_worker_lost is True


def test_a_cancelled_run_stops_before_the_next_chunk(demo_docs):
    run = _run(limit=4)

    def cancel_meanwhile(prompt):
        services.generation_run_cancel(run=run)
        return fact_question(prompt)

    backend = ScriptedBackend(cancel_meanwhile, when_empty=EXHAUSTED)
    services.generation_run_execute(run_id=run.pk, backend=backend)
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.CANCELLED and run.done_chunks == 1
    assert run.pairs.count() == 1 and len(backend.prompts) == 1


def test_a_stalled_run_can_be_cancelled(demo_docs):
    run = _run(limit=3)
    services.generation_run_execute(
        run_id=run.pk, backend=ScriptedBackend(fact_question), max_chunks=1
    )
    _stall(run)
    services.generation_run_cancel(run=run)
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.CANCELLED
    assert services.generation_run_resume(run=run) is None


def test_a_model_server_that_is_down_fails_the_run_at_once_with_the_reason(demo_docs):
    from apps.llm.backends import OpenAICompatibleBackend

    # The real HTTP backend, pointed at the loopback discard port where nothing listens.
    down = OpenAICompatibleBackend(
        base_url="http://127.0.0.1:9/v1",
        api_key="",
        model="default",
        timeout=5,
        retries=0,
        response_format="json_schema",
    )
    run = _run(limit=3)
    services.generation_run_execute(run_id=run.pk, backend=down)
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.FAILED
    assert run.error.startswith("The model backend is unavailable: http://127.0.0.1:9/v1")
    assert run.pairs.count() == 0 and run.done_chunks == 0
