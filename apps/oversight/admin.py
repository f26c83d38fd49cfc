from django.contrib import admin

from apps.oversight.models import EditLogEntry


@admin.register(EditLogEntry)
class EditLogEntryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "object_type",
        "object_id",
        "field",
        "editor",
        "editor_role",
        "model",
    )
    list_filter = ("object_type", "field", "editor_role")
    search_fields = ("before", "after", "reason")
    list_select_related = ("editor",)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    # Append-only: the log is evidence, so nobody edits or deletes it, admins included.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
