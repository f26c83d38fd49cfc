"""From an empty var/: the first command creates the database server, enables pgvector and
applies every migration; a second run changes nothing."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _manage(var_dir, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, REVIEWDESK_VAR_DIR=str(var_dir))
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_a_clean_var_directory_is_set_up_by_migrate(tmp_path):
    var_dir = tmp_path / "var"
    try:
        first = _manage(var_dir, "migrate", "--noinput")
        assert first.returncode == 0, first.stderr
        assert "Applying knowledge.0001_initial... OK" in first.stdout
        assert (var_dir / "pg" / "PG_VERSION").exists()
        check = _manage(
            var_dir,
            "shell",
            "-c",
            "from django.db import connection; c = connection.cursor(); "
            "c.execute(\"SELECT string_agg(extname, ',' ORDER BY extname) "
            'FROM pg_extension"); print(c.fetchone()[0])',
        )
        assert "pg_trgm" in check.stdout and "vector" in check.stdout
        again = _manage(var_dir, "migrate", "--noinput")
        assert again.returncode == 0 and "No migrations to apply." in again.stdout
    finally:
        _manage(var_dir, "services", "stop", "--only", "postgres")
