from celery import shared_task

from apps.delivery import services


# Idempotent: the attempt is claimed with a conditional UPDATE before anything is sent, so a
# message redelivered after a lost worker either makes the attempt (it was never claimed) or
# does nothing (it was). Hence acks_late: a worker killed before the claim loses no attempt.
# A worker killed after the claim leaves the delivery "sending"; it is then shown as stalled
# with "Send again" (receivers deduplicate on the delivery id if that POST did arrive).
# Queued on "default" by services._queue_on_commit: quick HTTP calls, never behind the model.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def delivery_send(delivery_id: int, number: int) -> None:
    services.delivery_attempt(delivery_id=delivery_id, number=number)
