"""Celery entry points: take ids, re-fetch, call a service."""

from celery import shared_task
from django.db import transaction

from apps.synthetic import services


# Idempotent, so acks_late: a worker killed mid-slice gets the message back with the same task
# id, which is the lease the run was handed, and carries on; every unit of work is written at
# most once. A slice stops well within the soft time limit and queues the rest as a new task.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def generation_run_execute(self, run_id: int, slice_chunks: int | None = None) -> None:
    following = services.generation_run_execute(
        run_id=run_id,
        lease=self.request.id,
        max_chunks=slice_chunks or services.SLICE_MAX_CHUNKS,
        time_budget=services.slice_time_budget(),
    )
    if following:
        generation_run_queue(run_id=run_id, lease=following, slice_chunks=slice_chunks)


def generation_run_queue(
    *, run_id: int, lease: str | None = None, slice_chunks: int | None = None
) -> None:
    """Queue a slice once the current transaction commits; `lease` becomes the task's id."""
    transaction.on_commit(
        lambda: generation_run_execute.apply_async(
            (run_id,), {"slice_chunks": slice_chunks}, task_id=lease
        )
    )
