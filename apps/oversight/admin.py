from django.contrib import admin

from apps.oversight.models import EditLogEntry


@admin.register(EditLogEntry)
class EditLogEntryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "area",
        "decision",
        "object_type",
        "object_id",
        "object_version",
        "editor_name",
        "editor_role",
        "reason",
        "edit_ratio",
        "model",
    )
    list_filter = ("area", "decision", "edited", "editor_role", "reason")
    search_fields = ("editor_name", "note", "diff", "product_line", "model", "prompt_version")
    date_hierarchy = "created_at"
    # The editor is shown by the name kept on the entry: the user may since have been deleted.
    exclude = ("editor",)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields if field.name != "editor"]

    # Append-only: the log is evidence, so nobody edits or deletes it, admins included (the
    # database refuses it anyway; these keep the buttons away).
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
