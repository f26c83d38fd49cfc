import datetime as dt

from django import forms
from django.utils import timezone

from apps.oversight.models import EditLogEntry
from apps.oversight.selectors import LogFilters

RANGES = [
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
    ("365", "Last year"),
]
DEFAULT_DAYS = 30
LONGEST_RANGE_DAYS = 3660


class LogFilterForm(forms.Form):
    """Time range and filters shared by the dashboard, the log and the exports. A start or
    end date replaces the preset range; bad values are reported and the default range used."""

    days = forms.ChoiceField(
        choices=RANGES, required=False, label="Range", initial=str(DEFAULT_DAYS)
    )
    start = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )
    product_line = forms.ChoiceField(required=False, label="Product line")
    editor = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Reviewer")
    model = forms.ChoiceField(required=False, label="Model")
    prompt_version = forms.ChoiceField(required=False, label="Prompt version")
    area = forms.ChoiceField(
        required=False, choices=[("", "All"), *EditLogEntry.Area.choices], label="Area"
    )
    decision = forms.ChoiceField(
        required=False, choices=[("", "All"), *EditLogEntry.Decision.choices], label="Decision"
    )

    def __init__(self, data, *, choices: dict, **kwargs):
        if data is not None and not data.get("days") and not data.get("start"):
            # The range the figures use is the one the menu shows as chosen.
            data = data.copy()
            data["days"] = str(DEFAULT_DAYS)
        super().__init__(data, **kwargs)
        anything = [("", "All")]
        self.fields["product_line"].choices = anything + [(v, v) for v in choices["lines"]]
        self.fields["editor"].choices = anything + [
            (str(pk), name) for pk, name in choices["editors"]
        ]
        self.fields["model"].choices = anything + [(v, v) for v in choices["models"]]
        self.fields["prompt_version"].choices = anything + [(v, v) for v in choices["prompts"]]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError("The range starts after it ends.")
        if start and end and (end - start).days > LONGEST_RANGE_DAYS:
            raise forms.ValidationError("Choose a range of at most ten years.")
        return data

    def filters(self) -> LogFilters:
        """The filters to apply: the cleaned ones, or the default range when the form is
        invalid (its errors are shown next to the figures of the default range)."""
        data = self.cleaned_data if self.is_valid() else {}
        today = timezone.localdate()
        days = int(data.get("days") or DEFAULT_DAYS)
        end_day = data.get("end") or today
        start_day = data.get("start") or (end_day - dt.timedelta(days=days - 1))
        tz = timezone.get_current_timezone()
        return LogFilters(
            start=dt.datetime.combine(start_day, dt.time.min, tzinfo=tz),
            end=dt.datetime.combine(end_day + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
            product_line=data.get("product_line") or "",
            editor_id=data.get("editor"),
            model=data.get("model") or "",
            prompt_version=data.get("prompt_version") or "",
            area=data.get("area") or "",
            decision=data.get("decision") or "",
        )
