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

    def has_add_permission(self, request):
        return False

    # View only: the number of approvals a pair needs, or a run's status, is not changed
    # behind the review screens' back.
    def has_change_permission(self, request, obj=None):
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
    exclude = ("question_embedding",)

    def has_add_permission(self, request):
        return False

    # View only, every field: AI text and its status change only through the review screens,
    # which write the review, the version and the edit log.
    def has_change_permission(self, request, obj=None):
        return False


@admin.register(FinetuneExport)
class FinetuneExportAdmin(admin.ModelAdmin):
    list_display = ("id", "format", "sha256", "created_by", "created_at")
    list_filter = ("format",)
    readonly_fields = ("created_by", "format", "manifest", "sha256", "created_at")
    exclude = ("train", "validation")

    def has_add_permission(self, request):
        return False
