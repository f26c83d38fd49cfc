from django.contrib import admin, messages
from django.db import transaction
from django.shortcuts import redirect

from apps.knowledge import services, tasks
from apps.knowledge.models import (
    Chunk,
    Document,
    ErrorCategory,
    ErrorCodePattern,
    EvalRun,
    IngestItem,
    IngestJob,
    ProductLine,
)


@admin.register(ProductLine)
class ProductLineAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "aliases")
    search_fields = ("name", "slug", "aliases")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(ErrorCodePattern)
class ErrorCodePatternAdmin(admin.ModelAdmin):
    list_display = ("name", "regex", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "regex")


@admin.register(ErrorCategory)
class ErrorCategoryAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name")
    search_fields = ("prefix", "name")


class ChunkInline(admin.TabularInline):
    model = Chunk
    fields = ("ordinal", "heading_path", "token_count", "error_codes", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "external_id",
        "product_line",
        "format",
        "status",
        "chunk_count",
        "source_updated_at",
        "updated_at",
    )
    list_filter = ("product_line", "format", "status")
    search_fields = ("title", "external_id")
    readonly_fields = (
        "external_id",
        "format",
        "content_hash",
        "chunk_config",
        "chunk_count",
        "metadata",
        "created_at",
        "updated_at",
        "status",
        "source_root",
        "source_file",
        "date_source",
    )
    exclude = ("raw",)
    inlines = [ChunkInline]
    actions = ["reingest"]

    def get_queryset(self, request):
        # The stored upload (up to the per-file limit) is never shown here; saving an instance
        # loaded without it writes only the loaded fields.
        return super().get_queryset(request).defer("raw")

    def add_view(self, request, form_url="", extra_context=None):
        # Documents are created by ingestion (parse, chunk, embed), never typed in by hand.
        return redirect("knowledge:upload")

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        # Chunks carry copies of the product line and date (search filters read them there):
        # the service changes both together.
        copied = {"product_line", "source_updated_at"}
        others = [name for name in form.changed_data if name not in copied]
        if others:
            obj.save(update_fields=[*others, "updated_at"])
        if copied & set(form.changed_data):
            services.document_metadata_update(
                document=obj,
                product_line=obj.product_line,
                source_updated_at=obj.source_updated_at,
            )
        return None

    @admin.action(description="Re-ingest selected documents")
    def reingest(self, request, queryset):
        # Re-read with the stored upload (deferred in the list) in one query.
        documents = Document.objects.filter(pk__in=queryset.values("pk"))
        for document in documents:
            job = services.document_reingest(document=document, user=request.user)
            transaction.on_commit(lambda pk=job.pk: tasks.ingest_job_run.delay(pk))
        messages.success(request, f"Queued {len(documents)} document(s) for re-ingestion.")


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin):
    list_display = ("document", "ordinal", "heading_path", "token_count", "product_line")
    list_filter = ("product_line",)
    search_fields = ("text", "document__title", "error_codes")
    list_select_related = ("document", "product_line")
    exclude = ("embedding", "search_vector")
    readonly_fields = (
        "document",
        "ordinal",
        "text",
        "heading_path",
        "token_count",
        "product_line",
        "error_codes",
        "error_categories",
        "source_updated_at",
    )

    def has_add_permission(self, request):
        return False


class IngestItemInline(admin.TabularInline):
    model = IngestItem
    fields = ("name", "status", "documents", "chunks", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(IngestJob)
class IngestJobAdmin(admin.ModelAdmin):
    list_display = ("id", "source", "status", "created_by", "created_at", "finished_at")
    list_filter = ("status", "source")
    readonly_fields = (
        "created_by",
        "source",
        "product_line",
        "status",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "worker_token",
        "expanded_bytes",
    )
    inlines = [IngestItemInline]

    def has_add_permission(self, request):
        return False


@admin.register(EvalRun)
class EvalRunAdmin(admin.ModelAdmin):
    list_display = ("name", "mode", "use_filters", "chunk_config", "status", "created_at")
    list_filter = ("mode", "use_filters", "status")
    search_fields = ("name",)
    exclude = ("queries",)
    readonly_fields = (
        "name",
        "created_by",
        "mode",
        "ks",
        "use_filters",
        "chunk_config",
        "status",
        "results",
        "error",
        "created_at",
        "finished_at",
    )

    def has_add_permission(self, request):
        return False
