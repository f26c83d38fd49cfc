"""Login rate limiting: too many wrong passwords for one username from one address pause log-in
for that pair only, with a page that says when to try again; a success starts the count over."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import F
from django.test import override_settings
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db

HERE, ELSEWHERE = "127.0.0.1", "127.0.0.2"


def _log_in(client, username, password, address=HERE, forwarded_for=None):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        headers={"X-Forwarded-For": forwarded_for} if forwarded_for else {},
    )


def _fail(client, username, times, address=HERE, forwarded_for=None):
    attempts = [_log_in(client, username, "wrong", address, forwarded_for) for _ in range(times)]
    return attempts[-1]


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def _paused(response) -> bool:
    return response.status_code == 429 and b"Too many failed log-in attempts" in response.content


def test_after_too_many_wrong_passwords_the_right_one_is_refused_with_when_to_retry(client):
    factories.reviewer(username="riley")
    limit = settings.AXES_FAILURE_LIMIT
    assert _fail(client, "riley", limit - 1).status_code == 200  # the form, still
    assert _paused(_fail(client, "riley", 1))

    response = _log_in(client, "riley", factories.PASSWORD)

    assert _paused(response)
    assert not _logged_in(client)
    minutes = round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    assert f"Try again in {minutes} minutes, after" in response.content.decode()
    assert response["Retry-After"] == str(minutes * 60)
    assert 'role="alert"' in response.content.decode()


def test_a_pause_holds_only_that_username_from_that_address(client):
    factories.reviewer(username="riley")
    factories.reviewer(username="sam")
    assert _paused(_fail(client, "riley", settings.AXES_FAILURE_LIMIT))

    assert _log_in(client, "sam", factories.PASSWORD).status_code == 302
    client.logout()
    assert _log_in(client, "riley", factories.PASSWORD, ELSEWHERE).status_code == 302


def test_a_successful_log_in_starts_the_count_over(client):
    factories.reviewer(username="riley")
    limit = settings.AXES_FAILURE_LIMIT
    _fail(client, "riley", limit - 1)
    assert _log_in(client, "riley", factories.PASSWORD).status_code == 302
    client.logout()

    # Counted from zero again: the pause comes after a full series, not earlier.
    assert _fail(client, "riley", limit - 1).status_code == 200
    assert _paused(_fail(client, "riley", 1))


def test_the_pause_lifts_once_the_cool_off_has_passed(client):
    factories.reviewer(username="riley")
    assert _paused(_fail(client, "riley", settings.AXES_FAILURE_LIMIT))
    # As if the last attempt were one cool-off ago.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME)

    assert _log_in(client, "riley", factories.PASSWORD).status_code == 302


def test_the_admin_log_in_is_paused_too(client):
    factories.admin(username="ada")
    _fail(client, "ada", settings.AXES_FAILURE_LIMIT)

    response = client.post(
        reverse("admin:login"), {"username": "ada", "password": factories.PASSWORD}
    )

    assert _paused(response)


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_the_address_the_proxy_saw_is_the_one_paused(client):
    factories.reviewer(username="riley")
    # The proxy connects from HERE and appends the client's address; whatever the client put
    # in front of it is ignored, so a client cannot dodge the pause by inventing addresses.
    _fail(client, "riley", settings.AXES_FAILURE_LIMIT, forwarded_for="127.0.0.5")
    spoofed = "127.9.9.9, 127.0.0.5"

    assert _paused(_log_in(client, "riley", factories.PASSWORD, forwarded_for=spoofed))
    colleague = _log_in(client, "riley", factories.PASSWORD, forwarded_for="127.0.0.6")
    assert colleague.status_code == 302
