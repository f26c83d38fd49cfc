"""A request declaring a body larger than any upload may be is refused before it is read."""

import pytest
from django.urls import reverse

from tests.factories import lead

pytestmark = pytest.mark.django_db


def test_an_upload_declaring_more_than_the_limit_is_refused_with_413_before_the_view(
    client, settings
):
    settings.UPLOAD_MAX_BYTES = 2 * 1024 * 1024
    client.force_login(lead())
    response = client.generic(
        "POST",
        reverse("knowledge:upload"),
        data=b"x" * 10,
        content_type="multipart/form-data; boundary=zzz",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert "accepts at most 2 MB per upload" in response.content.decode()
    assert response["Connection"] == "close"


def test_a_request_within_the_limit_reaches_the_view(client, settings):
    settings.UPLOAD_MAX_BYTES = 2 * 1024 * 1024
    client.force_login(lead())
    response = client.post(reverse("knowledge:upload"), data={"product_line": ""})
    assert response.status_code == 200
    assert b"errorlist" in response.content  # the form answered: nothing chosen
