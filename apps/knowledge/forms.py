from django import forms
from django.conf import settings

from apps.knowledge.models import ProductLine
from apps.knowledge.parsing import is_archive
from apps.knowledge.selectors import MODES, error_category_names
from apps.knowledge.services import file_too_large_message


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else [data]
        # Not FileField.clean per file: it rejects an empty file, and one bad file must fail
        # alone during ingestion instead of refusing the whole upload.
        files = [f for f in files if f]
        if not files and self.required:
            raise forms.ValidationError("Choose at least one file, folder or .zip.")
        return files


class UploadForm(forms.Form):
    files = MultipleFileField(
        required=False,
        help_text="Markdown, reStructuredText, HTML, text, PDF, JSONL, or a .zip of them.",
    )
    folder = MultipleFileField(required=False, help_text="Or pick a whole folder.")
    # Filled by app.js from each file's webkitRelativePath: browsers send only base names,
    # and the folder path is what keeps pro/limits.md apart from enterprise/limits.md.
    folder_paths = forms.CharField(required=False, widget=forms.HiddenInput)
    product_line = forms.ModelChoiceField(
        ProductLine.objects.all(),
        required=False,
        empty_label="From each file (front matter, folder or JSONL field)",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["folder"].widget.attrs.update({"webkitdirectory": True, "directory": True})

    def clean(self):
        data = super().clean()
        folder = self.files.getlist("folder")
        paths = _paths(data.get("folder_paths", ""), len(folder))
        files = [(f, f.name) for f in self.files.getlist("files")]
        files += list(zip(folder, paths, strict=True))
        if not files:
            raise forms.ValidationError("Choose at least one file, folder or .zip.")
        # Refused here, not accepted and failed later by the worker. An archive is bounded by
        # the upload limit below; its members are checked one by one when unpacked.
        too_large = [
            file_too_large_message(name=path or f.name, size=f.size)
            for f, path in files
            if not is_archive(f.name) and f.size > settings.UPLOAD_MAX_FILE_BYTES
        ]
        if too_large:
            raise forms.ValidationError(too_large)
        total = sum(f.size for f, _ in files)
        if total > settings.UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                f"The upload is {total / 1024 / 1024:.1f} MB; the limit is "
                f"{settings.UPLOAD_MAX_BYTES / 1024 / 1024:.0f} MB per upload."
            )
        data["all_files"] = files
        return data


def _paths(raw: str, count: int) -> list[str]:
    import json

    try:
        paths = json.loads(raw) if raw else []
    except json.JSONDecodeError:
        paths = []
    if len(paths) != count or not all(isinstance(p, str) and p for p in paths):
        return [""] * count
    return [p.lstrip("/") for p in paths]


class SearchForm(forms.Form):
    q = forms.CharField(label="Question", max_length=1000, required=False)
    product_lines = forms.ModelMultipleChoiceField(ProductLine.objects.all(), required=False)
    error_categories = forms.MultipleChoiceField(choices=[], required=False)
    error_codes = forms.CharField(
        required=False, max_length=300, help_text="Comma-separated, e.g. E1042, ERR_SYNC_TIMEOUT"
    )
    updated_after = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    mode = forms.ChoiceField(
        choices=[(m, m.capitalize()) for m in MODES], initial="hybrid", required=False
    )
    k = forms.IntegerField(min_value=1, max_value=50, initial=10, required=False)
    infer = forms.BooleanField(
        required=False, initial=True, label="Infer filters from the question"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["error_categories"].choices = [(n, n) for n in error_category_names()]


class EvalRunForm(forms.Form):
    name = forms.CharField(max_length=200)
    queries = forms.FileField(
        required=False, help_text='JSONL: {"question", "gold_doc_id", "product_line"?}'
    )
    approved_pairs = forms.BooleanField(
        required=False, label="Or use the approved synthetic Q&A pairs as queries"
    )
    mode = forms.ChoiceField(choices=[(m, m.capitalize()) for m in MODES], initial="hybrid")
    ks = forms.CharField(initial="1,5,10", label="k values", max_length=50)
    use_filters = forms.BooleanField(required=False, label="Filter by each query's product line")

    def clean(self):
        data = super().clean()
        if not data.get("queries") and not data.get("approved_pairs"):
            raise forms.ValidationError("Upload a query file or use the approved Q&A pairs.")
        return data

    def clean_ks(self) -> list[int]:
        try:
            ks = sorted({int(v) for v in self.cleaned_data["ks"].split(",") if v.strip()})
        except ValueError:
            raise forms.ValidationError("Use whole numbers separated by commas.") from None
        if not ks or ks[0] < 1 or ks[-1] > 100:
            raise forms.ValidationError("k values must be between 1 and 100.")
        return ks
