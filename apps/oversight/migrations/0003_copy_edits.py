import difflib

from django.db import migrations


def edits_copy(apps, schema_editor):
    """Each earlier entry was one field changed by a reviewer while approving a Q&A pair (the
    approval itself was not logged then): it is kept as an "edit" of that field, with the
    editor's name filled in and its edit ratio computed like new entries'."""
    Entry = apps.get_model("oversight", "EditLogEntry")
    User = apps.get_model("accounts", "User")
    names = dict(User.objects.values_list("pk", "username"))
    for entry in Entry.objects.filter(changed_fields=[]).iterator(chunk_size=500):
        entry.before = {entry.old_field: entry.old_before}
        entry.after = {entry.old_field: entry.old_after}
        entry.changed_fields = [entry.old_field]
        entry.decision = "edit"
        entry.edited = True
        entry.editor_name = names.get(entry.editor_id, "")
        words = difflib.SequenceMatcher(
            None, entry.old_before.split(), entry.old_after.split(), autojunk=False
        )
        entry.edit_ratio = round(1 - words.ratio(), 4)
        entry.save(
            update_fields=[
                "before",
                "after",
                "changed_fields",
                "decision",
                "edited",
                "editor_name",
                "edit_ratio",
            ]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("oversight", "0002_decision_log_fields"),
    ]

    operations = [migrations.RunPython(edits_copy, migrations.RunPython.noop)]
