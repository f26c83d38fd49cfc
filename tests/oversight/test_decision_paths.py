"""Each decision path of the Q&A review writes exactly one log entry, in the transaction of
the change: never a change without its entry, never an entry without its change."""

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.urls import reverse

from apps.oversight.models import EditLogEntry
from apps.synthetic import services
from apps.synthetic.models import QAPair, Review
from tests import factories

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


def _line_pair():
    (pair,) = factories.qa_pairs(1)
    pair.product_line = factories.ProductLineFactory(name="Skylark Pro")
    pair.save(update_fields=["product_line"])
    return pair


def test_approving_as_written_logs_one_unedited_approval():
    pair = _line_pair()
    reviewer = factories.reviewer(username="robin")
    services.pair_approve(pair=pair, user=reviewer, version=1)
    entry = EditLogEntry.objects.get()
    assert (entry.area, entry.decision, entry.edited) == ("qa", "approve", False)
    assert (entry.object_type, entry.object_id, entry.object_version) == (
        "synthetic.qapair",
        pair.pk,
        1,
    )
    assert (
        entry.before
        == entry.after
        == {
            "question": pair.question,
            "answer": "30 days on Pro.",
            "quote": pair.quote,
        }
    )
    assert entry.changed_fields == [] and entry.diff == "" and entry.edit_ratio == 0.0
    assert (entry.editor, entry.editor_name, entry.editor_role) == (reviewer, "robin", "Reviewer")
    assert (entry.product_line, entry.model, entry.prompt_version) == (
        "Skylark Pro",
        "gemma",
        "qa_pair@x",
    )
    assert entry.ai_created_at == pair.created_at


def test_editing_then_approving_logs_one_entry_for_every_field_changed():
    pair = _line_pair()
    lead = factories.lead()
    services.pair_approve(
        pair=pair,
        user=lead,
        question="How long does Pro keep version history?",
        answer="Thirty days on the Pro plan.",
        reason="clearer",
        version=1,
    )
    entry = EditLogEntry.objects.get()
    pair.refresh_from_db()
    assert (entry.decision, entry.edited, entry.object_version) == ("approve", True, 2)
    assert entry.changed_fields == ["question", "answer"]
    assert entry.before["answer"] == "30 days on Pro."
    assert entry.after["answer"] == pair.answer == "Thirty days on the Pro plan."
    assert "-30 days on Pro." in entry.diff and "+Thirty days on the Pro plan." in entry.diff
    assert "--- question (before)" in entry.diff
    assert 0 < entry.edit_ratio < 1 and entry.note == "clearer"
    assert entry.editor_role == "Support lead"


def test_rejecting_logs_one_entry_with_the_reason_code_and_note():
    pair = _line_pair()
    services.pair_reject(
        pair=pair, user=factories.reviewer(), reason="not_in_docs", note="no such plan", version=1
    )
    entry = EditLogEntry.objects.get()
    assert (entry.decision, entry.reason, entry.note, entry.edited) == (
        "reject",
        "not_in_docs",
        "no such plan",
        False,
    )


def test_each_screen_action_writes_exactly_one_entry(client):
    approve, edit, reject = factories.qa_pairs(3)
    client.force_login(factories.reviewer())
    url = "synthetic:review_act"
    client.post(reverse(url, args=[approve.pk]), {"action": "approve", "version": 1}, headers=HX)
    assert EditLogEntry.objects.count() == 1
    client.post(
        reverse(url, args=[edit.pk]),
        {
            "action": "edit",
            "question": edit.question,
            "answer": "Thirty days.",
            "quote": edit.quote,
            "note": "shorter",
            "version": 1,
        },
        headers=HX,
    )
    assert EditLogEntry.objects.count() == 2
    client.post(
        reverse(url, args=[reject.pk]),
        {"action": "reject", "reason": "wrong", "version": 1},
        headers=HX,
    )
    decisions = list(
        EditLogEntry.objects.order_by("id").values_list("object_id", "decision", "edited")
    )
    assert decisions == [
        (approve.pk, "approve", False),
        (edit.pk, "approve", True),
        (reject.pk, "reject", False),
    ]
    assert Review.objects.count() == 3


def test_a_second_approval_is_a_decision_of_its_own():
    (pair,) = factories.qa_pairs(1, required_approvals=2)
    services.pair_approve(pair=pair, user=factories.reviewer(), version=1)
    services.pair_approve(pair=pair, user=factories.reviewer(), version=1)
    pair.refresh_from_db()
    assert pair.status == QAPair.Status.APPROVED
    assert EditLogEntry.objects.filter(decision="approve").count() == 2


def test_a_refused_decision_leaves_neither_change_nor_entry():
    (pair,) = factories.qa_pairs(1, verified=False)
    with pytest.raises(services.ReviewError):
        # The edit is applied, then the approval is refused (the quote is not in the source).
        services.pair_approve(
            pair=pair, user=factories.reviewer(), answer="Edited.", quote="Not there.", version=1
        )
    pair.refresh_from_db()
    assert pair.answer == "30 days on Pro." and pair.version == 1
    assert EditLogEntry.objects.count() == 0 and Review.objects.count() == 0


def test_an_edit_conflict_writes_no_entry():
    (pair,) = factories.qa_pairs(1, required_approvals=2)
    services.pair_approve(pair=pair, user=factories.reviewer(), answer="First edit.", version=1)
    with pytest.raises(services.EditConflict):
        services.pair_approve(
            pair=pair, user=factories.reviewer(), answer="Second edit.", version=1
        )
    assert EditLogEntry.objects.count() == 1


def test_when_the_log_cannot_take_the_entry_the_decision_is_not_applied():
    (pair,) = factories.qa_pairs(1)
    # A real refusal by the database on insert, as a full disk or a broken log would give.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_insert() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'log unavailable'; END; $$ LANGUAGE plpgsql; "
            "CREATE TRIGGER refuse_insert BEFORE INSERT ON oversight_editlogentry "
            "FOR EACH ROW EXECUTE FUNCTION refuse_insert();"
        )
    with pytest.raises(ProgrammingError, match="log unavailable"), transaction.atomic():
        services.pair_approve(
            pair=pair, user=factories.reviewer(), answer="Edited answer.", version=1
        )
    pair.refresh_from_db()
    assert (pair.status, pair.answer, pair.version) == ("pending", "30 days on Pro.", 1)
    assert Review.objects.count() == 0
