"""The browsable log, an entry's side-by-side diff, and the streamed exports."""

import csv
import datetime as dt
import io
import json

import pytest
from django.db import transaction
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from apps.oversight.models import EditLogEntry
from apps.oversight.services import Area, Decision, decision_record
from apps.synthetic import services
from tests import factories

pytestmark = pytest.mark.django_db


def _edited_pair(answer: str = "Thirty <b>days</b> on the Pro plan.") -> EditLogEntry:
    (pair,) = factories.qa_pairs(1)
    services.pair_approve(pair=pair, user=factories.reviewer(), answer=answer, version=1)
    return EditLogEntry.objects.get(object_id=pair.pk)


def test_the_log_lists_decisions_and_filters_them(client):
    edited = _edited_pair()
    (other,) = factories.qa_pairs(1)
    services.pair_reject(pair=other, user=factories.reviewer(), reason="wrong", version=1)
    client.force_login(factories.lead())
    body = client.get(reverse("oversight:log")).content.decode()
    assert "2 decisions" in body and reverse("oversight:entry", args=[edited.pk]) in body
    body = client.get(reverse("oversight:log"), {"decision": "reject"}).content.decode()
    assert "1 decision " in body and reverse("oversight:entry", args=[edited.pk]) not in body
    partial = client.get(reverse("oversight:log"), {"decision": "reject"}, HTTP_HX_REQUEST="true")
    assert (
        "<html" not in partial.content.decode() and 'id="log-results"' in partial.content.decode()
    )


def test_an_entry_shows_before_and_after_side_by_side_escaped(client):
    entry = _edited_pair()
    client.force_login(factories.lead())
    body = client.get(reverse("oversight:entry", args=[entry.pk])).content.decode()
    before = body[body.index('data-side="before"') : body.index('data-side="after"')]
    after = body[body.index('data-side="after"') :]
    # Word by word: "on" is kept, the rest was rewritten.
    assert "<del>30 days</del> on <del>Pro.</del>" in before
    assert "<ins>Thirty &lt;b&gt;days&lt;/b&gt;</ins> on <ins>the Pro plan.</ins>" in after
    assert "<b>days</b>" not in body
    assert "Question" in body and "unchanged" in body  # the rest of the pair, for context


def _rows(response) -> str:
    assert isinstance(response, StreamingHttpResponse)  # streamed, not built in memory
    return b"".join(response.streaming_content).decode()


def test_csv_export_covers_the_range_and_neutralises_formulas(client):
    entry = _edited_pair(answer="=HYPERLINK(1) opens the page.")
    client.force_login(factories.lead())
    response = client.get(reverse("oversight:export", args=["csv"]))
    assert response["Content-Disposition"].startswith('attachment; filename="decision-log_')
    rows = list(csv.DictReader(io.StringIO(_rows(response))))
    assert [int(row["id"]) for row in rows] == [entry.pk]
    assert (
        json.loads(rows[0]["after"])["answer"] == "=HYPERLINK(1) opens the page."
    )  # inside JSON: inert
    assert rows[0]["decision"] == "approve" and rows[0]["edited"] == "True"
    assert rows[0]["diff"].startswith("'-")  # a cell starting with "-" is quoted
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    later = client.get(reverse("oversight:export", args=["csv"]), {"start": tomorrow})
    assert _rows(later).count("\n") == 1  # the header only


def test_jsonl_export_has_one_object_per_decision_oldest_first(client):
    first = _edited_pair()
    with transaction.atomic():
        decision_record(
            area=Area.DRAFT,
            object_type="drafts.draft",
            object_id=3,
            object_version=1,
            decision=Decision.FLAG,
            reason="tone",
            editor=factories.reviewer(),
        )
    client.force_login(factories.lead())
    lines = _rows(client.get(reverse("oversight:export", args=["jsonl"]))).splitlines()
    objects = [json.loads(line) for line in lines]
    assert [o["id"] for o in objects] == [first.pk, first.pk + 1]
    assert objects[0]["after"]["answer"] == "Thirty <b>days</b> on the Pro plan."
    assert objects[1]["decision"] == "flag" and objects[1]["area"] == "draft"
    only_drafts = client.get(reverse("oversight:export", args=["jsonl"]), {"area": "draft"})
    assert len(_rows(only_drafts).splitlines()) == 1


def test_an_unknown_export_format_is_404(client):
    client.force_login(factories.lead())
    assert client.get(reverse("oversight:export", args=["xlsx"])).status_code == 404


def test_a_word_next_to_a_paragraph_break_is_not_marked_as_changed():
    from apps.oversight.selectors import words_diff

    left, right = words_diff(
        old="Hello Maya,\n\nE5003 means it. [1]\n\nIf not.",
        new="Hello Maya,\n\nE5003 really means it. [1]\n\nIf not.",
    )
    assert {kind for kind, _, _ in left} == {"same"}
    assert [(kind, words) for kind, _, words in right if kind != "same"] == [("added", "really")]
    assert "".join(space + words for _, space, words in right).endswith("[1]\n\nIf not.")
