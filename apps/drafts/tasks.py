from celery import shared_task

from apps.drafts import services


# Idempotent (the draft version is fixed when it is requested and unique per ticket), so
# acks_late: a worker killed mid-draft gets the message back, and the re-run writes the draft
# once; a half draft is never stored because a draft is written in one transaction.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def draft_write(ticket_id: int, version: int, user_id: int | None = None) -> None:
    services.draft_create(ticket_id=ticket_id, version=version, user_id=user_id)
