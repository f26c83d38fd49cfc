"""The decision log is append-only in the database itself, not only in the app."""

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.urls import reverse

from apps.oversight.models import EditLogEntry
from apps.oversight.services import Area, Decision, NotInTransaction, decision_record
from tests import factories

pytestmark = pytest.mark.django_db


def _entry(editor=None) -> EditLogEntry:
    with transaction.atomic():
        return decision_record(
            area=Area.QA,
            object_type="synthetic.qapair",
            object_id=7,
            object_version=2,
            decision=Decision.APPROVE,
            editor=editor or factories.reviewer(),
            before={"answer": "30 days on Pro."},
            after={"answer": "Thirty days on Pro."},
        )


def _refused(sql: str, params=()) -> str:
    with (
        pytest.raises(ProgrammingError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)
    return str(refused.value)


def test_the_database_refuses_to_update_an_entry():
    entry = _entry()
    message = _refused(
        "UPDATE oversight_editlogentry SET note = 'rewritten' WHERE id = %s", [entry.pk]
    )
    assert "Cannot update or delete" in message
    with pytest.raises(ProgrammingError), transaction.atomic():
        EditLogEntry.objects.filter(pk=entry.pk).update(decision=Decision.REJECT)
    entry.refresh_from_db()
    assert entry.note == "" and entry.decision == Decision.APPROVE


def test_the_database_refuses_to_delete_an_entry():
    entry = _entry()
    assert "Cannot update or delete" in _refused(
        "DELETE FROM oversight_editlogentry WHERE id = %s", [entry.pk]
    )
    with pytest.raises(ProgrammingError), transaction.atomic():
        entry.delete()
    assert EditLogEntry.objects.filter(pk=entry.pk).exists()


def test_the_database_refuses_to_truncate_the_log():
    _entry()
    assert "Cannot truncate" in _refused("TRUNCATE oversight_editlogentry")
    # Even together with other tables, as Django's flush would do it.
    assert "Cannot truncate" in _refused(
        "TRUNCATE oversight_editlogentry, synthetic_review CASCADE"
    )
    assert EditLogEntry.objects.count() == 1


def test_deleting_a_user_leaves_their_entries_untouched():
    reviewer = factories.reviewer(username="robin")
    entry = _entry(editor=reviewer)
    reviewer_id = reviewer.pk
    reviewer.delete()
    entry = EditLogEntry.objects.get(pk=entry.pk)
    assert entry.editor_id == reviewer_id  # the plain reference stays
    assert (entry.editor_name, entry.editor_role) == ("robin", "Reviewer")


# Outside the test's own transaction, as a caller forgetting transaction.atomic would be.
@pytest.mark.django_db(transaction=True)
def test_an_entry_is_written_only_inside_the_decision_s_transaction():
    with pytest.raises(NotInTransaction):
        decision_record(
            area=Area.QA,
            object_type="synthetic.qapair",
            object_id=1,
            object_version=1,
            decision=Decision.REJECT,
            editor=factories.reviewer(),
        )
    assert EditLogEntry.objects.count() == 0


def test_unknown_decisions_and_areas_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="Unknown decision 'approved'"), transaction.atomic():
        decision_record(
            area=Area.QA,
            object_type="synthetic.qapair",
            object_id=1,
            object_version=1,
            decision="approved",
            editor=factories.reviewer(),
        )


def test_admin_shows_the_log_read_only(client):
    entry = _entry()
    client.force_login(factories.admin())
    page = client.get(reverse("admin:oversight_editlogentry_change", args=[entry.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="_save"' not in body and "Thirty days on Pro." in body
    assert (
        client.post(
            reverse("admin:oversight_editlogentry_change", args=[entry.pk]), {"note": "x"}
        ).status_code
        == 403
    )
    assert (
        client.get(reverse("admin:oversight_editlogentry_delete", args=[entry.pk])).status_code
        == 403
    )
    assert client.get(reverse("admin:oversight_editlogentry_add")).status_code == 403
    listing = client.get(reverse("admin:oversight_editlogentry_changelist"))
    assert listing.status_code == 200 and "delete_selected" not in listing.content.decode()
