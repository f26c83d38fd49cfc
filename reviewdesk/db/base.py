"""PostgreSQL engine that brings up the embedded server on first use.

With DATABASE_URL unset, the first connection of any process (web, worker, command, test)
starts the shared embedded server in var/pg and creates the database if it is missing. With
DATABASE_URL set it behaves exactly like Django's own PostgreSQL engine.
"""

from pathlib import Path

import psycopg
from django.db.backends.postgresql import base
from psycopg import sql

from reviewdesk import embedded


class DatabaseWrapper(base.DatabaseWrapper):
    _embedded_ready: set[str] = set()

    def get_connection_params(self):
        pgdata = self.settings_dict["OPTIONS"].get("embedded_pgdata")
        if pgdata:
            self._embedded_prepare(Path(pgdata))
        params = super().get_connection_params()
        params.pop("embedded_pgdata", None)
        return params

    def _embedded_prepare(self, pgdata: Path) -> None:
        socket_dir = embedded.postgres_ensure(pgdata)
        # The package may put the socket elsewhere when the path is too long for a socket.
        self.settings_dict["HOST"] = str(socket_dir)
        name = self.settings_dict["NAME"]
        if name and name not in self._embedded_ready:
            _database_create_if_missing(str(socket_dir), self.settings_dict["USER"], name)
            self._embedded_ready.add(name)


def _database_create_if_missing(host: str, user: str, name: str) -> None:
    with psycopg.connect(host=host, user=user, dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists and not name.startswith("test_"):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
