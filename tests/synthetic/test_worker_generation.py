"""A generation run started in the browser, executed by a real worker with the real GGUF."""

import time

import pytest
from django.urls import reverse

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
    assert all(p.llm_call.backend == "llama.cpp" for p in run.pairs.all())
    page = client.get(reverse("synthetic:run_detail", args=[run.pk]))
    assert "2 of 2 chunks" in page.content.decode()
