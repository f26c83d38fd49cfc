from django.contrib import admin

from apps.synthetic.models import FinetuneExport, GenerationRun, QAPair


@admin.register(GenerationRun)
class GenerationRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "status",
        "per_chunk",
        "chunk_limit",
        "done_chunks",
        "created_by",
        "created_at",
    )
    list_filter = ("status",)
    readonly_fields = (
        "created_by",
        "status",
        "total_chunks",
        "done_chunks",
        "error",
        "created_at",
        "finished_at",
    )

    def has_add_permission(self, request):
        return False


@admin.register(QAPair)
class QAPairAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "question",
        "product_line",
        "kind",
        "status",
        "verified",
        "duplicate_of",
        "run",
    )
    list_filter = ("status", "verified", "kind", "product_line", "run")
    search_fields = ("question", "answer", "quote")
    list_select_related = ("product_line", "run", "duplicate_of")
    # AI text is changed only through the review screens, where every edit is logged.
    readonly_fields = (
        "run",
        "chunk",
        "document",
        "product_line",
        "source_text",
        "kind",
        "question",
        "answer",
        "quote",
        "verified",
        "duplicate_of",
        "raw_output",
        "llm_call",
        "model",
        "prompt_version",
        "created_at",
    )
    exclude = ("question_embedding",)

    def has_add_permission(self, request):
        return False


@admin.register(FinetuneExport)
class FinetuneExportAdmin(admin.ModelAdmin):
    list_display = ("id", "format", "sha256", "created_by", "created_at")
    list_filter = ("format",)
    readonly_fields = ("created_by", "format", "manifest", "sha256", "created_at")
    exclude = ("train", "validation")

    def has_add_permission(self, request):
        return False
