import pytest
from django.core.management import call_command

from tests.factories import ProductLineFactory


@pytest.fixture
def demo_docs(db):
    """The demo product's documentation, ingested for real (embedding model included)."""
    ProductLineFactory(name="Pro", slug="pro", aliases="pro plan")
    ProductLineFactory(name="Enterprise", slug="enterprise", aliases="enterprise plan, ent")
    call_command("seed_demo", verbosity=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
