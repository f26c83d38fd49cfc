from django.contrib.auth.management import create_permissions
from django.db import migrations


def roles_create(apps, schema_editor):
    # Permissions are normally created after all migrations; make ours exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    from apps.accounts.roles import roles_sync

    roles_sync()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(roles_create, migrations.RunPython.noop)]
