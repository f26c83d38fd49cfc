import datetime as dt

import pytest
from django.urls import reverse

from apps.knowledge.models import Chunk, Document
from tests import factories
from tests.knowledge import samples
from tests.knowledge.helpers import ingest

pytestmark = pytest.mark.django_db


def _change_form_data(response) -> dict:
    """What the admin change page would post back unchanged: the main form and every inline
    formset with its management form."""
    data = {}
    form = response.context["adminform"].form
    for name in form.fields:
        if form[name].value() is not None:
            data[name] = form[name].value()
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{name}"] = value
        for child in formset.forms:
            for name in child.fields:
                if child[name].value() is not None:
                    data[child.add_prefix(name)] = child[name].value()
    return data


def test_changing_a_documents_product_line_or_date_in_admin_updates_its_chunks(client):
    ingest({"sync.md": samples.MARKDOWN * 3})
    document = Document.objects.get()
    assert document.chunk_count > 1
    pro = factories.ProductLineFactory(name="Pro", slug="pro")
    client.force_login(factories.admin())
    url = reverse("admin:knowledge_document_change", args=[document.pk])
    data = _change_form_data(client.get(url))
    data.update({"product_line": pro.pk, "source_updated_at": "2026-01-31"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    document.refresh_from_db()
    assert document.product_line == pro
    assert document.source_updated_at == dt.date(2026, 1, 31)
    assert document.get_date_source_display() == "set by hand"  # no longer the document's
    chunks = Chunk.objects.filter(document=document)
    assert set(chunks.values_list("product_line", "source_updated_at")) == {
        (pro.pk, dt.date(2026, 1, 31))
    }
