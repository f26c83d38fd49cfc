import datetime as dt
import json

from django import forms
from django.conf import settings
from django.utils import timezone

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
    # Filled by app.js with each file's File.lastModified (ms since 1970), in the order of the
    # files: browsers send no date with a file, and the file's own date beats the upload time.
    files_dates = forms.CharField(required=False, widget=forms.HiddenInput)
    folder_dates = forms.CharField(required=False, widget=forms.HiddenInput)
    product_line = forms.ChoiceField(required=False)
    new_product_line = forms.CharField(
        required=False,
        max_length=100,
        label="Name of the new product line",
        help_text="Created when the upload starts; an existing line with this name is reused.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["folder"].widget.attrs.update({"webkitdirectory": True, "directory": True})
        self.fields["product_line"].choices = [
            ("", "From each file (front matter, folder or JSONL field)"),
            *((str(pk), name) for pk, name in ProductLine.objects.values_list("pk", "name")),
            (NEW_PRODUCT_LINE, "New product line…"),
        ]

    def clean_product_line(self) -> ProductLine | str | None:
        choice = self.cleaned_data["product_line"]
        if choice in ("", NEW_PRODUCT_LINE):
            return choice or None
        line = ProductLine.objects.filter(pk=choice).first()
        if line is None:  # deleted since the form was shown
            raise forms.ValidationError("That product line no longer exists; choose another.")
        return line

    def clean_new_product_line(self) -> str:
        return " ".join(self.cleaned_data["new_product_line"].split())

    def clean(self):
        data = super().clean()
        self._product_line_resolve(data)
        folder = self.files.getlist("folder")
        plain = self.files.getlist("files")
        paths = _paths(data.get("folder_paths", ""), len(folder))
        plain_dates = _dates(data.get("files_dates"), len(plain))
        folder_dates = _dates(data.get("folder_dates"), len(folder))
        # (file, path, date): plain files keep their names, a folder's its relative paths.
        files = list(zip(plain, [f.name for f in plain], plain_dates, strict=True))
        files += list(zip(folder, paths, folder_dates, strict=True))
        if not files:
            raise forms.ValidationError("Choose at least one file, folder or .zip.")
        # Refused here, not accepted and failed later by the worker. An archive is bounded by
        # the upload limit below; its members are checked one by one when unpacked.
        too_large = [
            file_too_large_message(name=path or f.name, size=f.size)
            for f, path, _ in files
            if not is_archive(f.name) and f.size > settings.UPLOAD_MAX_FILE_BYTES
        ]
        if too_large:
            raise forms.ValidationError(too_large)
        total = sum(f.size for f, _, _ in files)
        if total > settings.UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                f"The upload is {total / 1024 / 1024:.1f} MB; the limit is "
                f"{settings.UPLOAD_MAX_BYTES / 1024 / 1024:.0f} MB per upload."
            )
        data["all_files"] = files
        return data

    def _product_line_resolve(self, data: dict) -> None:
        """ "New product line…" needs a name; a name typed while an existing line is chosen is
        a contradiction, refused rather than guessed. A name alone (the page without
        JavaScript shows the field at all times) asks for a new line."""
        choice, name = data.get("product_line"), data.get("new_product_line", "")
        if choice == NEW_PRODUCT_LINE and not name:
            self.add_error("new_product_line", "Name the new product line.")
        elif isinstance(choice, ProductLine) and name:
            self.add_error(
                "new_product_line",
                f"“{choice}” is chosen above: choose “New product line…” to create one, or "
                "clear this name.",
            )
        elif name:
            data["product_line"] = NEW_PRODUCT_LINE


NEW_PRODUCT_LINE = "new"
# File dates before this are placeholders (zip's and FAT's epoch), not real dates.
_EARLIEST_FILE_DATE = dt.datetime(1980, 1, 2, tzinfo=dt.UTC)


def _dates(raw: str | None, count: int) -> list[dt.datetime | None]:
    """The browser's File.lastModified for each file (ms since 1970), or None where it sent
    none or an implausible one (before 1980, or in the future: a wrong clock)."""
    try:
        values = json.loads(raw) if raw else []
    except json.JSONDecodeError:
        values = []
    if not isinstance(values, list) or len(values) != count:
        return [None] * count
    latest = timezone.now() + dt.timedelta(days=1)
    dates: list[dt.datetime | None] = []
    for value in values:
        when = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                when = dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
            except (OverflowError, OSError, ValueError):
                when = None
        dates.append(when if when and _EARLIEST_FILE_DATE <= when <= latest else None)
    return dates


def _paths(raw: str, count: int) -> list[str]:
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
