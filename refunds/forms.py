from pathlib import Path

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import ErrorReport, RefundRequest

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
# Extension → the first bytes a real file of that type starts with (None: plain text).
ALLOWED_ATTACHMENTS = {
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".txt": None,
}


class ErrorReportForm(forms.Form):
    what_fails = forms.CharField(label=_("What does not work?"), max_length=5000,
                                 widget=forms.Textarea(attrs={"rows": 6}))
    since = forms.DateTimeField(
        label=_("Since when (Almaty time)?"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )
    severity = forms.ChoiceField(label=_("How severe is it?"), choices=ErrorReport.Severity.choices,
                                 widget=forms.RadioSelect)
    attachment = forms.FileField(
        label=_("Attachment (optional)"), required=False,
        help_text=_("A screenshot or a document: PDF, PNG, JPG or TXT, up to 5 MB."),
    )

    def clean_since(self):
        since = self.cleaned_data["since"]
        if since > timezone.now():
            raise forms.ValidationError(_("This moment is in the future."))
        return since

    def clean_attachment(self):
        upload = self.cleaned_data.get("attachment")
        if not upload:
            return None
        if upload.size > MAX_ATTACHMENT_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB."))
        ext = Path(upload.name).suffix.lower()
        if ext not in ALLOWED_ATTACHMENTS:
            raise forms.ValidationError(_("Only PDF, PNG, JPG and TXT files are accepted."))
        head = upload.read(2048)
        upload.seek(0)
        signatures = ALLOWED_ATTACHMENTS[ext]
        if signatures is None:
            try:
                head.decode("utf-8")
                readable = b"\x00" not in head
            except UnicodeDecodeError as exc:
                # A multi-byte character cut at 2048 bytes is still text.
                readable = exc.start >= len(head) - 3 and b"\x00" not in head
            if not readable:
                raise forms.ValidationError(_("The text file is not readable text."))
        elif not any(head.startswith(sig) for sig in signatures):
            raise forms.ValidationError(_("The file content does not match its type."))
        return upload


class RefundRequestForm(forms.Form):
    ground = forms.ChoiceField(label=_("Ground for the refund (clause 7 of the offer)"),
                               choices=RefundRequest.Ground.choices, widget=forms.RadioSelect)
    explanation = forms.CharField(label=_("Explain what happened"), max_length=5000,
                                  widget=forms.Textarea(attrs={"rows": 5}))
