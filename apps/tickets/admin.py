import secrets

from django import forms
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


WEBHOOK_SECRET_MIN_LENGTH = 16


class ApiClientForm(forms.ModelForm):
    """The webhook secret is typed into a password field and never rendered back: leaving it
    blank keeps the current one."""

    webhook_url = forms.URLField(
        label="Webhook URL",
        required=False,
        max_length=ApiClient._meta.get_field("webhook_url").max_length,
        assume_scheme="https",
        help_text="Approved replies are POSTed here (optional: without one, the client fetches "
        "them with GET /api/tickets/{ticket id}/reply).",
    )
    new_webhook_secret = forms.CharField(
        label="Webhook secret",
        required=False,
        strip=True,
        max_length=ApiClient._meta.get_field("webhook_secret").max_length,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Signs every webhook POST (HMAC-SHA256 in the X-Reviewdesk-Signature header). "
        "Leave blank to keep the current secret.",
    )
    generate_webhook_secret = forms.BooleanField(
        label="Generate a new webhook secret",
        required=False,
        help_text="A random secret, shown once after saving: give it to the client.",
    )

    class Meta:
        model = ApiClient
        fields = ("name", "webhook_url")

    def clean(self):
        data = super().clean()
        secret = data.get("new_webhook_secret", "")
        generate = data.get("generate_webhook_secret", False)
        if secret and generate:
            self.add_error("new_webhook_secret", "Type a secret or generate one, not both.")
        elif secret and len(secret) < WEBHOOK_SECRET_MIN_LENGTH:
            self.add_error(
                "new_webhook_secret",
                f"Use at least {WEBHOOK_SECRET_MIN_LENGTH} characters: a short secret can be "
                "guessed from signed requests.",
            )
        elif data.get("webhook_url") and not (secret or generate or self.instance.webhook_secret):
            self.add_error(
                "new_webhook_secret",
                "A webhook needs a secret to sign its requests: type one or tick "
                "“Generate a new webhook secret”.",
            )
        return data


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    list_display = ("name", "prefix", "webhook_url", "webhook_signed", "created_at", "revoked_at")
    fields = (
        "name",
        "prefix",
        "created_at",
        "revoked_at",
        "webhook_url",
        "webhook_secret_state",
        "new_webhook_secret",
        "generate_webhook_secret",
    )
    readonly_fields = ("prefix", "created_at", "revoked_at", "webhook_secret_state")
    actions = ["revoke"]

    @admin.display(description="Webhook secret", boolean=True)
    def webhook_signed(self, obj):
        # Whether a secret is set, never the secret.
        return bool(obj.webhook_secret)

    @admin.display(description="Current webhook secret")
    def webhook_secret_state(self, obj):
        return "Set (not shown)" if obj and obj.webhook_secret else "Not set"

    def save_model(self, request, obj, form, change):
        secret = form.cleaned_data.get("new_webhook_secret", "")
        generated = form.cleaned_data.get("generate_webhook_secret", False)
        if generated:
            secret = secrets.token_urlsafe(32)
        webhook = ["webhook_url", *(["webhook_secret"] if secret else [])]
        if secret:
            obj.webhook_secret = secret
        if change:
            obj.save(update_fields=["name", *webhook])
        else:
            client, token = services.api_client_create(name=obj.name)
            # The admin goes on to use `obj` (log entry, redirect): make it the saved client.
            obj.pk, obj.prefix, obj.token_hash = client.pk, client.prefix, client.token_hash
            obj.created_at = client.created_at
            obj.save(update_fields=webhook)
            messages.warning(
                request,
                f"The API token for “{client.name}” is {token} — copy it now: it is shown only "
                "this once and reviewdesk keeps only its hash. Clients send it as "
                "“Authorization: Bearer <token>”.",
            )
        if generated:
            messages.warning(
                request,
                f"The webhook secret for “{obj.name}” is {secret} — copy it now: it is not "
                "shown again. The client checks each POST's X-Reviewdesk-Signature with it.",
            )

    @admin.action(description="Revoke the selected clients' tokens")
    def revoke(self, request, queryset):
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        messages.success(request, f"Revoked {revoked} client token(s).")

    def has_delete_permission(self, request, obj=None):
        # Revoke instead: the client stays as the record of who posted its tickets.
        return False
