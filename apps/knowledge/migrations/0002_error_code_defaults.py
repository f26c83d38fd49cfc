from django.db import migrations

PATTERNS = [
    ("Letter E + digits (E1042)", r"\bE\d{3,5}\b"),
    ("ERR_ constants (ERR_SYNC_TIMEOUT)", r"\bERR_[A-Z0-9_]{3,}\b"),
]
CATEGORIES = [
    ("E1", "Authentication and accounts"),
    ("E2", "Sync and storage"),
    ("E3", "Billing and plans"),
    ("E4", "Network and connectivity"),
    ("E5", "Server and internal"),
    ("ERR_AUTH", "Authentication and accounts"),
    ("ERR_SYNC", "Sync and storage"),
    ("ERR_BILLING", "Billing and plans"),
    ("ERR_NET", "Network and connectivity"),
]


def defaults_create(apps, schema_editor):
    ErrorCodePattern = apps.get_model("knowledge", "ErrorCodePattern")
    ErrorCategory = apps.get_model("knowledge", "ErrorCategory")
    for name, regex in PATTERNS:
        ErrorCodePattern.objects.get_or_create(regex=regex, defaults={"name": name})
    for prefix, name in CATEGORIES:
        ErrorCategory.objects.get_or_create(prefix=prefix, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]
    operations = [migrations.RunPython(defaults_create, migrations.RunPython.noop)]
