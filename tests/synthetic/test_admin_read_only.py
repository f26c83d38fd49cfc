"""Django admin shows pairs and runs but changes neither: approving goes through the review
screen, which writes the review and the log."""

import pytest
from django.urls import reverse

from apps.synthetic.models import GenerationRun, QAPair
from tests import factories

pytestmark = pytest.mark.django_db


def test_an_admin_cannot_approve_a_pair_in_django_admin(client):
    (pair,) = factories.qa_pairs(1)
    client.force_login(factories.admin())
    url = reverse("admin:synthetic_qapair_change", args=[pair.pk])
    page = client.get(url)
    assert page.status_code == 200 and pair.question in page.content.decode()
    assert 'name="status"' not in page.content.decode()
    client.post(url, {"status": QAPair.Status.APPROVED, "version": 7, "_save": "Save"})
    pair.refresh_from_db()
    assert pair.status == QAPair.Status.PENDING and pair.version == 1
    assert not pair.reviews.exists()


def test_an_admin_cannot_lower_the_approvals_a_run_needs(client):
    (pair,) = factories.qa_pairs(1, required_approvals=2)
    client.force_login(factories.admin())
    url = reverse("admin:synthetic_generationrun_change", args=[pair.run_id])
    assert 'name="required_approvals"' not in client.get(url).content.decode()
    client.post(url, {"required_approvals": 1, "status": "done", "_save": "Save"})
    assert GenerationRun.objects.get(pk=pair.run_id).required_approvals == 2
