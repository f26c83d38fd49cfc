from celery import shared_task

from apps.synthetic import services


@shared_task
def generation_run_execute(run_id: int) -> None:
    services.generation_run_execute(run_id=run_id)
