from urllib.parse import urlencode

from django.contrib import messages
from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import push_url

from apps.core.claims import version_shown
from apps.core.htmx import page_render
from apps.core.permissions import lead_required, reviewer_required
from apps.knowledge.models import ProductLine
from apps.synthetic import selectors, services, tasks
from apps.synthetic.export import FORMATS, ExportRefused, export_create
from apps.synthetic.forms import EditForm, ExportForm, RejectForm, RunForm
from apps.synthetic.models import (
    MODEL_QUESTION_HELD,
    QUESTION_KINDS,
    FinetuneExport,
    GenerationRun,
    QAPair,
    Review,
)

# --- generation runs (leads) ------------------------------------------------------------


@lead_required
@require_http_methods(["GET", "POST"])
def runs(request: HttpRequest) -> HttpResponse:
    form = RunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        run = services.generation_run_create(
            user=request.user,
            product_lines=data["product_lines"],
            documents=data["document_titles"],
            kinds=data["kinds"],
            per_chunk=data["per_chunk"],
            chunk_limit=data["chunk_limit"],
            seed=data["seed"],
            required_approvals=data["required_approvals"],
        )
        transaction.on_commit(lambda: tasks.generation_run_execute.delay(run.pk))
        available = data["chunks_available"]
        messages.success(
            request,
            f"Run {run.pk} started: it samples {min(available, data['chunk_limit'])} of "
            f"{available} matching chunk{pluralize(available)}.",
        )
        return redirect("synthetic:run_detail", pk=run.pk)
    return render(
        request, "synthetic/runs.html", {"form": form, "runs": selectors.runs_recent(limit=20)}
    )


@lead_required
@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = selectors.run_with_counts(pk=pk)
    if run is None:
        raise Http404("No such generation run.")
    active = run.status in (GenerationRun.Status.QUEUED, GenerationRun.Status.RUNNING)
    resumable = selectors.run_resumable(run=run)
    context = {
        "run": run,
        "active": active,
        "resumable": resumable,
        "stalled": active and resumable,
        "percent": round(100 * run.done_chunks / run.total_chunks) if run.total_chunks else 0,
        "distribution": selectors.pair_distribution(run=run),
        "agreement": selectors.reviewer_agreement(run=run),
        "refusals": selectors.run_refusals(run=run),
        "held": MODEL_QUESTION_HELD,
    }
    return page_render(request, "synthetic/run.html", "progress", context, still_polling=active)


@lead_required
@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(GenerationRun, pk=pk)
    services.generation_run_cancel(run=run)
    messages.info(request, "Cancelling: the run stops after the chunk it is working on.")
    return redirect("synthetic:run_detail", pk=pk)


@lead_required
@require_POST
def run_resume(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(GenerationRun, pk=pk)
    lease = services.generation_run_resume(run=run)
    if lease is None:
        messages.error(request, "This run is neither failed nor stalled: nothing to resume.")
    else:
        tasks.generation_run_queue(run_id=run.pk, lease=lease)
        messages.success(request, "Resumed: the run carries on from the chunk where it stopped.")
    return redirect("synthetic:run_detail", pk=pk)


# --- review (reviewers) ----------------------------------------------------------------


def _filters(params) -> dict:
    """Queue filters from the query string, as ORM lookups."""
    filters = {}
    if params.get("product_line"):
        filters["product_line__slug"] = params["product_line"]
    if params.get("run", "").isdigit():
        filters["run_id"] = int(params["run"])
    if params.get("kind"):
        filters["kind"] = params["kind"]
    return filters


def _filter_query(params) -> str:
    keep = {k: params[k] for k in ("product_line", "run", "kind") if params.get(k)}
    return urlencode(keep)


@reviewer_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    filters = _filters(request.GET)
    status = request.GET.get("status") or QAPair.Status.PENDING
    pairs = (
        QAPair.objects.filter(selectors.queue_status_filter(status), **filters)
        .select_related("product_line", "claimed_by")
        .order_by("id")[:100]
    )
    context = {
        "pairs": pairs,
        "counts": selectors.queue_counts(filters=filters),
        "statuses": selectors.queue_statuses(),
        "status": status,
        "params": request.GET,
        "product_lines": ProductLine.objects.all(),
        "kinds": QUESTION_KINDS,
        "runs": GenerationRun.objects.order_by("-id")[:20],
        "query": _filter_query(request.GET),
    }
    return render(request, "synthetic/queue.html", context)


# Past any id a pair can have (ids are bigint): "before the end" means "the last pair".
_PAST_LAST_ID = 2**63 - 1


@reviewer_required
@require_POST
def review_next(request: HttpRequest) -> HttpResponse:
    """Claim the next (or, with direction=previous, the previous) pair and show it."""
    current = request.POST.get("current", "")
    if current.isdigit():
        services.pair_release(pair=QAPair(pk=int(current)), user=request.user)
    anchor = int(current) if current.isdigit() else None
    backwards = request.POST.get("direction") == "previous"
    pair = _claim_around(request, anchor=anchor, backwards=backwards)
    return _show(request, pair, _filter_query(request.POST))


def _claim_around(request: HttpRequest, *, anchor: int | None, backwards: bool = False):
    """The pending pair after (or before) `anchor`; past the end of the queue, the reviewer
    wraps around to its other end and is told so: pairs skipped earlier are still waiting."""
    filters = _filters(request.POST)
    pair = services.pair_claim(
        user=request.user,
        filters=filters,
        after=None if backwards else anchor,
        before=anchor if backwards else None,
    )
    if pair is not None or anchor is None:
        return pair
    pair = services.pair_claim(
        user=request.user, filters=filters, before=_PAST_LAST_ID if backwards else None
    )
    if pair is None:
        return None
    scope = " with these filters" if filters else ""
    if pair.pk == anchor:
        messages.info(request, f"This is the only pair left for you to review{scope}.")
    else:
        waiting = selectors.review_remaining(user=request.user, filters=filters)["waiting"]
        end = "last" if backwards else "first"
        messages.info(
            request,
            f"Reached the {'start' if backwards else 'end'} of the queue: back to the {end} "
            f"pending pair. {waiting} pair{pluralize(waiting)} left for you{scope}.",
        )
    return pair


def _show(
    request: HttpRequest,
    pair: QAPair | None,
    query: str,
    *,
    edit_form=None,
    reject_form=None,
    conflict: dict | None = None,
) -> HttpResponse:
    context = {
        "pair": pair,
        "query": query,
        "edit_form": edit_form,
        "reject_form": reject_form,
        "conflict": conflict,
        "reasons": RejectForm.base_fields["reason"].choices,
        "filter_items": list(QueryDict(query).items()),
    }
    if pair is None:
        if not request.htmx:  # the queue page it goes back to would not say why
            messages.info(request, "Nothing left for you to review with these filters.")
        _say_what_else_waits(request, query)
    else:
        context["edit_form"] = edit_form or EditForm(
            initial={
                "question": pair.question,
                "answer": pair.answer,
                "quote": pair.quote,
                "version": pair.version,
            }
        )
    if request.htmx:
        response = render(request, "synthetic/review.html#pair", context)
        if pair is not None:
            return push_url(response, _review_url(pair, query))
        return response
    if pair is None:
        return redirect(f"{reverse('synthetic:queue')}?{query}")
    if request.method == "POST" and not (edit_form or reject_form):
        return redirect(_review_url(pair, query))
    return render(request, "synthetic/review.html", context)


def _say_what_else_waits(request: HttpRequest, query: str) -> None:
    """Nothing is left for this reviewer here: say whether pairs still wait elsewhere (held
    by another reviewer, or outside the filters), so "All done" is never taken for more."""
    remaining = selectors.review_remaining(user=request.user, filters=_filters(QueryDict(query)))
    notes = []
    if held := remaining["held"]:
        notes.append(
            f"{held} pending pair{pluralize(held)} {pluralize(held, 'is,are')} held by another "
            "reviewer right now"
        )
    if outside := remaining["outside_filters"]:
        notes.append(f"{outside} more wait{pluralize(outside, 's,')} for you outside these filters")
    if notes:
        messages.info(request, "; ".join(notes) + ".")


def _review_url(pair: QAPair, query: str) -> str:
    return f"{reverse('synthetic:review', args=[pair.pk])}?{query}"


@reviewer_required
@require_GET
def review(request: HttpRequest, pk: int) -> HttpResponse:
    pair = get_object_or_404(
        QAPair.objects.select_related(
            "product_line", "document", "run", "duplicate_of", "claimed_by"
        ).prefetch_related(Prefetch("reviews", queryset=Review.objects.select_related("reviewer"))),
        pk=pk,
    )
    return _show(request, pair, _filter_query(request.GET))


@reviewer_required
@require_POST
def review_act(request: HttpRequest, pk: int) -> HttpResponse:
    pair = get_object_or_404(QAPair.objects.select_related("run"), pk=pk)
    query = _filter_query(request.POST)
    action = request.POST.get("action")
    edit_form, reject_form, conflict = None, None, None
    try:
        if action == "approve":
            reviewed = services.pair_approve(
                pair=pair,
                user=request.user,
                version=version_shown(request.POST, error=services.ReviewError),
            )
        elif action == "edit":
            edit_form = EditForm(request.POST)
            if not edit_form.is_valid():
                raise services.ReviewError("Fill in the question, answer and quote.")
            data = edit_form.cleaned_data
            reviewed = services.pair_approve(
                pair=pair,
                user=request.user,
                question=data["question"],
                answer=data["answer"],
                quote=data["quote"],
                reason=data["note"],
                version=data["version"],
            )
        elif action == "reject":
            reject_form = RejectForm(request.POST)
            reviewed = services.pair_reject(
                pair=pair,
                user=request.user,
                reason=request.POST.get("reason", ""),
                note=request.POST.get("note", ""),
                version=version_shown(request.POST, error=services.ReviewError),
            )
        else:
            raise services.ReviewError("Unknown action.")
    except services.EditConflict as exc:
        messages.error(request, str(exc))
        pair = exc.current
        if edit_form is not None:
            # The reviewer's text stays in the form; its version becomes the one now shown
            # beside it, so saving again applies it knowingly over the current text.
            conflict = {"yours": edit_form.cleaned_data, "current": pair}
            data = request.POST.copy()
            data["version"] = str(pair.version)
            edit_form = EditForm(data)
        return _show(request, pair, query, edit_form=edit_form, conflict=conflict)
    except services.ReviewError as exc:
        # Shown with a 200: htmx swaps only successful responses, and the reviewer must see why.
        messages.error(request, str(exc))
        pair.refresh_from_db()
        return _show(
            request,
            pair,
            query,
            edit_form=edit_form,
            reject_form=reject_form,
        )
    if action == "reject":
        messages.success(request, f"Pair {pk}: rejected.")
    elif reviewed.status == QAPair.Status.APPROVED:
        edited = reviewed.version > pair.version
        messages.success(request, f"Pair {pk}: {'edited and ' if edited else ''}approved.")
    else:
        messages.success(
            request, f"Pair {pk}: your approval is recorded; it needs another reviewer's too."
        )
    following = _claim_around(request, anchor=pk)
    return _show(request, following, query)


# --- export (leads) -----------------------------------------------------------------------


# The export form's starting values, as a submitted form would carry them: the preview of
# the split is computed for them before the lead changes anything.
_EXPORT_DEFAULTS = {
    "format": FORMATS[0],
    "val_fraction": ExportForm.base_fields["val_fraction"].initial,
    "seed": ExportForm.base_fields["seed"].initial,
}


@lead_required
@require_http_methods(["GET", "POST"])
def exports(request: HttpRequest) -> HttpResponse:
    form = ExportForm(request.POST or None, initial=_EXPORT_DEFAULTS)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            export = export_create(
                fmt=data["format"],
                val_fraction=data["val_fraction"],
                seed=data["seed"],
                cap_per_line=data["cap_per_line"],
                allow_empty_validation=data["allow_empty_validation"],
                user=request.user,
            )
        except ExportRefused as exc:
            # Pairs changed between the check and the export: the same rule, said the same way.
            form.add_error(None, str(exc))
        else:
            manifest = export.manifest
            train = len(manifest["pair_ids"]["train"])
            validation = len(manifest["pair_ids"]["validation"])
            messages.success(
                request,
                f"Export {export.pk}: {manifest['total']} pairs, {train} for training and "
                f"{validation} for validation.",
            )
            return redirect("synthetic:exports")
    preview = form if form.is_bound else ExportForm(_EXPORT_DEFAULTS)
    context = {
        "form": form,
        **_export_preview(preview, warn=not form.is_bound),
        "distribution": selectors.pair_distribution(),
        "exports": FinetuneExport.objects.defer("train", "validation").select_related("created_by")[
            :20
        ],
    }
    return render(request, "synthetic/exports.html", context)


@lead_required
@require_GET
def export_preview(request: HttpRequest) -> HttpResponse:
    """The split the export form's current values would make (the form asks as they change)."""
    context = _export_preview(ExportForm(request.GET), warn=True)
    return render(request, "synthetic/exports.html#plan", context)


def _export_preview(form: ExportForm, *, warn: bool) -> dict:
    """`warn`: show why the export would be refused (a submitted form shows it as its error)."""
    form.is_valid()
    return {"plan": form.plan, "problem": form.problem if warn else None}


@lead_required
@require_GET
def export_download(request: HttpRequest, pk: int, part: str) -> HttpResponse:
    import json

    export = get_object_or_404(FinetuneExport, pk=pk)
    bodies = {
        "train": export.train,
        "validation": export.validation,
        "manifest": json.dumps(export.manifest, indent=2),
    }
    if part not in bodies:
        return HttpResponse(status=404)
    suffix = "json" if part == "manifest" else "jsonl"
    response = HttpResponse(bodies[part], content_type="application/octet-stream")
    response["Content-Disposition"] = (
        f'attachment; filename="reviewdesk-export-{pk}-{part}.{suffix}"'
    )
    return response
