"""A refused request is one log line; a server error keeps its traceback."""

import io
import logging
import sys

import pytest
from django.urls import reverse

from apps.core.logging import ClientErrorsWithoutTraceback
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def console():
    """What the configured console handler writes."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def test_a_reviewer_refused_a_lead_screen_is_logged_in_one_line_without_traceback(client, console):
    client.force_login(factories.reviewer())
    assert client.get(reverse("synthetic:runs")).status_code == 403
    logged = console.getvalue()
    assert "Forbidden" in logged and "/qa/runs/" in logged
    assert "Traceback" not in logged and "PermissionDenied" not in logged


def _record(status: int) -> logging.LogRecord:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        info = sys.exc_info()
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "x", (), info)
    record.status_code = status
    return record


def test_a_server_error_keeps_its_traceback():
    record = _record(500)
    assert ClientErrorsWithoutTraceback().filter(record) and record.exc_info is not None
    refused = _record(404)
    assert ClientErrorsWithoutTraceback().filter(refused) and refused.exc_info is None
