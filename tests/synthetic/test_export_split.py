"""An export never writes an empty split without being told to, and shows the split first."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from apps.synthetic.export import ExportRefused, export_create
from apps.synthetic.models import FinetuneExport
from tests import factories

pytestmark = pytest.mark.django_db


def _export_form(**overrides) -> dict:
    return {"format": "chat", "val_fraction": "0.1", "seed": "0", **overrides}


def test_the_browser_refuses_an_export_whose_validation_set_would_be_empty(client):
    factories.approved_pairs({"Pro": 4})
    client.force_login(factories.lead())
    refused = client.post(reverse("synthetic:exports"), _export_form())
    body = refused.content.decode()
    assert refused.status_code == 200 and not FinetuneExport.objects.exists()
    assert "The validation set would be empty: 4 exportable pairs" in body
    assert "Raise the validation fraction (to 0.15 or more here)" in body

    confirmed = client.post(reverse("synthetic:exports"), _export_form(allow_empty_validation="on"))
    assert confirmed.status_code == 302
    export = FinetuneExport.objects.get()
    assert len(export.train.splitlines()) == 4 and export.validation == ""
    assert export.manifest["total"] == 4


def test_the_export_screen_shows_the_split_per_product_line_before_exporting(client):
    factories.approved_pairs({"Pro": 10, "Enterprise": 5})
    client.force_login(factories.lead())
    page = client.get(reverse("synthetic:exports")).content.decode()
    # The default fraction of 0.1: one Pro pair, and half an Enterprise pair rounds to none.
    assert "<tr><td>Enterprise</td><td>5</td><td>0</td></tr>" in page
    assert "<tr><td>Pro</td><td>9</td><td>1</td></tr>" in page
    assert '<th data-split="train">14</th><th data-split="validation">1</th>' in page

    preview = client.get(
        reverse("synthetic:export_preview"),
        {"format": "chat", "val_fraction": "0.4", "seed": "0", "cap_per_line": "5"},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "<html" not in preview and 'id="export-plan"' in preview
    assert '<th data-split="train">6</th><th data-split="validation">4</th>' in preview


def test_the_preview_warns_before_the_export_is_attempted(client):
    factories.approved_pairs({"Pro": 4})
    client.force_login(factories.lead())
    preview = client.get(reverse("synthetic:export_preview"), _export_form()).content.decode()
    assert 'role="alert"' in preview and "The validation set would be empty" in preview
    assert '<th data-split="validation">0</th>' in preview


def test_the_command_refuses_an_empty_validation_set_and_writes_nothing(db, tmp_path):
    factories.approved_pairs({"Pro": 4})
    out = tmp_path / "ft.jsonl"
    with pytest.raises(CommandError) as refused:
        call_command("export_finetune", "--out", str(out), "--val-fraction", "0.1")
    assert "validation set would be empty" in str(refused.value)
    assert "--allow-empty-validation" in str(refused.value)
    assert list(tmp_path.iterdir()) == [] and not FinetuneExport.objects.exists()

    call_command(
        "export_finetune", "--out", str(out), "--val-fraction", "0.1", "--allow-empty-validation"
    )
    assert len(out.read_text().splitlines()) == 4
    assert (tmp_path / "ft.val.jsonl").read_text() == ""
    assert json.loads((tmp_path / "ft.jsonl.manifest.json").read_text())["total"] == 4


def test_a_fraction_of_zero_asks_for_no_validation_set(db, tmp_path):
    factories.approved_pairs({"Pro": 4})
    out = tmp_path / "ft.jsonl"
    call_command("export_finetune", "--out", str(out), "--val-fraction", "0")
    assert len(out.read_text().splitlines()) == 4


def test_an_empty_training_set_or_nothing_at_all_is_never_written(db):
    with pytest.raises(ExportRefused, match="No pair is exportable yet"):
        export_create(fmt="chat", val_fraction=0.1, allow_empty_validation=True)
    factories.approved_pairs({"Pro": 1})
    with pytest.raises(ExportRefused, match="training set would be empty"):
        export_create(fmt="chat", val_fraction=0.9, allow_empty_validation=True)
    assert not FinetuneExport.objects.exists()
