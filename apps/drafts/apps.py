from django.apps import AppConfig


class DraftsConfig(AppConfig):
    name = "apps.drafts"
    label = "drafts"
    verbose_name = "Draft replies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every new ticket gets a draft: tickets sits below drafts, so it tells its listeners.
        from apps.drafts.services import drafts_request_for_new
        from apps.tickets.services import tickets_created_listen

        tickets_created_listen(drafts_request_for_new)
