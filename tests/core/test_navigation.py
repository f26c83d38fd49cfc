import pytest
from django.urls import reverse

from tests import factories


@pytest.mark.parametrize(
    ("make_user", "visible", "hidden"),
    [
        (
            factories.reviewer,
            ["Documents", "Hit testing"],
            ["Ingest", "Evaluation", "Telemetry", "Admin"],
        ),
        (
            factories.lead,
            ["Documents", "Hit testing", "Ingest", "Evaluation", "Telemetry"],
            ["Admin"],
        ),
        (factories.admin, ["Documents", "Ingest", "Evaluation", "Admin"], []),
    ],
)
def test_navigation_shows_each_role_its_screens(client, db, make_user, visible, hidden):
    client.force_login(make_user())
    page = client.get(reverse("home")).content.decode()
    nav = page[page.index('<nav aria-label="Main">') : page.index("</nav>")]
    for label in visible:
        assert f">{label}</a>" in nav
    for label in hidden:
        assert f">{label}</a>" not in nav


def test_pages_carry_the_csrf_token_for_htmx_in_the_body(client, db):
    client.force_login(factories.reviewer())
    page = client.get(reverse("home")).content.decode()
    assert '<body hx-headers=\'{"X-CSRFToken": "' in page
    assert "django_htmx/htmx" in page


def test_messages_reach_htmx_requests_as_an_out_of_band_swap(client, db):
    from apps.knowledge.models import IngestJob

    client.force_login(factories.lead())
    job = IngestJob.objects.create(status=IngestJob.Status.DONE)
    client.post(reverse("knowledge:job_retry", args=[job.pk]))  # queues a warning message
    response = client.get(
        reverse("knowledge:job_detail", args=[job.pk]), headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert 'id="messages"' in body and 'hx-swap-oob="true"' in body
    assert "Nothing to retry" in body


def test_an_htmx_action_without_a_message_clears_the_last_one_and_a_poll_does_not(client, db):
    from apps.knowledge.models import IngestJob

    client.force_login(factories.lead())
    job = IngestJob.objects.create(status=IngestJob.Status.DONE)
    hx = {"HX-Request": "true"}
    poll = client.get(reverse("knowledge:job_detail", args=[job.pk]), headers=hx)
    assert 'id="messages"' not in poll.content.decode()
    first, _ = factories.qa_pairs(2)
    action = client.post(
        reverse("synthetic:review_next"), {"run": first.run_id}, headers=hx
    ).content.decode()
    messages = action.split('id="messages"', 1)[1].split("</div>", 1)[0]
    assert 'hx-swap-oob="true"' in messages and "message-" not in messages
