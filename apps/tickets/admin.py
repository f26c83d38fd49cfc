from django.contrib import admin, messages
from django.utils import timezone

from apps.tickets import services
from apps.tickets.models import ApiClient, Ticket


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("external_id", "subject", "status", "priority", "product_line", "source")
    list_filter = ("status", "source", "priority", "product_line")
    search_fields = ("external_id", "subject", "customer_email", "customer_name")
    list_select_related = ("product_line",)
    readonly_fields = ("source", "created_by", "api_client", "created_at", "updated_at")


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "created_at", "revoked_at")
    fields = ("name", "prefix", "created_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "revoked_at")
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        client, token = services.api_client_create(name=obj.name)
        # The admin goes on to use `obj` (log entry, redirect): make it the saved client.
        obj.pk, obj.prefix, obj.token_hash = client.pk, client.prefix, client.token_hash
        obj.created_at = client.created_at
        messages.warning(
            request,
            f"The API token for “{client.name}” is {token} — copy it now: it is shown only "
            "this once and reviewdesk keeps only its hash. Clients send it as "
            "“Authorization: Bearer <token>”.",
        )

    @admin.action(description="Revoke the selected clients' tokens")
    def revoke(self, request, queryset):
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        messages.success(request, f"Revoked {revoked} client token(s).")

    def has_delete_permission(self, request, obj=None):
        # Revoke instead: the client stays as the record of who posted its tickets.
        return False
