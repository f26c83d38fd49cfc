"""Reads of the decision log for the leads' dashboard, the browsable log and the exports.
Every figure is aggregated by the database: one query per table or chart, whatever the
number of entries."""

import datetime as dt
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import (
    Avg,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Extract, TruncDay

from apps.accounts.models import User
from apps.accounts.roles import LEAD, REVIEWER
from apps.knowledge.models import ProductLine
from apps.llm.models import LLMCall, PromptVersion
from apps.llm.selectors import NearestRank
from apps.oversight.models import EditLogEntry

Area = EditLogEntry.Area
Decision = EditLogEntry.Decision

EDIT_RATIO_BUCKETS = 10


@dataclass(frozen=True)
class LogFilters:
    start: dt.datetime
    end: dt.datetime  # exclusive
    product_line: str = ""
    editor_id: int | None = None
    model: str = ""
    prompt_version: str = ""
    area: str = ""
    decision: str = ""


def entries_filtered(*, filters: LogFilters, area: str | None = None) -> QuerySet:
    entries = EditLogEntry.objects.filter(created_at__gte=filters.start, created_at__lt=filters.end)
    area = area or filters.area
    if area:
        entries = entries.filter(area=area)
    if filters.product_line:
        entries = entries.filter(product_line=filters.product_line)
    if filters.editor_id is not None:
        entries = entries.filter(editor_id=filters.editor_id)
    if filters.model:
        entries = entries.filter(model=filters.model)
    if filters.prompt_version:
        entries = entries.filter(prompt_version=filters.prompt_version)
    if filters.decision:
        entries = entries.filter(decision=filters.decision)
    return entries


def filter_choices() -> dict:
    """The values the filters offer, read from the tables that own them (product lines,
    people with a role, the models and prompt versions LLM calls used): scanning the log
    for its distinct values would cost as much as the whole dashboard on a large log."""
    people = (
        User.objects.filter(Q(groups__name__in=[REVIEWER, LEAD]) | Q(is_staff=True))
        .distinct()
        .order_by("username")
        .values_list("pk", "username")
    )
    prompts = PromptVersion.objects.order_by("name", "-first_used_at").values_list(
        "name", "content_hash"
    )
    return {
        "lines": list(ProductLine.objects.order_by("name").values_list("name", flat=True)),
        "editors": list(people),
        "models": list(
            LLMCall.objects.order_by("model").values_list("model", flat=True).distinct()
        ),
        "prompts": list(dict.fromkeys(_prompt_label(name, digest) for name, digest in prompts)),
    }


def _prompt_label(name: str, digest: str) -> str:
    # The form Q&A pairs store their prompt version in (synthetic's _pair_draft: name@hash[:12]),
    # so one choice filters the log and the LLM calls alike.
    return f"{name}@{digest[:12]}"


def _seconds(later: str, earlier: str) -> Extract:
    return Extract(ExpressionWrapper(F(later) - F(earlier), output_field=DurationField()), "epoch")


def _approved(edited: bool | None = None) -> Q:
    q = Q(decision=Decision.APPROVE)
    return q if edited is None else q & Q(edited=edited)


def decisions_summary(*, entries: QuerySet, from_request: bool = False) -> dict:
    """Counts of each decision, approvals split by edited or not, edit ratio of approvals and
    the time from AI text to decision, in one query; with `from_request` (draft replies, whose
    entries carry the ticket's arrival) also the time from request to draft and to approval.
    Each percentile sorts its values in the database: only those asked for are computed."""
    timings = {}
    if from_request:
        approval = Case(
            When(_approved(), then=_seconds("created_at", "requested_at")),
            output_field=FloatField(),
        )
        timings = {
            "to_approval_p50": NearestRank(approval, fraction=0.5),
            "to_approval_p95": NearestRank(approval, fraction=0.95),
            "to_draft_p50": NearestRank(_seconds("ai_created_at", "requested_at"), fraction=0.5),
        }
    figures = entries.aggregate(
        decisions=Count("id"),
        approved=Count("id", filter=_approved()),
        approved_unedited=Count("id", filter=_approved(edited=False)),
        approved_edited=Count("id", filter=_approved(edited=True)),
        edited_only=Count("id", filter=Q(decision=Decision.EDIT)),
        rejected=Count("id", filter=Q(decision=Decision.REJECT)),
        flagged=Count("id", filter=Q(decision=Decision.FLAG)),
        escalated=Count("id", filter=Q(decision=Decision.ESCALATE)),
        returned=Count("id", filter=Q(decision=Decision.RETURN)),
        submitted=Count("id", filter=Q(decision=Decision.SUBMIT)),
        regenerated=Count("id", filter=Q(decision=Decision.REGENERATE)),
        overridden=Count("id", filter=Q(decision=Decision.OVERRIDE)),
        edit_ratio_mean=Avg("edit_ratio", filter=_approved()),
        edit_ratio_p50=NearestRank(
            Case(When(_approved(), then=F("edit_ratio")), output_field=FloatField()),
            fraction=0.5,
        ),
        to_decision_p50=NearestRank(_seconds("created_at", "ai_created_at"), fraction=0.5),
        **timings,
    )
    judged = figures["approved"] + figures["rejected"]
    figures["approval_rate"] = figures["approved"] / judged if judged else None
    figures["rejection_rate"] = figures["rejected"] / judged if judged else None
    figures["edited_share"] = (
        figures["approved_edited"] / figures["approved"] if figures["approved"] else None
    )
    return figures


def reasons_count(*, entries: QuerySet, decision: str) -> list[dict]:
    return list(
        entries.filter(decision=decision)
        .values("reason")
        .annotate(n=Count("id"))
        .order_by("-n", "reason")
    )


def decisions_per_day(*, entries: QuerySet) -> list[dict]:
    """Decisions per day and kind (approved as written, approved after edits, and each other
    decision), for the trend chart."""
    kind = Case(
        When(_approved(edited=False), then=Value("approve")),
        When(_approved(edited=True), then=Value("approve_edited")),
        default=F("decision"),
    )
    return list(
        entries.annotate(day=TruncDay("created_at"), kind=kind)
        .values("day", "kind")
        .annotate(n=Count("id"))
        .order_by("day", "kind")
    )


def edit_ratio_histogram(*, entries: QuerySet) -> list[dict]:
    """Approvals by share of words changed: bucket 0 is "approved as written", buckets 1…10
    are tenths of the text (width_bucket in the database)."""
    bucket = Case(
        When(edit_ratio=0, then=Value(0)),
        default=_WidthBucket(F("edit_ratio")),
        output_field=IntegerField(),
    )
    return list(
        entries.filter(_approved(), edit_ratio__isnull=False)
        .annotate(bucket=bucket)
        .values("bucket")
        .annotate(n=Count("id"))
        .order_by("bucket")
    )


class _WidthBucket(Func):
    """width_bucket(ratio, 0, 1, 10) capped at 10: a ratio of exactly 1 falls past the last
    bucket in PostgreSQL."""

    template = (
        f"LEAST(width_bucket(%(expressions)s, 0, 1, {EDIT_RATIO_BUCKETS}), {EDIT_RATIO_BUCKETS})"
    )
    output_field = IntegerField()


BREAKDOWNS = {
    "reviewer": ("editor_id", "editor_name", "editor_role"),
    "line": ("product_line",),
    "prompt": ("model", "prompt_version"),
}
_COUNTS = ("decisions", "approved", "approved_edited", "rejected", "flagged", "escalated")


def decisions_breakdown(*, entries: QuerySet) -> dict[str, list[dict]]:
    """Per reviewer, per product line and per model and prompt: the same figures side by
    side. One grouped query at the finest grain (reviewer x line x prompt: a few hundred
    rows at most), summed up per breakdown here, instead of one scan of the range each."""
    groups = entries.values(*{field for fields in BREAKDOWNS.values() for field in fields})
    groups = groups.annotate(
        decisions=Count("id"),
        approved=Count("id", filter=_approved()),
        approved_edited=Count("id", filter=_approved(edited=True)),
        rejected=Count("id", filter=Q(decision=Decision.REJECT)),
        flagged=Count("id", filter=Q(decision=Decision.FLAG)),
        escalated=Count("id", filter=Q(decision=Decision.ESCALATE)),
        ratio_sum=Sum("edit_ratio", filter=_approved()),
        ratio_n=Count("edit_ratio", filter=_approved()),
    ).order_by()
    fine = list(groups)
    result = {}
    for name, fields in BREAKDOWNS.items():
        rows: dict[tuple, dict] = {}
        for group in fine:
            key = tuple(group[field] for field in fields)
            row = rows.setdefault(
                key, {**dict(zip(fields, key, strict=True)), **dict.fromkeys(_COUNTS, 0)}
            )
            row.setdefault("ratio_sum", 0.0)
            row.setdefault("ratio_n", 0)
            for count in (*_COUNTS, "ratio_n"):
                row[count] += group[count]
            row["ratio_sum"] += group["ratio_sum"] or 0.0
        for row in rows.values():
            row["edit_ratio_mean"] = row["ratio_sum"] / row["ratio_n"] if row["ratio_n"] else None
        result[name] = sorted(
            rows.values(), key=lambda row: (-row["decisions"], [str(row[f]) for f in fields])
        )
    return result


def unsupported_rates(*, entries: QuerySet) -> dict:
    """Unsupported sentences per sentence in the AI drafts decided on and in the replies
    approved, from the figures draft decisions carry in `details`."""

    def number(key: str):
        return Cast(KeyTextTransform(key, "details"), IntegerField())

    approvals = _approved()
    sums = entries.aggregate(
        sentences=Sum(number("sentences")),
        unsupported=Sum(number("unsupported")),
        approved_sentences=Sum(number("approved_sentences"), filter=approvals),
        approved_unsupported=Sum(number("approved_unsupported"), filter=approvals),
    )
    return {
        "in_drafts": _rate(sums["unsupported"], sums["sentences"]),
        "in_approved": _rate(sums["approved_unsupported"], sums["approved_sentences"]),
    }


def _rate(part, whole) -> float | None:
    return (part or 0) / whole if whole else None


def area_has_entries(*, area: str) -> bool:
    return EditLogEntry.objects.filter(area=area).exists()


# --- LLM calls ---------------------------------------------------------------------------


def _calls(*, filters: LogFilters) -> QuerySet:
    calls = LLMCall.objects.filter(created_at__gte=filters.start, created_at__lt=filters.end)
    if filters.model:
        calls = calls.filter(model=filters.model)
    if filters.prompt_version:
        name, _, digest = filters.prompt_version.partition("@")
        calls = calls.filter(
            prompt_version__name=name, prompt_version__content_hash__startswith=digest
        )
    return calls


def llm_figures(*, filters: LogFilters) -> list[dict]:
    """Per model and prompt version in the range: latency p50/p95, ms per output token, and
    structured-output validity on the first try and after retries."""
    rows = list(
        _calls(filters=filters)
        .values("model", "prompt_version__name", "prompt_version__content_hash")
        .annotate(
            calls=Count("id"),
            first_try=Count("id", filter=Q(first_try_valid=True)),
            valid=Count("id", filter=Q(valid=True)),
            p50_ms=NearestRank("total_ms", fraction=0.5),
            p95_ms=NearestRank("total_ms", fraction=0.95),
            ms_per_token_p50=NearestRank("ms_per_output_token", fraction=0.5),
        )
        .order_by("model", "prompt_version__name", "prompt_version__content_hash")
    )
    for row in rows:
        name, digest = row.pop("prompt_version__name"), row.pop("prompt_version__content_hash")
        row["prompt"] = _prompt_label(name, digest) if digest else "—"
        row["first_try_rate"] = row["first_try"] / row["calls"]
        row["valid_rate"] = row["valid"] / row["calls"]
    return rows


def llm_latency_per_day(*, filters: LogFilters) -> list[dict]:
    return list(
        _calls(filters=filters)
        .annotate(day=TruncDay("created_at"))
        .values("day")
        .annotate(
            calls=Count("id"),
            p50_ms=NearestRank("total_ms", fraction=0.5),
            p95_ms=NearestRank("total_ms", fraction=0.95),
        )
        .order_by("day")
    )


# --- the log itself ----------------------------------------------------------------------

LIST_FIELDS = (
    "id",
    "created_at",
    "area",
    "object_type",
    "object_id",
    "object_version",
    "decision",
    "edited",
    "reason",
    "edit_ratio",
    "editor_name",
    "editor_role",
    "product_line",
    "model",
    "prompt_version",
    "changed_fields",
)


def entries_for_list(*, filters: LogFilters) -> QuerySet:
    # The list shows no text: the before/after snapshots stay in the database until an entry
    # is opened.
    return entries_filtered(filters=filters).only(*LIST_FIELDS)


EXPORT_FIELDS = (
    "id",
    "created_at",
    "area",
    "object_type",
    "object_id",
    "object_version",
    "decision",
    "edited",
    "reason",
    "note",
    "editor_id",
    "editor_name",
    "editor_role",
    "product_line",
    "model",
    "prompt_version",
    "edit_ratio",
    "changed_fields",
    "before",
    "after",
    "diff",
    "ai_created_at",
    "requested_at",
    "details",
)


def entries_for_export(*, filters: LogFilters) -> Iterator[dict]:
    """The entries of the range oldest first, read from a server-side cursor a batch at a
    time: an export of any size holds one batch in memory."""
    return (
        entries_filtered(filters=filters)
        .order_by("created_at", "id")
        .values(*EXPORT_FIELDS)
        .iterator(chunk_size=2000)
    )


def side_by_side(*, entry: EditLogEntry) -> list[dict]:
    """Per field of the entry's text: the words of before and after, each marked equal,
    removed or added, for two columns (changed fields first)."""
    fields = list(dict.fromkeys([*entry.changed_fields, *entry.before, *entry.after]))
    rows = []
    for field in fields:
        left, right = words_diff(old=entry.before.get(field, ""), new=entry.after.get(field, ""))
        rows.append(
            {
                "field": field,
                "changed": field in entry.changed_fields,
                "before": left,
                "after": right,
            }
        )
    return rows


def words_diff(*, old: str, new: str) -> tuple[list, list]:
    """The words of two texts as (kind, space, words) runs for two columns: "same" in both,
    "removed" on the left, "added" on the right; `space` is the whitespace before the run
    (line breaks included), kept out of the marked words. Words are compared without the
    whitespace around them, so a word next to a paragraph break is not marked as changed."""
    old_tokens, new_tokens = _WORD.findall(old), _WORD.findall(new)
    matcher = difflib.SequenceMatcher(
        None, [t.strip() for t in old_tokens], [t.strip() for t in new_tokens], autojunk=False
    )
    left, right = [], []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            left.append(_run("same", old_tokens[i1:i2]))
            right.append(_run("same", new_tokens[j1:j2]))
            continue
        if i2 > i1:
            left.append(_run("removed", old_tokens[i1:i2]))
        if j2 > j1:
            right.append(_run("added", new_tokens[j1:j2]))
    return left, right


# A word with the whitespace before it.
_WORD = re.compile(r"\s*\S+")


def _run(kind: str, tokens: list[str]) -> tuple[str, str, str]:
    text = "".join(tokens)
    words = text.lstrip()
    return kind, text[: len(text) - len(words)], words
