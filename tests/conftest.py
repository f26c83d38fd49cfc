"""Shared fixtures. Tests run on the real embedded PostgreSQL+pgvector (database
test_reviewdesk) and, where marked, a real Celery worker on the embedded Valkey."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pgtrigger
import pytest
from django.core.management import call_command

# Valkey database 1 for tests: a dev worker (database 0) never takes a test task. Set before
# any worker subprocess starts; the producer side is pointed there in `_test_broker`.
# TEST_VALKEY_DB (with TEST_DATABASE_NAME) lets two test runs share one machine.
TEST_VALKEY_DB = os.environ.get("TEST_VALKEY_DB", "1")
os.environ["VALKEY_DB"] = TEST_VALKEY_DB
ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _flush_past_the_decision_log():
    """The decision log refuses TRUNCATE, and transactional tests (live_server,
    transaction=True) empty every table with one TRUNCATE afterwards: only that flush is let
    through."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def flush(self, sql_list):
        _worker_drain()
        with pgtrigger.ignore("oversight.EditLogEntry:refuse_truncate"):
            original(self, sql_list)

    DatabaseOperations.execute_sql_flush = flush
    yield
    DatabaseOperations.execute_sql_flush = original


# Whether this session's real worker (celery_worker) is running.
_WORKER = {"running": False}


def _worker_drain(timeout: float = 120.0) -> None:
    """Before a transactional test's flush: no task of the test left queued or running. A
    task it queued on commit (seed_demo's tickets queue their drafts) would otherwise write
    while TRUNCATE waits for the tables, and Postgres ends one of them as a deadlock."""
    if not _WORKER["running"]:
        return
    from reviewdesk.celery import app

    app.control.purge()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # A solo-pool worker answers only between tasks: no answer means it is still busy;
        # a task it has prefetched would start next.
        inspect = app.control.inspect(timeout=1)
        if _idle(inspect.active()) and _idle(inspect.reserved()):
            return
        time.sleep(0.2)


def _idle(tasks: dict | None) -> bool:
    return tasks is not None and not any(tasks.values())


@pytest.fixture(scope="session", autouse=True)
def _test_broker():
    from django.conf import settings

    from reviewdesk.celery import app

    if settings.CELERY_EMBEDDED_BROKER:
        sock = settings.EMBEDDED_VALKEY_SOCKET
        app.conf.broker_url = f"redis+socket://{sock}?virtual_host={TEST_VALKEY_DB}"
        app.conf.result_backend = f"redis+socket://{sock}?db={TEST_VALKEY_DB}"
    yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Real password checks, without the deliberately slow production hash."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def client_for(client):
    """Log a user in on the test client and return the client."""

    def login(user):
        client.force_login(user)
        return client

    return login


def _worker_env(db_name: str) -> dict:
    env = dict(os.environ)
    env["DATABASE_NAME_OVERRIDE"] = db_name
    env["VALKEY_DB"] = TEST_VALKEY_DB
    env.setdefault("DJANGO_SETTINGS_MODULE", "reviewdesk.settings")
    return env


def worker_start(db_name: str, log: Path, queues: str = "default,ingest,llm") -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "reviewdesk",
        "worker",
        "-Q",
        queues,
        "--pool",
        "solo",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    handle = open(log, "ab")  # noqa: SIM115  (closed with the process)
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=_worker_env(db_name),
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def worker_wait_ready(process: subprocess.Popen, timeout: float = 120) -> None:
    from apps.core.tasks import worker_health

    result = worker_health.delay()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("The Celery worker exited during start-up; see its log.")
        if result.ready():
            result.get()
            return
        time.sleep(0.2)
    raise TimeoutError("The Celery worker did not answer within the timeout.")


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real worker process on the real broker, reading the test database."""
    from django.db import connection

    from reviewdesk.celery import app

    app.control.purge()
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    process = worker_start(connection.settings_dict["NAME"], log)
    try:
        worker_wait_ready(process)
        _WORKER["running"] = True
        yield process
    finally:
        _WORKER["running"] = False
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def demo_docs(db):
    """The demo product's documentation, ingested for real (embedding model included)."""
    from tests.factories import ProductLineFactory

    ProductLineFactory(name="Pro", slug="pro", aliases="pro plan")
    ProductLineFactory(name="Enterprise", slug="enterprise", aliases="enterprise plan, ent")
    call_command("seed_demo", verbosity=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
