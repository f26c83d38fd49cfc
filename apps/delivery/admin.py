from django.contrib import admin

from apps.delivery.models import Delivery, DeliveryAttempt


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    fields = ("number", "started_at", "status_code", "duration_ms", "error", "url")
    readonly_fields = fields
    can_delete = False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """View-only: deliveries change through their tasks and the leads' "Send again"."""

    list_display = ("uid", "event", "ticket", "api_client", "status", "attempt_count", "created_at")
    list_filter = ("status", "event", "api_client")
    list_select_related = ("ticket", "api_client")
    inlines = [DeliveryAttemptInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
