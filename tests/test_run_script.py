"""./run.sh stops everything it started when it is sent SIGTERM or SIGINT, and the bootstrap
says that llama-cpp-python compiles only when it would."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
# Settings the test run carries that would point ./run.sh away from its own scratch services.
NOT_INHERITED = (
    "DATABASE_URL",
    "DATABASE_NAME_OVERRIDE",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "VALKEY_DB",
    "TEST_DATABASE_NAME",
    "TEST_VALKEY_DB",
    "MEDIA_ROOT",
)


@pytest.fixture(scope="module")
def scratch_var():
    """One var dir for the module: the first start creates the database and loads the demo,
    the second finds them there and starts in seconds. Not under pytest's tmp_path: run as
    root, PostgreSQL runs as its own user and must traverse every folder above its data, and
    any pytest session starting meanwhile makes pytest's base folder private again."""
    root = Path(tempfile.mkdtemp(prefix="reviewdesk-run-sh-"))
    yield root / "var"
    shutil.rmtree(root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _daemon_pids(var: Path) -> set[int]:
    """The embedded PostgreSQL (with its own processes) and Valkey started under `var`."""
    pids = set()
    for pid_file in (var / "pg" / "postmaster.pid", var / "run" / "valkey.pid"):
        try:
            pid = int(pid_file.read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            continue
        pids.add(pid)
        try:
            pids |= {child.pid for child in psutil.Process(pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            pass
    return pids


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def _using(var: Path) -> set[int]:
    """Any process that names `var` on its command line or was started with it: whatever
    ./run.sh started, even what no pid file or parent link leads to."""
    marker = f"REVIEWDESK_VAR_DIR={var}"
    found = set()
    for process in psutil.process_iter(["pid", "cmdline", "environ"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
            environ = process.info["environ"] or {}
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        started_here = f"REVIEWDESK_VAR_DIR={environ.get('REVIEWDESK_VAR_DIR')}" == marker
        if str(var) in cmdline or started_here:
            found.add(process.info["pid"])
    return found - {os.getpid()}


def _wait_until(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.25)
    return check()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_sh_stops_the_server_the_worker_and_its_services_on_a_signal(scratch_var, signum):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(
        REVIEWDESK_VAR_DIR=str(scratch_var),
        HOST="127.0.0.1",
        PORT=str(port),
        WORKER_CONCURRENCY="1",
    )
    log_path = scratch_var.parent / f"run-{signum.name}.log"
    with open(log_path, "wb") as log:
        # Its own session, as when started in the background from a terminal: the signal
        # reaches the script alone, never the children directly.
        script = subprocess.Popen(
            ["./run.sh"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        up = _wait_until(lambda: _answers(port) or script.poll() is not None, timeout=240)
        log_tail = log_path.read_text(errors="replace")[-3000:]
        assert up and script.poll() is None, f"./run.sh did not start:\n{log_tail}"
        assert _answers(port)
        started = {child.pid for child in psutil.Process(script.pid).children(recursive=True)}
        started |= _daemon_pids(scratch_var)
        assert len(started) >= 4, "expected the server, the worker and both services"

        os.kill(script.pid, signum)
        script.wait(timeout=60)  # before the fix: still serving after a minute

        stopped = _wait_until(lambda: not _alive(started), timeout=20)
        log_tail = log_path.read_text(errors="replace")[-3000:]
        assert stopped, f"still running: {_alive(started)}\n{log_tail}"
        assert not _using(scratch_var), log_tail
        assert not _answers(port)
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
        leftover = _alive(_using(scratch_var) | _daemon_pids(scratch_var))
        for pid in leftover:  # never leave a stray server behind a failed test
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# --- the bootstrap's message -------------------------------------------------------------------


@pytest.fixture
def checkout(tmp_path) -> Path:
    """The bootstrap script in a scratch checkout whose .venv is the real one."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "bootstrap.sh", tmp_path / "scripts" / "bootstrap.sh")
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    return tmp_path


def _installed_llama() -> str:
    from importlib.metadata import version

    return version("llama_cpp_python")


def _bootstrap_says(checkout: Path, requirements: str) -> str:
    (checkout / "requirements.txt").write_text(requirements)
    result = subprocess.run(
        [str(checkout / "scripts" / "bootstrap.sh"), "--dry-run", "requirements.txt"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_the_bootstrap_says_llama_cpp_compiles_only_when_it_is_not_installed_as_pinned(
    checkout,
):
    pinned = _installed_llama()
    assert _bootstrap_says(checkout, f"llama_cpp_python=={pinned}\n") == (
        "Would install requirements.txt"
    )
    assert _bootstrap_says(checkout, "llama-cpp-python==0.0.1\n") == (
        "Would install requirements.txt (several minutes: llama-cpp-python 0.0.1 compiles)"
    )
    (checkout / ".venv").unlink()  # a fresh machine: nothing installed yet
    assert "llama-cpp-python 0.0.1 compiles" in _bootstrap_says(
        checkout, "llama-cpp-python==0.0.1\n"
    )
