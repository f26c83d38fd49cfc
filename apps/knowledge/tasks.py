"""Celery entry points: take ids, re-fetch, call a service."""

from celery import shared_task

from apps.knowledge import evaluation, services


# acks_late: a worker killed mid-job gets the job redelivered; the service is idempotent. It
# claims the job with a conditional UPDATE (queued, or running with a stale heartbeat, so a
# redelivery while the first worker lives does nothing), claims items the same way, and skips
# unchanged documents by hash.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def ingest_job_run(job_id: int) -> None:
    services.ingest_job_run(job_id=job_id)


@shared_task
def eval_run_execute(run_id: int) -> None:
    evaluation.eval_run_execute(run_id=run_id)
