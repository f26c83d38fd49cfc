import http.client
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from reviewdesk import settings
from tests.conftest import ROOT


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("yes", True), ("off", False)])
def test_boolean_variables_accept_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert settings.env_bool("SOME_FLAG") is expected


@pytest.mark.parametrize(
    ("helper", "raw", "message"),
    [
        (settings.env_bool, "maybe", "is not a boolean"),
        (settings.env_int, "ten", "is not an integer"),
        (settings.env_float, "fast", "is not a number"),
    ],
)
def test_malformed_variables_stop_start_up_naming_the_variable(monkeypatch, helper, raw, message):
    monkeypatch.setenv("SOME_VALUE", raw)
    with pytest.raises(ImproperlyConfigured, match=f"SOME_VALUE.*{message}"):
        helper("SOME_VALUE", 0) if helper is not settings.env_bool else helper("SOME_VALUE")


def test_integers_below_their_minimum_are_refused(monkeypatch):
    monkeypatch.setenv("CHUNKS", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 16"):
        settings.env_int("CHUNKS", 300, minimum=16)


def test_required_strings_must_be_set(monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ImproperlyConfigured, match="NOT_SET_ANYWHERE must be set"):
        settings.env_str("NOT_SET_ANYWHERE")


def test_debug_is_off_unless_asked():
    assert settings.env_bool("DEBUG_NEVER_SET_IN_TESTS") is False


# --- production settings, checked in a fresh interpreter ---------------------------------------
# Settings are read once per process, so each case starts Django in a subprocess with its own
# environment. Variables a developer may have exported are dropped first so the case sees only
# what it sets. The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for this process: not for them.
_DEPLOYMENT_VARIABLES = (
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DATABASE_URL",
    "DEBUG",
    "PRODUCTION",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SECURE_COOKIES",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "TRUST_X_FORWARDED_PROTO",
    "TRUSTED_PROXY_COUNT",
    "LOGIN_FAILURE_LIMIT",
    "LOGIN_LOCKOUT_MINUTES",
)
_PRINT_SETTINGS = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.SECRET_KEY, s.SESSION_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS)"
)


def _django(tmp_path, *args: str, **variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in _DEPLOYMENT_VARIABLES}
    env.update(DJANGO_SETTINGS_MODULE="reviewdesk.settings", REVIEWDESK_VAR_DIR=str(tmp_path))
    env.update(variables)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _production(**extra: str) -> dict[str, str]:
    return {
        "PRODUCTION": "1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "reviewdesk.example.com",
        "TRUST_X_FORWARDED_PROTO": "1",
        **extra,
    }


def test_production_settings_pass_the_deployment_checklist(tmp_path):
    result = _django(tmp_path, "manage.py", "check", "--deploy", **_production())
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_production_turns_on_https_only_cookies_redirects_and_hsts(tmp_path):
    result = _django(tmp_path, "-c", _PRINT_SETTINGS, **_production(SECRET_KEY="k" * 50))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["k" * 50, "True", "True", "31536000"]


def test_each_https_default_can_be_turned_off_on_its_own(tmp_path):
    result = _django(
        tmp_path,
        "-c",
        _PRINT_SETTINGS,
        **_production(SECRET_KEY="k" * 50, SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="60"),
    )
    assert result.stdout.split() == ["k" * 50, "True", "False", "60"], result.stderr


def test_production_with_debug_on_is_refused(tmp_path):
    result = _django(tmp_path, "manage.py", "check", **_production(DEBUG="1"))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "DEBUG" in result.stderr


@pytest.mark.parametrize(
    "variables",
    [{"PRODUCTION": "1"}, {"DATABASE_URL": "postgres://reviewdesk@127.0.0.1:9/reviewdesk"}],
    ids=["production", "external-database"],
)
def test_a_missing_secret_key_outside_the_local_set_up_stops_start_up(tmp_path, variables):
    result = _django(tmp_path, "manage.py", "check", **variables)
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set" in result.stderr, result.stderr
    assert "secrets.token_urlsafe" in result.stderr  # says how to make one
    assert not (tmp_path / "secret-key").exists()


def test_the_local_set_up_generates_a_secret_key_once_and_keeps_it(tmp_path):
    first = _django(tmp_path, "-c", _PRINT_SETTINGS)
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "secret-key"
    assert first.stdout.split()[0] == key_file.read_text().strip()
    assert key_file.stat().st_mode & 0o777 == 0o600
    second = _django(tmp_path, "-c", _PRINT_SETTINGS)
    assert second.stdout.split()[0] == first.stdout.split()[0]
    # Local runs are plain http: no HTTPS-only cookies, redirects or HSTS.
    assert first.stdout.split()[1:] == ["False", "False", "0"]


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("LOGIN_FAILURE_LIMIT", "0", "LOGIN_FAILURE_LIMIT=0 must be at least 1"),
        ("LOGIN_LOCKOUT_MINUTES", "soon", "LOGIN_LOCKOUT_MINUTES='soon' is not an integer"),
        ("TRUSTED_PROXY_COUNT", "-1", "TRUSTED_PROXY_COUNT=-1 must be at least 0"),
        ("TRUST_X_FORWARDED_PROTO", "maybe", "TRUST_X_FORWARDED_PROTO='maybe' is not a boolean"),
        ("SECURE_HSTS_SECONDS", "a year", "SECURE_HSTS_SECONDS='a year' is not an integer"),
    ],
)
def test_malformed_security_variables_stop_start_up(tmp_path, variable, raw, message):
    result = _django(tmp_path, "manage.py", "check", **{variable: raw})
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


# --- serving with gunicorn, as the README says ----------------------------------------------


@contextmanager
def _gunicorn(db_name: str, log: Path, **variables: str) -> Iterator[int]:
    """gunicorn on a port the kernel picks (no race for a free one); yields that port."""
    env = {k: v for k, v in os.environ.items() if k not in _DEPLOYMENT_VARIABLES}
    # The web process reads the test database; the embedding model is not needed for /healthz.
    env.update(DATABASE_NAME_OVERRIDE=db_name, REVIEWDESK_WARM_UP="0", **variables)
    command = [
        *(sys.executable, "-m", "gunicorn", "reviewdesk.wsgi", "--workers", "1"),
        # No control socket: its default path in $HOME is shared by every gunicorn of the user.
        *("--bind", "127.0.0.1:0", "--no-control-socket"),
    ]
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", log.read_text())):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield int(found.group(1))
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _get(port: int, path: str) -> http.client.HTTPResponse:
    # The listening socket queues the request until the worker has booted.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_gunicorn_serves_the_app_and_reaches_the_database(django_db_setup, tmp_path):
    from django.db import connection

    with _gunicorn(connection.settings_dict["NAME"], tmp_path / "gunicorn.log") as port:
        response = _get(port, "/healthz")
    assert response.status == 200, (tmp_path / "gunicorn.log").read_text()


def test_in_production_plain_http_is_redirected_except_the_health_check(django_db_setup, tmp_path):
    from django.db import connection

    production = _production(ALLOWED_HOSTS="127.0.0.1")
    with _gunicorn(
        connection.settings_dict["NAME"], tmp_path / "gunicorn.log", **production
    ) as port:
        health, home = _get(port, "/healthz"), _get(port, "/")
    # A load balancer probes the private address over plain http: a redirect would fail it.
    assert health.status == 200, (tmp_path / "gunicorn.log").read_text()
    assert "Strict-Transport-Security" not in health.headers  # only ever sent over https
    assert home.status == 301
    assert home.headers["Location"] == f"https://127.0.0.1:{port}/"
