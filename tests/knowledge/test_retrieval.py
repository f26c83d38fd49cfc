import numpy as np
import pytest

from apps.knowledge.models import Chunk, Document, ErrorCategory, ProductLine
from apps.knowledge.selectors import Filters, chunks_search, vector_ranked
from tests.factories import ProductLineFactory

pytestmark = pytest.mark.django_db


def _titles(result) -> list[str]:
    return [hit.chunk.document.title for hit in result.hits]


def test_a_troubleshooting_question_finds_the_troubleshooting_page(demo_docs):
    result = chunks_search(
        query="sync keeps failing with ERR_SYNC_TIMEOUT", k=5, infer_filters=False
    )
    assert result.hits[0].chunk.document.title.startswith("Troubleshooting Skylark Sync")
    assert "ERR_SYNC_TIMEOUT" in result.hits[0].chunk.text


def test_the_product_line_filter_returns_only_that_line(demo_docs):
    enterprise = ProductLine.objects.get(name="Enterprise")
    result = chunks_search(
        query="sync timeout",
        filters=Filters(product_lines=[enterprise.pk]),
        k=10,
        infer_filters=False,
    )
    assert result.hits
    assert {hit.chunk.product_line_id for hit in result.hits} == {enterprise.pk}
    assert _titles(result)[0] == "Troubleshooting Skylark Sync Enterprise"


def test_filters_are_inferred_from_product_names_and_error_codes_and_can_be_switched_off(
    demo_docs,
):
    query = "On the enterprise plan uploads stop with ERR_SYNC_TIMEOUT"
    result = chunks_search(query=query, k=5)
    enterprise = ProductLine.objects.get(name="Enterprise")
    assert result.inferred.product_lines == [enterprise.pk]
    assert result.inferred.error_categories == ["Sync and storage"]
    assert all(hit.chunk.product_line_id == enterprise.pk for hit in result.hits)
    assert all("Sync and storage" in hit.chunk.error_categories for hit in result.hits)
    unfiltered = chunks_search(query=query, k=10, infer_filters=False)
    assert unfiltered.inferred.is_empty()
    assert {hit.chunk.product_line.name for hit in unfiltered.hits} == {"Pro", "Enterprise"}


def test_error_code_and_date_filters(demo_docs):
    by_code = chunks_search(
        query="what does this error mean",
        filters=Filters(error_codes=["E2077"]),
        infer_filters=False,
    )
    assert by_code.hits and all("E2077" in hit.chunk.error_codes for hit in by_code.hits)
    import datetime as dt

    recent = chunks_search(
        query="limits", filters=Filters(updated_after=dt.date(2026, 11, 1)), infer_filters=False
    )
    assert {hit.chunk.document.title for hit in recent.hits} == {
        "Troubleshooting Skylark Sync Pro",
        "Troubleshooting Skylark Sync Enterprise",
    }


@pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
def test_every_mode_explains_why_each_chunk_matched(demo_docs, mode):
    result = chunks_search(
        query="legal hold blocks deletion E2077", mode=mode, k=3, infer_filters=False
    )
    top = result.hits[0]
    assert top.chunk.document.title == "Troubleshooting Skylark Sync Enterprise"
    kinds = {reason.split(":")[0] for reason in top.reasons}
    assert (
        kinds
        == {"vector": {"meaning"}, "keyword": {"keywords"}, "hybrid": {"meaning", "keywords"}}[mode]
    )


def test_no_document_fills_the_results_beyond_its_cap(demo_docs, settings):
    settings.RETRIEVAL_MAX_CHUNKS_PER_DOCUMENT = 1
    result = chunks_search(query="plan limits", k=6, infer_filters=False)
    documents = [hit.chunk.document_id for hit in result.hits]
    assert len(documents) == len(set(documents))


def test_a_filtered_hnsw_query_still_returns_k_results_when_the_line_is_rare():
    """2,000 chunks in one line, 40 in another: without iterative index scans the HNSW
    candidates are nearly all from the big line and the filter leaves too few."""
    big, rare = ProductLineFactory(name="Big"), ProductLineFactory(name="Rare")
    rng = np.random.default_rng(7)
    document = Document.objects.create(
        external_id="synthetic",
        title="Synthetic",
        format="text",
        raw=b"",
        content_hash="-",
        chunk_config="-",
    )
    vectors = rng.normal(size=(2040, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    Chunk.objects.bulk_create(
        Chunk(
            document=document,
            ordinal=i,
            text=f"chunk {i}",
            token_count=2,
            product_line=rare if i >= 2000 else big,
            embedding=vectors[i],
        )
        for i in range(2040)
    )
    query = vectors[5] + 0.01
    rows = vector_ranked(query_vector=query, filters=Filters(product_lines=[rare.pk]), limit=20)
    exact = vector_ranked(
        query_vector=query, filters=Filters(product_lines=[rare.pk]), limit=20, exact=True
    )
    assert len(rows) == 20
    assert {row[0] for row in rows} == {row[0] for row in exact}
    assert Chunk.objects.filter(pk__in=[r[0] for r in rows], product_line=rare).count() == 20


def test_error_categories_use_the_longest_matching_prefix():
    from apps.knowledge.services import error_categories_for

    ErrorCategory.objects.create(prefix="ERR_SYNC_T", name="Timeouts")
    categories = list(ErrorCategory.objects.all())
    assert error_categories_for(codes=["ERR_SYNC_TIMEOUT"], categories=categories) == ["Timeouts"]
    assert error_categories_for(codes=["ERR_SYNC_LOCKED"], categories=categories) == [
        "Sync and storage"
    ]
