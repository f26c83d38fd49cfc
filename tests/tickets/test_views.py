import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.tickets.models import Ticket
from tests import factories
from tests.tickets.conftest import DATA

pytestmark = pytest.mark.django_db


def _upload(name="helpdesk_export.csv", content=None):
    return SimpleUploadedFile(name, content if content is not None else (DATA / name).read_bytes())


def test_a_lead_imports_a_file_and_sees_the_report_with_line_numbers(client_for, product_lines):
    client = client_for(factories.lead())
    response = client.post(reverse("tickets:import"), {"file": _upload()})

    page = response.content.decode()
    assert response.status_code == 200
    assert '<strong data-count="created">3</strong>' in page
    assert '<strong data-count="skipped">1</strong>' in page
    assert '<strong data-count="failed">3</strong>' in page
    assert '<td class="num">7</td><td>body</td><td>is required</td>' in page
    assert Ticket.objects.filter(created_by__isnull=False).count() == 3


def test_a_reviewer_cannot_open_or_post_the_import(client_for, product_lines):
    client = client_for(factories.reviewer())

    assert client.get(reverse("tickets:import")).status_code == 403
    assert client.post(reverse("tickets:import"), {"file": _upload()}).status_code == 403
    assert client.post(reverse("tickets:new"), {"body": "x"}).status_code == 403
    assert not Ticket.objects.exists()


def test_an_unreadable_file_is_refused_on_the_form_with_its_reason(client_for):
    client = client_for(factories.lead())
    response = client.post(
        reverse("tickets:import"), {"file": _upload("notes.csv", b"title;text\nHi;there\n")}
    )

    assert "No column for external_id" in response.content.decode()
    assert not Ticket.objects.exists()


def test_a_file_over_the_limit_is_refused_before_import(client_for, settings):
    settings.UPLOAD_MAX_FILE_BYTES = 1024
    client = client_for(factories.lead())
    big = b"id,body\n" + b"".join(b"%d,hello\n" % i for i in range(400))
    response = client.post(reverse("tickets:import"), {"file": _upload("big.csv", big)})

    assert "Split the file" in response.content.decode()
    assert not Ticket.objects.exists()


def test_report_text_from_the_file_is_escaped(client_for):
    client = client_for(factories.lead())
    content = b'id,body,email\n<b>1</b>,hi,"<script>alert(1)</script>"\n'
    page = client.post(reverse("tickets:import"), {"file": _upload("x.csv", content)}).content

    assert b"<script>alert(1)</script>" not in page
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_lead_creates_a_ticket_with_the_form(client_for, product_lines):
    client = client_for(factories.lead())
    response = client.post(
        reverse("tickets:new"),
        {
            "subject": "Locked out",
            "body": "I cannot sign in.\nSecond line.",
            "customer_email": "ivy@example.com",
            "product_line": product_lines["enterprise"].pk,
            "priority": "urgent",
        },
    )

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tickets:detail", args=[ticket.pk])
    assert ticket.source == Ticket.Source.WEB and ticket.external_id.startswith("web-")
    assert ticket.product_line == product_lines["enterprise"]
    detail = client.get(response["Location"]).content.decode()
    assert "I cannot sign in.<br>Second line." in detail and 'id="drafts"' in detail


def test_the_form_refuses_an_external_id_already_used_on_the_web(client_for):
    client = client_for(factories.lead())
    Ticket.objects.create(external_id="W-1", body="x", source=Ticket.Source.WEB)
    response = client.post(
        reverse("tickets:new"), {"external_id": "W-1", "body": "y", "priority": "normal"}
    )

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Ticket.objects.count() == 1


def test_the_list_filters_by_status_and_product_line_and_counts_per_status(
    client_for, product_lines
):
    pro, enterprise = product_lines["pro"], product_lines["enterprise"]
    make = Ticket.objects.create
    make(external_id="1", body="a", source="web", product_line=pro, subject="Pro new")
    make(
        external_id="2",
        body="b",
        source="web",
        product_line=pro,
        subject="Pro escalated",
        status=Ticket.Status.ESCALATED,
    )
    make(external_id="3", body="c", source="web", product_line=enterprise, subject="Ent new")
    client = client_for(factories.reviewer())
    url = reverse("tickets:list")

    by_line = client.get(url, {"product_line": "pro"})
    page = by_line.content.decode()
    assert by_line.status_code == 200
    assert "Pro new" in page and "Pro escalated" in page and "Ent new" not in page
    counts = {row["value"]: row["count"] for row in by_line.context["counts"]}
    assert counts["new"] == 1 and counts["escalated"] == 1 and counts["closed"] == 0

    by_status = client.get(url, {"status": "new"}).content.decode()
    assert "Pro new" in by_status and "Ent new" in by_status and "Pro escalated" not in by_status

    # htmx gets the table alone.
    partial = client.get(url, {"status": "escalated"}, headers={"HX-Request": "true"})
    assert "<html" not in partial.content.decode() and "Pro escalated" in partial.content.decode()


def test_the_list_takes_a_fixed_number_of_queries_however_many_tickets(
    client_for, product_lines, django_assert_max_num_queries
):
    client = client_for(factories.reviewer())
    for i in range(30):
        Ticket.objects.create(
            external_id=str(i), body="b", source="web", product_line=product_lines["pro"]
        )
    with django_assert_max_num_queries(10):
        client.get(reverse("tickets:list"))
