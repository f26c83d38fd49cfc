from django import forms
from django.conf import settings

from apps.knowledge.models import ProductLine
from apps.tickets.models import Ticket
from apps.tickets.services import import_too_large_message


class TicketForm(forms.Form):
    subject = forms.CharField(max_length=500, required=False)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}), label="Message")
    customer_name = forms.CharField(max_length=200, required=False)
    customer_email = forms.EmailField(max_length=254, required=False)
    product_line = forms.ModelChoiceField(
        ProductLine.objects.all(), required=False, empty_label="Not known"
    )
    priority = forms.ChoiceField(choices=Ticket.Priority.choices, initial=Ticket.Priority.NORMAL)
    external_id = forms.CharField(
        max_length=200,
        required=False,
        label="External id",
        help_text="The helpdesk's id, if the ticket has one; left empty, one is made up.",
    )


class ImportForm(forms.Form):
    file = forms.FileField(help_text="A .csv or .jsonl file, one ticket per row or line.")
    format = forms.ChoiceField(
        choices=[("", "From the file name"), ("csv", "CSV"), ("jsonl", "JSONL")],
        required=False,
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # Refused before it is read into memory, like document uploads.
        if upload.size > settings.UPLOAD_MAX_FILE_BYTES:
            message = import_too_large_message(name=upload.name, size=upload.size)
            raise forms.ValidationError(message)
        return upload
