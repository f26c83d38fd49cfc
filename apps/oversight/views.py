import csv
import datetime as dt
import json
from pathlib import Path

import plotly
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

from apps.core.htmx import page_render
from apps.core.permissions import lead_required, login_required
from apps.oversight import charts, selectors
from apps.oversight.forms import LogFilterForm
from apps.oversight.models import EditLogEntry

Area = EditLogEntry.Area
Decision = EditLogEntry.Decision
# Reason codes of Q&A rejections (apps.synthetic.models.Review.REASONS) and of draft flags
# as the log stores them; an unknown code is shown as it is.
REASON_LABELS = {
    "wrong": "Wrong",
    "not_in_docs": "Not in the docs",
    "duplicate": "Duplicate",
    "unclear": "Unclear",
    "other": "Other",
    "hallucination": "Hallucination",
    "wrong_product_line": "Wrong product line",
    "outdated": "Outdated",
    "tone": "Tone",
    "incomplete": "Incomplete",
    "unsupported_kept": "Approved with unsupported sentences",
    "": "No reason given",
}


def _filter_form(request: HttpRequest) -> LogFilterForm:
    return LogFilterForm(request.GET or None, choices=selectors.filter_choices())


def _params(request: HttpRequest) -> dict:
    return {key: value for key, value in request.GET.items() if value}


@lead_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    filters = form.filters()
    qa = selectors.entries_filtered(filters=filters, area=Area.QA)
    drafts = selectors.entries_filtered(filters=filters, area=Area.DRAFT)
    has_drafts = selectors.area_has_entries(area=Area.DRAFT)
    context = {
        "form": form,
        "filters": filters,
        "params": _params(request),
        "qa": selectors.decisions_summary(entries=qa),
        "qa_reasons": selectors.reasons_count(entries=qa, decision=Decision.REJECT),
        "reason_labels": REASON_LABELS,
        "breakdown": selectors.decisions_breakdown(entries=qa),
        "llm": selectors.llm_figures(filters=filters),
        "has_drafts": has_drafts,
        "charts": {
            "qa_trend": charts.decisions_trend(
                rows=selectors.decisions_per_day(entries=qa), title="Q&A decisions per day"
            ),
            "qa_edit_ratio": charts.edit_ratio_distribution(
                rows=selectors.edit_ratio_histogram(entries=qa),
                title="Q&A approvals by words changed",
            ),
            "qa_reasons": None,
            "llm_latency": charts.latency_trend(
                rows=selectors.llm_latency_per_day(filters=filters)
            ),
        },
    }
    context["charts"]["qa_reasons"] = charts.reasons_bar(
        rows=context["qa_reasons"], labels=REASON_LABELS, title="Q&A rejections by reason"
    )
    if has_drafts:
        context["drafts"] = selectors.decisions_summary(entries=drafts, from_request=True)
        context["drafts"].update(selectors.unsupported_rates(entries=drafts))
        context["draft_flags"] = selectors.reasons_count(entries=drafts, decision=Decision.FLAG)
        context["charts"]["draft_trend"] = charts.decisions_trend(
            rows=selectors.decisions_per_day(entries=drafts), title="Draft decisions per day"
        )
        context["charts"]["draft_edit_ratio"] = charts.edit_ratio_distribution(
            rows=selectors.edit_ratio_histogram(entries=drafts),
            title="Draft approvals by words changed",
        )
    return page_render(request, "oversight/dashboard.html", "figures", context)


@lead_required
@require_GET
def log_list(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    entries = selectors.entries_for_list(filters=form.filters())
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "params": _params(request)}
    return page_render(request, "oversight/log.html", "results", context)


@lead_required
@require_GET
def entry_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(EditLogEntry, pk=pk)
    context = {
        "entry": entry,
        "fields": selectors.side_by_side(entry=entry),
        "reason_label": REASON_LABELS.get(entry.reason, entry.reason),
    }
    return render(request, "oversight/entry.html", context)


class _Echo:
    """A file-like sink for csv.writer that hands each written row back as a string."""

    def write(self, value: str) -> str:
        return value


# A spreadsheet runs a cell starting with one of these as a formula: prefixing a quote keeps
# reviewer and model text as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_rows(rows):
    writer = csv.writer(_Echo())
    yield writer.writerow(selectors.EXPORT_FIELDS)
    for row in rows:
        yield writer.writerow([_cell(row[field]) for field in selectors.EXPORT_FIELDS])


def _jsonl_rows(rows):
    for row in rows:
        yield json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False) + "\n"


@lead_required
@require_GET
def log_export(request: HttpRequest, fmt: str) -> StreamingHttpResponse:
    if fmt not in ("csv", "jsonl"):
        raise Http404("Exports are CSV or JSONL.")
    form = _filter_form(request)
    filters = form.filters()
    rows = selectors.entries_for_export(filters=filters)
    body = _csv_rows(rows) if fmt == "csv" else _jsonl_rows(rows)
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
    response = StreamingHttpResponse(body, content_type=content_type)
    last_day = (filters.end - dt.timedelta(days=1)).date()
    name = f"decision-log_{filters.start.date().isoformat()}_{last_day.isoformat()}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


@login_required
@require_GET
def plotly_js(request: HttpRequest) -> FileResponse:
    """plotly.js as bundled in the installed plotly package: no copy in the repository, no
    CDN. The URL carries the package version, so browsers may keep it for a year."""
    response = FileResponse(PLOTLY_JS.open("rb"), content_type="text/javascript")
    patch_cache_control(response, private=True, max_age=365 * 24 * 3600, immutable=True)
    return response


PLOTLY_VERSION = plotly.__version__
