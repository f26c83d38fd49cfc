from django.db.models import Avg, Count, Q

from apps.core.stats import percentile
from apps.llm.models import LLMCall


def telemetry_by_purpose(*, since=None) -> list[dict]:
    calls = LLMCall.objects.all()
    if since is not None:
        calls = calls.filter(created_at__gte=since)
    rows = list(
        calls.values("purpose")
        .annotate(
            calls=Count("id"),
            first_try=Count("id", filter=Q(first_try_valid=True)),
            valid=Count("id", filter=Q(valid=True)),
            needs_human=Count("id", filter=Q(needs_human=True)),
            attempts=Avg("attempts"),
        )
        .order_by("purpose")
    )
    timings: dict[str, dict[str, list[float]]] = {}
    for purpose, total, per_token in calls.values_list(
        "purpose", "total_ms", "ms_per_output_token"
    ):
        entry = timings.setdefault(purpose, {"total": [], "per_token": []})
        entry["total"].append(total)
        if per_token is not None:
            entry["per_token"].append(per_token)
    for row in rows:
        t = timings.get(row["purpose"], {"total": [], "per_token": []})
        row["first_try_rate"] = row["first_try"] / row["calls"]
        row["valid_rate"] = row["valid"] / row["calls"]
        row["p50_ms"] = percentile(t["total"], 0.5)
        row["p95_ms"] = percentile(t["total"], 0.95)
        row["ms_per_token_p50"] = percentile(t["per_token"], 0.5)
    return rows


def calls_recent(*, needs_human: bool | None = None, limit: int = 50):
    calls = LLMCall.objects.select_related("prompt_version")
    if needs_human is not None:
        calls = calls.filter(needs_human=needs_human)
    return calls[:limit]
