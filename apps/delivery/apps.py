from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "apps.delivery"
    label = "delivery"
    verbose_name = "Reply delivery"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Drafts sits below delivery: it tells its listeners when a reply is approved, and the
        # webhook is queued from here without drafts knowing deliveries exist.
        from apps.delivery.services import delivery_on_reply_approved
        from apps.drafts.services import reply_approved_listen

        reply_approved_listen(delivery_on_reply_approved)
