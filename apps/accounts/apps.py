from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from apps.accounts.roles import roles_sync_after_migrate

        # Apps migrated after accounts add permissions later; keep the role groups complete.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="accounts.roles_sync")
