from pathlib import Path

import pytest

from tests import factories

DATA = Path(__file__).parent / "data"


@pytest.fixture
def product_lines(db):
    return {
        "pro": factories.ProductLineFactory(name="Pro", slug="pro", aliases="pro plan"),
        "enterprise": factories.ProductLineFactory(name="Enterprise", slug="enterprise"),
    }
