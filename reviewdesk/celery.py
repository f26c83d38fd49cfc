"""Celery application. Queues: `default`, `ingest` (parsing, embedding) and `llm` (generation),
so ingestion never waits behind slow model calls and each can get its own workers."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewdesk.settings")


class ReviewdeskCelery(Celery):
    """Starts the embedded Valkey broker the first time a connection is asked for."""

    def _ensure_broker(self) -> None:
        from django.conf import settings

        if settings.CELERY_EMBEDDED_BROKER and not settings.CELERY_TASK_ALWAYS_EAGER:
            from reviewdesk import embedded

            embedded.valkey_ensure(settings.EMBEDDED_VALKEY_SOCKET)

    def connection_for_write(self, *args, **kwargs):
        self._ensure_broker()
        return super().connection_for_write(*args, **kwargs)

    def connection_for_read(self, *args, **kwargs):
        self._ensure_broker()
        return super().connection_for_read(*args, **kwargs)


app = ReviewdeskCelery("reviewdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=24 * 3600,
    task_default_queue="default",
    task_queues=[Queue("default"), Queue("ingest"), Queue("llm")],
    task_routes={
        "apps.knowledge.tasks.*": {"queue": "ingest"},
        "apps.llm.tasks.*": {"queue": "llm"},
        "apps.synthetic.tasks.*": {"queue": "llm"},
        "apps.drafts.tasks.*": {"queue": "llm"},
    },
    # One task at a time per process: tasks are long (embedding, generation), and prefetching
    # would park work behind a busy process while another sits idle.
    worker_prefetch_multiplier=1,
    task_track_started=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks()
