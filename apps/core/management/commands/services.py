from django.conf import settings
from django.core.management.base import BaseCommand

from reviewdesk import embedded


class Command(BaseCommand):
    help = "Start, stop or show the embedded PostgreSQL and Valkey (used when none is configured)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "stop", "status"])
        parser.add_argument(
            "--only", default="postgres,valkey", help="Comma-separated subset of: postgres, valkey."
        )
        parser.add_argument(
            "--print-started",
            action="store_true",
            help="With start: print only the names of services this started.",
        )

    def handle(self, *args, action: str, only: str, print_started: bool, **options):
        wanted = {name.strip() for name in only.split(",")}
        pgdata = self._pgdata() if "postgres" in wanted else None
        sock = settings.EMBEDDED_VALKEY_SOCKET if settings.CELERY_EMBEDDED_BROKER else None
        sock = sock if "valkey" in wanted else None
        if action == "start" and print_started:
            self.stdout.write(",".join(self._start_quietly(pgdata, sock)))
            return
        getattr(self, f"_{action}")(pgdata, sock)

    def _start_quietly(self, pgdata, sock) -> list[str]:
        started = []
        if pgdata and not embedded.postgres_running(pgdata):
            embedded.postgres_ensure(pgdata)
            started.append("postgres")
        if sock and not embedded.valkey_ping(sock):
            embedded.valkey_ensure(sock)
            started.append("valkey")
        return started

    def _pgdata(self):
        from pathlib import Path

        path = settings.DATABASES["default"].get("OPTIONS", {}).get("embedded_pgdata")
        return Path(path) if path else None

    def _start(self, pgdata, sock) -> None:
        if pgdata:
            embedded.postgres_ensure(pgdata)
            self.stdout.write(f"PostgreSQL: running ({pgdata})")
        if sock:
            embedded.valkey_ensure(sock)
            self.stdout.write(f"Valkey: running ({sock})")

    def _stop(self, pgdata, sock) -> None:
        if sock and embedded.valkey_stop(sock):
            self.stdout.write("Valkey: stopped")
        if pgdata and embedded.postgres_stop(pgdata):
            self.stdout.write("PostgreSQL: stopped")

    def _status(self, pgdata, sock) -> None:
        if pgdata:
            state = "running" if embedded.postgres_running(pgdata) else "stopped"
            self.stdout.write(f"PostgreSQL (embedded, {pgdata}): {state}")
        else:
            self.stdout.write("PostgreSQL: external (DATABASE_URL)")
        if sock:
            state = "running" if embedded.valkey_ping(sock) else "stopped"
            self.stdout.write(f"Valkey (embedded, {sock}): {state}")
        else:
            self.stdout.write("Broker: external (CELERY_BROKER_URL)")
