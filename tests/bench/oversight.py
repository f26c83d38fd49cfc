"""The leads' oversight dashboard with a large decision log: the dashboard page against the
plain decision-log list page (50 entries a page and their count), both rendered through the
whole Django stack as a signed-in lead, on the same data in the same run.

Data: `entries` decision-log entries spread over the last 90 days (20 reviewers, 4 product
lines, 3 model/prompt versions; approvals as written or edited, rejections with a reason,
a share of draft-reply decisions), plus `calls` LLM calls, written by SQL in one statement
each. The log refuses TRUNCATE, so emptying it for the bench goes through pgtrigger.ignore
on this bench database only."""

import statistics
import time

import pgtrigger
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, setup_test_environment

from apps.accounts.models import User
from apps.core.stats import percentile
from apps.llm.models import LLMCall
from tests import factories

PAGES = {
    "dashboard, all 90 days": "/oversight/?days=90",
    "dashboard, default 30 days": "/oversight/",
    "plain list": "/oversight/log/?days=90",
}


def _load(entries: int, calls: int) -> None:
    with pgtrigger.ignore("oversight.EditLogEntry:refuse_truncate"), connection.cursor() as cur:
        cur.execute("TRUNCATE oversight_editlogentry")
    LLMCall.objects.all().delete()
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO oversight_editlogentry (
                area, object_type, object_id, object_version, decision, edited, reason, note,
                before, after, changed_fields, diff, edit_ratio, editor_id, editor_name,
                editor_role, product_line, model, prompt_version, ai_created_at, requested_at,
                details, created_at)
            SELECT
                CASE WHEN i %% 5 = 0 THEN 'draft' ELSE 'qa' END,
                CASE WHEN i %% 5 = 0 THEN 'drafts.draft' ELSE 'synthetic.qapair' END,
                i, 1 + i %% 3,
                CASE WHEN i %% 10 < 6 THEN 'approve' WHEN i %% 10 < 8 THEN 'reject'
                     WHEN i %% 10 = 8 THEN 'flag' ELSE 'escalate' END,
                i %% 10 < 6 AND i %% 3 = 0,
                CASE WHEN i %% 10 BETWEEN 6 AND 8
                     THEN (ARRAY['wrong','not_in_docs','unclear','other'])[1 + i %% 4]
                     ELSE '' END,
                '',
                jsonb_build_object('question', 'How long is history kept ' || i || '?',
                                   'answer', 'Pro keeps 30 days of version history.'),
                jsonb_build_object('question', 'How long is history kept ' || i || '?',
                                   'answer', CASE WHEN i %% 3 = 0
                                   THEN 'Thirty days on the Pro plan.'
                                   ELSE 'Pro keeps 30 days of version history.' END),
                CASE WHEN i %% 3 = 0 THEN ARRAY['answer'] ELSE ARRAY[]::varchar[] END,
                CASE WHEN i %% 3 = 0 THEN '-Pro keeps 30 days…' ELSE '' END,
                CASE WHEN i %% 10 < 6 THEN (i %% 3 = 0)::int * (i %% 97) / 97.0 END,
                1000 + i %% 20, 'reviewer' || i %% 20, 'Reviewer',
                'Line ' || i %% 4,
                'gemma-' || i %% 3, 'qa_question@' || lpad((i %% 3)::text, 10, '0'),
                now() - (i %% 90) * interval '1 day' - interval '2 hours',
                CASE WHEN i %% 5 = 0 THEN now() - (i %% 90) * interval '1 day' - interval '3 hours'
                END,
                CASE WHEN i %% 5 = 0 THEN '{"sentences": 6, "unsupported": 1,
                     "approved_sentences": 6, "approved_unsupported": 0}'::jsonb
                     ELSE '{}'::jsonb END,
                now() - (i %% 90) * interval '1 day' - (i %% 1440) * interval '1 minute'
            FROM generate_series(1, %s) AS i
            """,
            [entries],
        )
        cur.execute(
            """
            INSERT INTO llm_llmcall (
                purpose, backend, model, schema_name, prompt_tokens, completion_tokens,
                time_to_first_token_ms, ms_per_output_token, total_ms, attempts,
                first_try_valid, valid, checks_passed, needs_human, error, raw_outputs,
                created_at)
            SELECT 'qa_pair', 'bench', 'gemma-' || i %% 3, 'QA', 300, 40, 50, 20 + i %% 7,
                   400 + (i * 37) %% 900, 1 + (i %% 4 = 0)::int, i %% 4 <> 0, i %% 50 <> 0,
                   NULL, i %% 50 = 0, '', '[]'::jsonb,
                   now() - (i %% 90) * interval '1 day'
            FROM generate_series(1, %s) AS i
            """,
            [calls],
        )
        cur.execute("VACUUM ANALYZE oversight_editlogentry")  # the steady state of autovacuum
        cur.execute("VACUUM ANALYZE llm_llmcall")


def _lead_client() -> Client:
    setup_test_environment()  # lets the test client's host through ALLOWED_HOSTS
    User.objects.filter(username="bench-lead").delete()
    lead = factories.lead(username="bench-lead")
    client = Client()
    client.force_login(lead)
    return client


def _time(client: Client, url: str) -> tuple[float, int]:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.status_code
    return elapsed, len(queries)


def run(*, entries: int = 100_000, calls: int = 10_000, repeats: int = 15) -> dict:
    _load(entries, calls)
    client = _lead_client()
    for url in PAGES.values():  # warm caches, templates, plotly's import
        _time(client, url)
    samples: dict[str, list[float]] = {name: [] for name in PAGES}
    query_counts: dict[str, int] = {}
    for _ in range(repeats):  # interleaved, so machine noise hits both alike
        for name, url in PAGES.items():
            elapsed, queries = _time(client, url)
            samples[name].append(elapsed)
            query_counts[name] = queries
    report = {
        "entries": entries,
        "llm_calls": calls,
        "repeats": repeats,
        "pages": {
            name: {
                "url": PAGES[name],
                "ms_p50": round(percentile(values, 0.5), 1),
                "ms_p95": round(percentile(values, 0.95), 1),
                "ms_mean": round(statistics.fmean(values), 1),
                "queries": query_counts[name],
            }
            for name, values in samples.items()
        },
    }
    report["dashboard_vs_list_p50"] = round(
        report["pages"]["dashboard, all 90 days"]["ms_p50"]
        / report["pages"]["plain list"]["ms_p50"],
        2,
    )
    return report
