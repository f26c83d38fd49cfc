import os

from celery import shared_task
from django.db import connection


@shared_task
def worker_health() -> dict:
    """Proves a worker is alive and can reach the database (used by the health check)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    return {
        "pid": os.getpid(),
        "database": connection.settings_dict["NAME"],
        "pgvector": row[0] if row else None,
    }
