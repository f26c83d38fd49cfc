import pytest
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


def test_a_reviewer_sent_to_a_lead_screen_gets_the_sites_layout_the_role_needed_and_a_way_home(
    client,
):
    client.force_login(factories.reviewer(username="riley"))
    response = client.get(reverse("knowledge:upload"))
    body = response.content.decode()
    assert response.status_code == 403
    assert '<nav aria-label="Main">' in body and ">Review Q&amp;A</a>" in body
    assert "This screen is for support leads." in body
    assert f'<a class="button primary" href="{reverse("home")}">Back to home</a>' in body
    assert "riley" in body and "(Reviewer)" in body


def test_a_user_without_a_role_is_told_which_roles_open_a_reviewer_screen(client):
    client.force_login(factories.UserFactory())
    body = client.get(reverse("synthetic:queue")).content.decode()
    assert "This screen is for reviewers and support leads." in body


def test_a_missing_page_keeps_the_navigation(client):
    client.force_login(factories.lead())
    response = client.get("/no/such/page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert '<nav aria-label="Main">' in body and "/no/such/page/" in body
    assert "Back to home" in body
