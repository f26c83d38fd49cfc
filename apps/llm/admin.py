from django.contrib import admin

from apps.llm.models import LLMCall, PromptVersion
from apps.llm.prompts import prompt_versions_sync


@admin.register(PromptVersion)
class PromptVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "content_hash", "first_used_at")
    list_filter = ("name",)
    search_fields = ("name", "content_hash", "text")
    readonly_fields = ("name", "content_hash", "text", "first_used_at")

    def has_add_permission(self, request):
        return False

    def changelist_view(self, request, extra_context=None):
        prompt_versions_sync()
        return super().changelist_view(request, extra_context)


@admin.register(LLMCall)
class LLMCallAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "purpose",
        "backend",
        "model",
        "attempts",
        "valid",
        "checks_passed",
        "needs_human",
        "completion_tokens",
        "ms_per_output_token",
        "total_ms",
    )
    list_filter = (
        "purpose",
        "backend",
        "valid",
        "checks_passed",
        "needs_human",
        "first_try_valid",
    )
    search_fields = ("purpose", "model", "error")
    list_select_related = ("prompt_version",)

    def get_readonly_fields(self, request, obj=None):
        # Telemetry is history: nothing about a recorded call can be changed.
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False
