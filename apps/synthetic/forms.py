from django import forms

from apps.knowledge.models import ProductLine
from apps.synthetic import selectors
from apps.synthetic.export import FORMATS, split_plan, split_problem
from apps.synthetic.models import QUESTION_KINDS, Review


class RunForm(forms.Form):
    product_lines = forms.ModelMultipleChoiceField(
        ProductLine.objects.all(), required=False, help_text="None selected: every product line."
    )
    document_titles = forms.CharField(
        required=False,
        max_length=200,
        label="Only documents whose title contains",
        help_text="Leave empty for every document of the chosen product lines.",
    )
    kinds = forms.MultipleChoiceField(
        choices=QUESTION_KINDS,
        widget=forms.CheckboxSelectMultiple,
        initial=[k for k, _ in QUESTION_KINDS],
    )
    chunk_limit = forms.IntegerField(
        min_value=1, max_value=1000, initial=20, label="Chunks to sample"
    )
    per_chunk = forms.IntegerField(min_value=1, max_value=5, initial=1, label="Pairs per chunk")
    required_approvals = forms.TypedChoiceField(
        choices=[(1, "One reviewer"), (2, "Two independent reviewers")], coerce=int, initial=1
    )
    seed = forms.IntegerField(min_value=0, initial=0)

    def clean_document_titles(self):
        from apps.knowledge.models import Document

        text = self.cleaned_data["document_titles"].strip()
        if not text:
            return []
        documents = list(
            Document.objects.filter(title__icontains=text).values_list("pk", flat=True)
        )
        if not documents:
            raise forms.ValidationError("No document title contains that text.")
        return documents

    def clean(self):
        """Refuse, before anything is queued, a selection that would sample no chunk; keep the
        number of chunks it matches for the confirmation."""
        data = super().clean()
        if "product_lines" not in data or "document_titles" not in data:
            return data
        lines, documents = list(data["product_lines"]), data["document_titles"]
        available = selectors.run_chunks_available(product_lines=lines, documents=documents)
        if not available:
            raise forms.ValidationError(
                selectors.run_no_chunks_reason(
                    product_lines=lines,
                    documents=documents,
                    title=self.data.get("document_titles", "").strip(),
                )
            )
        data["chunks_available"] = available
        return data


class EditForm(forms.Form):
    question = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=1000)
    answer = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=4000)
    quote = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    note = forms.CharField(required=False, max_length=500, label="Why (optional)")
    # The version of the pair this form was shown with: saving over a newer one is refused.
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class RejectForm(forms.Form):
    reason = forms.ChoiceField(choices=Review.REASONS, widget=forms.RadioSelect)
    note = forms.CharField(required=False, max_length=500)


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=[(f, f) for f in FORMATS])
    val_fraction = forms.FloatField(
        min_value=0, max_value=0.9, initial=0.1, label="Validation fraction"
    )
    seed = forms.IntegerField(min_value=0, initial=0)
    cap_per_line = forms.IntegerField(
        min_value=1, required=False, label="At most this many pairs per product line"
    )
    allow_empty_validation = forms.BooleanField(
        required=False,
        label="Export without a validation set",
        help_text="Only needed when the validation fraction leaves the validation set empty.",
    )

    # What the split would be with the submitted values (None while a field is invalid), and
    # why it must not be written as asked (None when it may).
    plan: dict | None = None
    problem: str | None = None

    def clean(self):
        data = super().clean()
        if "val_fraction" not in data or "cap_per_line" not in data:
            return data
        sizes = selectors.exportable_sizes()
        options = {"val_fraction": data["val_fraction"], "cap_per_line": data["cap_per_line"]}
        self.plan = split_plan(sizes, **options)
        refused = split_problem(
            sizes, allow_empty_validation=data.get("allow_empty_validation", False), **options
        )
        self.problem = str(refused) if refused else None
        if self.problem:
            raise forms.ValidationError(self.problem)
        return data
