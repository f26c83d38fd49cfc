"""seed_demo loads a dozen tickets about the demo product, once."""

import io

import pytest
from django.core.management import call_command

from apps.tickets.models import Ticket

pytestmark = pytest.mark.django_db


def test_the_demo_brings_a_dozen_tickets_for_both_plans_and_running_it_again_adds_none(
    demo_docs,
):
    tickets = Ticket.objects.select_related("product_line")
    assert tickets.count() == 12
    lines = {t.product_line.name if t.product_line else None for t in tickets}
    assert lines == {"Pro", "Enterprise", None}
    assert tickets.filter(body__contains="E2051").exists()
    out = io.StringIO()
    call_command("seed_demo", stdout=out, stderr=io.StringIO())
    assert "Demo tickets: 0 created, 12 already there, 0 failed." in out.getvalue()
    assert Ticket.objects.count() == 12
