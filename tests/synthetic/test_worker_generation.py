"""A generation run started in the browser, executed by a real worker with the real GGUF."""

import time

import pytest
from django.urls import reverse

from apps.llm.models import LLMCall
from apps.synthetic.models import GenerationRun
from tests import factories

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_run_started_in_the_browser_is_generated_by_the_worker(client, celery_worker, demo_docs):
    client.force_login(factories.lead())
    client.post(
        reverse("synthetic:runs"),
        {
            "kinds": ["limits", "error_code"],
            "chunk_limit": 2,
            "per_chunk": 1,
            "required_approvals": 1,
            "seed": 0,
        },
    )
    run = GenerationRun.objects.get()
    deadline = time.monotonic() + 240
    while run.status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(1)
        run.refresh_from_db()
    assert run.status == GenerationRun.Status.DONE and run.done_chunks == 2
    assert {p.product_line.name for p in run.pairs.all()} == {"Pro", "Enterprise"}
    # Each question was written by the real model or composed by the app, and the model was
    # asked.
    pairs = list(run.pairs.select_related("llm_call"))
    assert all(p.question_composed or p.llm_call.backend == "llama.cpp" for p in pairs)
    assert LLMCall.objects.filter(backend="llama.cpp").exists()
    page = client.get(reverse("synthetic:run_detail", args=[run.pk]))
    assert "2 of 2 chunks" in page.content.decode()


def test_a_run_split_into_one_task_per_chunk_is_completed_by_the_worker(celery_worker, demo_docs):
    from apps.synthetic import services, tasks

    run = services.generation_run_create(kinds=["limits"], per_chunk=1, chunk_limit=3, seed=2)
    tasks.generation_run_queue(run_id=run.pk, slice_chunks=1)  # each task re-queues the rest
    deadline = time.monotonic() + 300
    while run.status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(1)
        run.refresh_from_db()
    assert run.status == GenerationRun.Status.DONE, run.error
    assert run.slices == 3 and run.done_chunks == run.total_chunks == 3
    assert sorted(run.pairs.values_list("slot", flat=True)) == [0, 1, 2]
