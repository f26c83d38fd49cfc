import pytest
from django.core.exceptions import ImproperlyConfigured

from reviewdesk import settings


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
