"""Near-duplicate questions are found through the HNSW index, and the earliest one wins."""

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.knowledge.models import EMBEDDING_DIMENSIONS
from apps.synthetic import services
from apps.synthetic.models import GenerationRun, QAPair

pytestmark = pytest.mark.django_db


def _unit(vector):
    return vector / np.linalg.norm(vector)


def _pairs(run, vectors):
    return QAPair.objects.bulk_create(
        QAPair(
            run=run,
            source_text="s",
            kind="limits",
            question=f"Question {i}",
            answer="a",
            quote="q",
            question_embedding=vector.tolist(),
        )
        for i, vector in enumerate(vectors)
    )


def test_the_near_duplicate_query_is_answered_by_the_hnsw_index():
    rng = np.random.default_rng(0)
    run = GenerationRun.objects.create()
    _pairs(run, (_unit(v) for v in rng.standard_normal((3000, EMBEDDING_DIMENSIONS))))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE synthetic_qapair")
    latest = QAPair.objects.order_by("-pk").first()
    # The query the duplicate check really sends, explained as sent.
    with CaptureQueriesContext(connection) as queries:
        services.duplicate_find(pair=latest)
    (query,) = [q["sql"] for q in queries.captured_queries if "<=>" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {query}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan using qapair_question_hnsw" in plan, plan
    assert plan.startswith("Limit") and "Seq Scan" not in plan


def test_the_earliest_near_duplicate_is_found_among_many_pairs():
    rng = np.random.default_rng(1)
    run = GenerationRun.objects.create()
    base = _unit(rng.standard_normal(EMBEDDING_DIMENSIONS))
    noise = rng.standard_normal((4, EMBEDDING_DIMENSIONS)) * 0.01
    unrelated = [_unit(v) for v in rng.standard_normal((500, EMBEDDING_DIMENSIONS))]
    # An earliest near-duplicate, 500 unrelated questions, then closer near-duplicates.
    earliest, *_ = _pairs(run, [_unit(base + noise[0])])
    _pairs(run, unrelated)
    closer = _pairs(run, [_unit(base + noise[1] / 10), _unit(base + noise[2] / 10)])
    (new,) = _pairs(run, [_unit(base + noise[3])])
    assert services.duplicate_find(pair=new) == earliest
    assert services.duplicate_find(pair=closer[0]) == earliest
    assert services.duplicate_find(pair=earliest) is None
    (far,) = _pairs(run, [_unit(rng.standard_normal(EMBEDDING_DIMENSIONS))])
    assert services.duplicate_find(pair=far) is None
