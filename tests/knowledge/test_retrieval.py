import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.knowledge.models import Chunk, Document, ErrorCategory, ProductLine
from apps.knowledge.selectors import Filters, chunks_search, vector_ranked
from tests import factories
from tests.factories import ProductLineFactory

# Columns no search may read: the uploaded file (up to 10 MB) and its metadata.
HEAVY_COLUMNS = ('"knowledge_document"."raw"', '"knowledge_document"."metadata"')

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


def _sql(queries) -> str:
    return "\n".join(q["sql"] for q in queries)


@pytest.fixture
def uploads_with_large_files():
    """Twelve documents of three chunks, each document keeping a 256 KB upload; random unit
    vectors, so a vector search ranks every chunk."""
    from django.contrib.postgres.search import SearchVector

    line = ProductLineFactory(name="Skylark", slug="skylark")
    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(36, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for d in range(12):
        document = Document.objects.create(
            external_id=f"manual-{d}.pdf",
            title=f"Manual {d}",
            format="pdf",
            raw=rng.bytes(256 * 1024),
            metadata={"pages": list(range(200))},
            content_hash=f"{d}",
            chunk_config="-",
            product_line=line,
        )
        Chunk.objects.bulk_create(
            Chunk(
                document=document,
                ordinal=i,
                text=f"Sync quota section {i} of manual {d}.",
                token_count=7,
                product_line=line,
                error_codes=["E2077"],
                embedding=vectors[d * 3 + i],
            )
            for i in range(3)
        )
    Chunk.objects.update(search_vector=SearchVector("text", config="english"))
    return vectors


def _sql(queries) -> str:
    return "\n".join(q["sql"] for q in queries)


@pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
def test_a_search_never_reads_the_uploaded_files_and_its_query_count_does_not_grow_with_k(
    uploads_with_large_files, mode
):
    counts = {}
    for k in (2, 20):
        with CaptureQueriesContext(connection) as queries:
            result = chunks_search(
                query="sync quota", k=k, mode=mode, query_vector=uploads_with_large_files[0]
            )
        assert len(result.hits) == k
        counts[k] = len(queries)
        sql = _sql(queries)
        assert [column for column in HEAVY_COLUMNS if column in sql] == []
        # The vectors rank inside the database; the chunk rows come back without them.
        [attach] = [q["sql"] for q in queries if '"knowledge_document"."title"' in q["sql"]]
        assert '"knowledge_chunk"."embedding"' not in attach
        assert '"knowledge_chunk"."search_vector"' not in attach
    assert counts[2] == counts[20]


def test_what_callers_read_from_a_hit_needs_no_further_query(uploads_with_large_files):
    result = chunks_search(query="sync quota", k=10, query_vector=uploads_with_large_files[0])
    with CaptureQueriesContext(connection) as queries:
        for hit in result.hits:
            chunk, document = hit.chunk, hit.chunk.document
            assert str(chunk) == f"{document.title} #{chunk.ordinal}"
            assert chunk.pk and chunk.text and chunk.token_count and chunk.heading_path == ""
            assert chunk.error_codes == ["E2077"] and chunk.source_updated_at is None
            assert (str(chunk.product_line), chunk.product_line.slug) == ("Skylark", "skylark")
            assert document.external_id.startswith("manual-") and document.format == "pdf"
    assert len(queries) == 0


def test_the_search_page_runs_as_many_queries_for_twenty_hits_as_for_two(
    uploads_with_large_files, client_for
):
    client = client_for(factories.reviewer())
    counts, bodies = {}, {}
    for k in (2, 20):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("knowledge:search"), {"q": "sync quota", "k": k})
        assert response.status_code == 200
        counts[k], bodies[k] = len(queries), response.content.decode()
        assert [column for column in HEAVY_COLUMNS if column in _sql(queries)] == []
    assert bodies[2].count('<li class="hit">') == 2
    assert bodies[20].count('<li class="hit">') == 20
    assert "Manual 3" in bodies[20] and "Skylark" in bodies[20]
    assert counts[2] == counts[20]


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
    from apps.knowledge.tagging import error_categories_for

    ErrorCategory.objects.create(prefix="ERR_SYNC_T", name="Timeouts")
    categories = list(ErrorCategory.objects.all())
    assert error_categories_for(codes=["ERR_SYNC_TIMEOUT"], categories=categories) == ["Timeouts"]
    assert error_categories_for(codes=["ERR_SYNC_LOCKED"], categories=categories) == [
        "Sync and storage"
    ]
