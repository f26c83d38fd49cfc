"""One definition of "exportable": the export, the distribution counts and the pair agree."""

import json

import pytest

from apps.synthetic import selectors, services
from apps.synthetic.export import export_create, exportable_pairs
from apps.synthetic.models import QAPair
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("blank", ["", "   \n"])
def test_a_pair_with_an_empty_answer_is_counted_and_exported_alike(blank):
    full, empty, pending = factories.qa_pairs(3)
    lead = factories.lead()
    services.pair_approve(pair=full, user=lead)
    services.pair_approve(pair=empty, user=lead)
    QAPair.objects.filter(pk=empty.pk).update(answer=blank)  # e.g. written by an older version

    exported = {p.pk for p in exportable_pairs()}
    counted = sum(row["exportable"] for row in selectors.pair_distribution())
    export = export_create(fmt="chat", val_fraction=0)
    in_file = [json.loads(line)["messages"][1]["content"] for line in export.train.splitlines()]
    flags = {p.pk: p.exportable for p in QAPair.objects.all()}

    assert exported == {full.pk}
    assert counted == 1 == export.manifest["total"]
    assert in_file == [full.question]
    assert flags == {full.pk: True, empty.pk: False, pending.pk: False}


def test_a_pair_cannot_be_approved_without_an_answer():
    (pair,) = factories.qa_pairs(1)
    with pytest.raises(services.ReviewError, match="question and an answer"):
        services.pair_approve(pair=pair, user=factories.reviewer(), answer="   ")
    pair.refresh_from_db()
    assert pair.status == QAPair.Status.PENDING and pair.answer == "30 days on Pro."
