from collections.abc import Iterator

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats, timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.htmx import page_render
from apps.core.permissions import lead_required, reviewer_required
from apps.knowledge import evaluation, selectors, services, tasks
from apps.knowledge.forms import NEW_PRODUCT_LINE, EvalRunForm, SearchForm, UploadForm
from apps.knowledge.models import (
    Chunk,
    DateSource,
    Document,
    EvalRun,
    IngestJob,
    ProductLine,
    ingest_stale_after,
)

# --- documents ------------------------------------------------------------------------------


@reviewer_required
@require_GET
def document_list(request: HttpRequest) -> HttpResponse:
    documents = selectors.documents_list(
        product_line=request.GET.get("product_line", ""),
        status=request.GET.get("status", ""),
        q=request.GET.get("q", "").strip(),
    )
    page = Paginator(documents, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "product_lines": ProductLine.objects.all(),
        "statuses": Document.Status.choices,
        "params": request.GET,
    }
    return page_render(request, "knowledge/documents.html", "table", context)


@reviewer_required
@require_GET
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    documents = Document.objects.select_related("product_line").defer("raw")
    document = get_object_or_404(documents, pk=pk)
    chunks = document.chunks.select_related("product_line").defer("embedding", "search_vector")
    return render(request, "knowledge/document.html", {"document": document, "chunks": chunks})


@lead_required
@require_POST
def document_reingest(request: HttpRequest, pk: int) -> HttpResponse:
    document = get_object_or_404(Document, pk=pk)
    job = services.document_reingest(document=document, user=request.user)
    transaction.on_commit(lambda: tasks.ingest_job_run.delay(job.pk))
    messages.success(request, f"Re-ingesting “{document.title}”.")
    return redirect("knowledge:job_detail", pk=job.pk)


@lead_required
@require_POST
def document_delete(request: HttpRequest, pk: int) -> HttpResponse:
    document = get_object_or_404(Document.objects.defer("raw"), pk=pk)
    title = document.title
    services.document_delete(document=document)
    messages.success(request, f"Deleted “{title}” and its chunks.")
    return redirect("knowledge:document_list")


@reviewer_required
@require_GET
def chunk_detail(request: HttpRequest, pk: int) -> HttpResponse:
    chunk = get_object_or_404(Chunk.objects.select_related("document", "product_line"), pk=pk)
    context = {
        "chunk": chunk,
        "neighbours": selectors.chunk_neighbours(chunk=chunk),
        "terms": request.GET.get("terms", "").split(),
        "quote": _quote_span(chunk, request.GET.get("quote", "")),
    }
    return render(request, "knowledge/chunk.html", context)


def _quote_span(chunk: Chunk, value: str) -> tuple[str, str, str] | None:
    """`?quote=START-END` (a draft's citation): the chunk's text before, at and after it."""
    start, _, end = value.partition("-")
    if not (start.isdigit() and end.isdigit()) or not int(start) < int(end) <= len(chunk.text):
        return None
    start, end = int(start), int(end)
    return chunk.text[:start], chunk.text[start:end], chunk.text[end:]


# --- ingestion -----------------------------------------------------------------------------


@lead_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        line = form.cleaned_data["product_line"]
        if line == NEW_PRODUCT_LINE:
            line = services.product_line_get_or_create(name=form.cleaned_data["new_product_line"])
        job = services.ingest_job_create(
            files=_uploads(form.cleaned_data["all_files"]),
            user=request.user,
            product_line=line,
        )
        transaction.on_commit(lambda: tasks.ingest_job_run.delay(job.pk))
        return redirect("knowledge:job_detail", pk=job.pk)
    jobs = IngestJob.objects.select_related("created_by")[:10]
    limits = {
        "file": services.size_text(settings.UPLOAD_MAX_FILE_BYTES),
        "upload": services.size_text(settings.UPLOAD_MAX_BYTES),
        "members": services.archive_member_cap(),
    }
    return render(request, "knowledge/upload.html", {"form": form, "jobs": jobs, "limits": limits})


def _uploads(files) -> Iterator[services.UploadedFile]:
    """Read one file when the service asks for it: it is stored before the next is read. A
    file the browser sent no date for is dated by the upload, and says so."""
    now = timezone.now()
    for f, path, mtime in files:
        data = f.read()
        f.close()  # Django's copy of an in-memory upload is not needed any more
        yield services.UploadedFile(
            name=f.name,
            data=data,
            external_id=path or f.name,
            mtime=mtime or now,
            date_source=DateSource.FILE if mtime else DateSource.UPLOAD,
        )


@lead_required
@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(IngestJob.objects.select_related("created_by", "product_line"), pk=pk)
    items = job.items.defer("content").order_by("id")
    progress = selectors.ingest_job_progress(job=job)
    context = {
        "job": job,
        "items": items,
        "progress": progress,
        "unprocessed": progress["total"] - progress["finished"],
        "retryable": 0 if progress["active"] else job.items.retryable().count(),
        "filing": None if progress["active"] else selectors.ingest_job_filing(job=job),
    }
    return page_render(
        request,
        "knowledge/job.html",
        "progress",
        context,
        still_polling=context["progress"]["active"],
    )


@lead_required
@require_POST
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(IngestJob, pk=pk)
    count = services.ingest_job_retry_failed(job=job)
    if count:
        transaction.on_commit(lambda: tasks.ingest_job_run.delay(job.pk))
        messages.info(request, f"Retrying {count} file(s).")
    elif job.status in (IngestJob.Status.QUEUED, IngestJob.Status.RUNNING):
        messages.warning(request, "The job has not finished yet; retry its failures once it has.")
    else:
        messages.warning(
            request,
            "Nothing to retry: each failed file was refused for what it is (see its reason) "
            "and would fail the same way again.",
        )
    return redirect("knowledge:job_detail", pk=job.pk)


@lead_required
@require_POST
def job_resume(request: HttpRequest, pk: int) -> HttpResponse:
    """For a job whose worker stopped responding: queue it again; finished items are kept."""
    job = get_object_or_404(IngestJob, pk=pk)
    if services.ingest_job_resume(job=job):
        transaction.on_commit(lambda: tasks.ingest_job_run.delay(job.pk))
        messages.info(request, "Job queued again; files already done are kept.")
    elif job.status == IngestJob.Status.RUNNING:
        last = formats.time_format(timezone.localtime(job.heartbeat_at), "H:i")
        minutes = round(ingest_stale_after().total_seconds() / 60)
        messages.warning(
            request,
            f"The job is still running (last progress at {last}). It can be resumed once its "
            f"worker has not responded for {minutes} minutes.",
        )
    else:
        messages.info(request, "The job has finished; there is nothing to resume.")
    return redirect("knowledge:job_detail", pk=job.pk)


# --- hit testing --------------------------------------------------------------------------


@reviewer_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    data = request.GET if "q" in request.GET else None
    form = SearchForm(data, initial={"mode": "hybrid", "k": 10, "infer": True})
    result = None
    if form.is_valid() and form.cleaned_data["q"].strip():
        result = selectors.chunks_search(
            query=form.cleaned_data["q"].strip(),
            filters=_filters_from(form.cleaned_data),
            k=form.cleaned_data["k"] or 10,
            mode=form.cleaned_data["mode"] or "hybrid",
            infer_filters=form.cleaned_data["infer"],
        )
    names = dict(ProductLine.objects.values_list("pk", "name"))
    context = {"form": form, "result": result, "line_names": names}
    return page_render(request, "knowledge/search.html", "results", context)


def _filters_from(data: dict) -> selectors.Filters:
    return selectors.Filters(
        product_lines=[line.pk for line in data["product_lines"]],
        error_codes=[c.strip() for c in data["error_codes"].split(",") if c.strip()],
        error_categories=list(data["error_categories"]),
        updated_after=data["updated_after"],
    )


# --- evaluation -------------------------------------------------------------------------------


@lead_required
@require_http_methods(["GET", "POST"])
def eval_list(request: HttpRequest) -> HttpResponse:
    form = EvalRunForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            queries = (
                evaluation.queries_from_approved_pairs()
                if form.cleaned_data["approved_pairs"]
                else evaluation.queries_parse(form.cleaned_data["queries"].read().decode())
            )
        except (evaluation.QueryFileError, UnicodeDecodeError) as exc:
            form.add_error(None, str(exc))
        else:
            run = evaluation.eval_run_create(
                name=form.cleaned_data["name"],
                queries=queries,
                mode=form.cleaned_data["mode"],
                ks=form.cleaned_data["ks"],
                use_filters=form.cleaned_data["use_filters"],
                user=request.user,
            )
            transaction.on_commit(lambda: tasks.eval_run_execute.delay(run.pk))
            messages.success(request, f"Evaluation “{run.name}” queued.")
            return redirect("knowledge:eval_list")
    runs = selectors.eval_runs_list()
    compare = [run for run in runs if str(run.pk) in request.GET.getlist("compare")]
    context = {
        "form": form,
        "runs": runs,
        "compare": compare,
        "compare_lines": selectors.eval_runs_product_lines(runs=compare),
        "active": any(r.status in ("queued", "running") for r in runs),
    }
    return page_render(request, "knowledge/eval.html", "runs", context)


@lead_required
@require_GET
def eval_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(EvalRun.objects.defer("queries").select_related("created_by"), pk=pk)
    missed_only = request.GET.get("show") == "missed"
    asked = (run.results or {}).get("per_query", [])
    context = {
        "run": run,
        "rows": selectors.eval_run_questions(run=run, missed_only=missed_only),
        "missed_only": missed_only,
        "asked": len(asked),
        "missed": sum(1 for row in asked if row.get("rank") is None),
        "depth": max([*run.ks, 10]),
        "metrics": selectors.eval_run_metrics(run=run),
    }
    return render(request, "knowledge/eval_run.html", context)
