"""Retrieval a person can trust: a product line is inferred only from an unambiguous mention,
an inferred filter never hides strong matches, and a filter that leaves only weak matches
says so. Real embeddings: the demo product's docs plus two real Redis pages."""

import pytest
from django.urls import reverse

from apps.knowledge.models import ProductLine
from apps.knowledge.selectors import Filters, chunks_search, product_line_mentions
from tests import factories
from tests.conftest import SHARED_DATA
from tests.knowledge.helpers import ingest

pytestmark = pytest.mark.django_db

REDIS = SHARED_DATA / "redis-docs" / "docs"
REDIS_PAGES = ["management/persistence.md", "get-started/faq.md"]


@pytest.fixture
def demo_and_redis_docs(demo_docs):
    """Skylark Sync (Pro and Enterprise lines) and Redis pages without a product line: the
    Redis pages talk about "Redis Enterprise", a product the Enterprise line is not."""
    ingest({f"redis/{page}": REDIS.joinpath(page).read_bytes() for page in REDIS_PAGES})
    return ProductLine.objects.get(name="Enterprise")


def _titles(result) -> list[str]:
    return [hit.chunk.document.title for hit in result.hits]


def _judged(query: str) -> list[tuple[str, bool]]:
    return [(m.text, m.used) for m in product_line_mentions(query=query)]


def test_a_product_name_that_contains_a_product_line_name_infers_no_filter(demo_and_redis_docs):
    result = chunks_search(query="does Redis Enterprise support AOF persistence", k=5)
    assert result.inferred.product_lines == []
    assert result.filters.is_empty()
    assert [(m.text, m.used) for m in result.mentions] == [("Enterprise", False)]
    assert _titles(result)[0] == "Redis persistence"
    assert "part of “Redis Enterprise”" in result.notices()[0]
    assert not result.weak


def test_an_inferred_filter_whose_matches_are_much_weaker_is_dropped_and_said(
    demo_and_redis_docs,
):
    enterprise = demo_and_redis_docs
    result = chunks_search(query="On the Enterprise plan, how do I turn on AOF persistence?", k=5)
    assert result.inferred.product_lines == [enterprise.pk]  # an unambiguous mention…
    assert result.dropped_inferred  # …whose line holds nothing close
    assert result.filters.product_lines == []
    assert result.best_similarity - result.best_similarity_without_inferred == 0
    assert _titles(result)[0] == "Redis persistence"
    assert (
        "The question mentions Enterprise, but the best matches are outside that product line: "
        "showing all product lines." in result.notices()
    )


def test_an_inferred_filter_that_finds_the_best_matches_is_kept(demo_and_redis_docs):
    enterprise = demo_and_redis_docs
    result = chunks_search(query="On the enterprise plan uploads stop with ERR_SYNC_TIMEOUT", k=5)
    assert result.filters.product_lines == [enterprise.pk]
    assert not result.dropped_inferred and not result.weak
    assert result.notices() == []
    assert _titles(result)[0] == "Troubleshooting Skylark Sync Enterprise"


def test_a_hand_chosen_filter_that_leaves_only_weak_matches_says_so(demo_and_redis_docs):
    enterprise = demo_and_redis_docs
    weak = chunks_search(
        query="How does the AOF rewrite work?",
        filters=Filters(product_lines=[enterprise.pk]),
        infer_filters=False,
    )
    assert weak.weak and weak.hits  # results are still shown, under a warning
    assert weak.notices()[0].startswith("No good match in this product line")
    strong = chunks_search(
        query="How do I configure SAML single sign-on?",
        filters=Filters(product_lines=[enterprise.pk]),
        infer_filters=False,
    )
    assert strong.weak is False and strong.notices() == []


def test_only_unambiguous_mentions_of_a_product_line_count(demo_docs):
    assert _judged("Does Enterprise support SSO with Okta?") == [("Enterprise", True)]
    assert _judged("Enterprise SSO fails with E1042") == [("Enterprise", True)]
    assert _judged("uploads on the enterprise plan time out") == [("enterprise plan", True)]
    # Part of a longer capitalised name, before or after.
    assert _judged("Is Redis Enterprise faster?") == [("Enterprise", False)]
    assert _judged("Does Enterprise Manager sync?") == [("Enterprise", False)]
    # An everyday word written as one: "enterprise" and "pro" are in every dictionary.
    assert _judged("our enterprise customers cannot sync") == [("enterprise", False)]
    assert _judged("any pro tips for big folders?") == [("pro", False)]
    # …unless it names a plan.
    assert _judged("is sso on the enterprise tier?") == [("enterprise", True)]
    # A name that is no everyday word counts however it is written.
    factories.ProductLineFactory(name="Skylark", slug="skylark")
    assert _judged("skylark stops syncing") == [("skylark", True)]


def test_the_longest_name_wins_so_an_alias_can_claim_a_longer_product_name(demo_docs):
    ProductLine.objects.filter(name="Enterprise").update(
        aliases="enterprise plan, ent, Skylark Sync Enterprise"
    )
    assert _judged("Skylark Sync Enterprise drops files") == [("Skylark Sync Enterprise", True)]


def test_keyword_mode_still_drops_an_inferred_filter_that_hides_strong_matches(
    demo_and_redis_docs,
):
    result = chunks_search(
        query="On the Enterprise plan, how do I turn on AOF persistence?", k=5, mode="keyword"
    )
    assert result.dropped_inferred
    assert "Redis persistence" in _titles(result)


def test_the_search_screen_says_when_it_dropped_a_filter_or_found_nothing_good(
    client, demo_and_redis_docs
):
    client.force_login(factories.reviewer())
    url = reverse("knowledge:search")
    question = "On the Enterprise plan, how do I turn on AOF persistence?"
    dropped = client.get(url, {"q": question, "infer": "on"})
    body = dropped.content.decode()
    assert "but the best matches are outside that product line: showing all product lines" in body
    assert "(inferred)" not in body
    weak = client.get(
        url,
        {"q": "How does the AOF rewrite work?", "product_lines": demo_and_redis_docs.pk},
    ).content.decode()
    assert "No good match in this product line" in weak
