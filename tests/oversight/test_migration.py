"""Entries of the earlier edit log are kept, in the decision log's shape."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.oversight.models import EditLogEntry
from tests import factories

BEFORE = [("oversight", "0001_initial")]


@pytest.mark.django_db(transaction=True)
def test_existing_edit_log_entries_are_migrated_and_kept():
    editor = factories.reviewer(username="robin")
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old_apps = executor.loader.project_state(BEFORE).apps
    Old = old_apps.get_model("oversight", "EditLogEntry")
    old = Old.objects.create(
        object_type="synthetic.qapair",
        object_id=12,
        field="answer",
        before="30 days on Pro.",
        after="Thirty days on Pro.",
        diff="-30 days on Pro.\n+Thirty days on Pro.",
        editor_id=editor.pk,
        editor_role="Reviewer",
        reason="clearer",
        model="gemma",
        prompt_version="qa_pair@x",
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes("oversight"))

    entry = EditLogEntry.objects.get(pk=old.pk)
    assert (entry.decision, entry.edited, entry.changed_fields) == ("edit", True, ["answer"])
    assert entry.before == {"answer": "30 days on Pro."}
    assert entry.after == {"answer": "Thirty days on Pro."}
    assert (entry.note, entry.reason, entry.editor_name) == ("clearer", "", "robin")
    assert entry.diff.startswith("-30 days") and entry.created_at == old.created_at
    assert entry.edit_ratio == pytest.approx(1 / 4)  # "30" → "Thirty": 1 of 4 words
