import datetime as dt

from django.db.models import Aggregate, Avg, Count, FloatField, Q, QuerySet

from apps.llm.models import LLMCall


class NearestRank(Aggregate):
    """The value at 0-based rank round(fraction * (n - 1)) among a group's non-null values,
    computed by the database: the definition of apps.core.stats.percentile, so the telemetry
    figures did not change when they moved out of Python. PostgreSQL's round() on double
    precision rounds halves to even like Python's round(). Neither built-in fits:
    percentile_cont interpolates (p95 of 100, 300, 900 is 840, not 900) and percentile_disc
    takes the lower middle value of an even count where the helper rounds to even."""

    name = "NearestRank"
    output_field = FloatField()

    def __init__(self, expression, *, fraction: float):
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be between 0 and 1")
        self.fraction = float(fraction)
        super().__init__(expression)

    def as_sql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.get_source_expressions()[0])
        sql = (
            f"(ARRAY_AGG({column} ORDER BY {column}) FILTER (WHERE {column} IS NOT NULL))"
            f"[1 + ROUND(%s::float8 * (COUNT({column}) - 1))::int]"
        )
        return sql, (*params, *params, *params, self.fraction, *params)


def telemetry_by_purpose(*, since: dt.datetime | None = None) -> list[dict]:
    """One row per purpose, model and prompt version (a new prompt or model is compared with
    the old one side by side), every figure aggregated by the database in one query.
    Schema validity (first try, after retries) and the quality checks are counted apart: a
    well-formed answer can still fail the checks."""
    calls = LLMCall.objects.all()
    if since is not None:
        calls = calls.filter(created_at__gte=since)
    rows = list(
        calls.values(
            "purpose", "backend", "model", "prompt_version__name", "prompt_version__content_hash"
        )
        .annotate(
            calls=Count("id"),
            first_try=Count("id", filter=Q(first_try_valid=True)),
            valid=Count("id", filter=Q(valid=True)),
            checked=Count("id", filter=Q(checks_passed__isnull=False)),
            checks_passed=Count("id", filter=Q(checks_passed=True)),
            needs_human=Count("id", filter=Q(needs_human=True)),
            attempts=Avg("attempts"),
            p50_ms=NearestRank("total_ms", fraction=0.5),
            p95_ms=NearestRank("total_ms", fraction=0.95),
            ms_per_token_p50=NearestRank("ms_per_output_token", fraction=0.5),
        )
        .order_by("purpose", "model", "prompt_version__name", "prompt_version__content_hash")
    )
    for row in rows:
        row["first_try_rate"] = row["first_try"] / row["calls"]
        row["valid_rate"] = row["valid"] / row["calls"]
        row["checks_rate"] = row["checks_passed"] / row["checked"] if row["checked"] else None
        digest = row["prompt_version__content_hash"] or ""
        row["prompt"] = f"{row['prompt_version__name']}@{digest[:10]}" if digest else "—"
    return rows


def calls_recent(*, needs_human: bool | None = None, limit: int = 50) -> QuerySet:
    # The list shows the prompt's name and hash and the last raw output: the template text
    # and the parsed result stay in the database.
    calls = LLMCall.objects.select_related("prompt_version").defer("result", "prompt_version__text")
    if needs_human is not None:
        calls = calls.filter(needs_human=needs_human)
    return calls[:limit]
