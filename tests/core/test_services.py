"""The real moving parts: the embedded PostgreSQL with pgvector, and a Celery round trip."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection

from apps.core import checks


@pytest.mark.django_db
def test_the_database_is_postgres_with_pgvector_and_trigram_enabled():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension")
        assert {"vector", "pg_trgm"} <= {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db
def test_a_server_without_pgvector_gets_a_clear_message_not_a_traceback(monkeypatch):
    monkeypatch.setattr(checks, "extensions_available", lambda alias: {"plpgsql", "pg_trgm"})
    with pytest.raises(SystemCheckError) as error:
        call_command("check", databases=["default"])
    assert "has no 'vector' extension" in str(error.value)
    assert "pgvector" in str(error.value)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_task_round_trips_through_the_real_broker_and_worker(celery_worker):
    from apps.core.tasks import worker_health

    result = worker_health.delay().get(timeout=60)
    assert result["pid"] == celery_worker.pid
    assert result["database"] == connection.settings_dict["NAME"]
    assert result["pgvector"].startswith("0.8")
