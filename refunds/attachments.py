"""An error report's attachment: the name kept for it and how it is served back. The
form checked the extension of the whole name the customer sent; what is stored and
served keeps that extension, so a long name cut to fit cannot turn `x.hta….txt` into
`x.hta` (found by the security review)."""

from pathlib import PurePosixPath

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404

NAME_MAX = 200  # ErrorReport.attachment_name
CONTENT_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                 ".txt": "text/plain; charset=utf-8"}


def kept_name(name: str) -> str:
    """The customer's file name, at most NAME_MAX characters, its extension kept."""
    name = PurePosixPath(name.replace("\\", "/")).name or "attachment"
    suffix = PurePosixPath(name).suffix
    if len(name) <= NAME_MAX:
        return name
    return name[:NAME_MAX - len(suffix)] + suffix if len(suffix) < NAME_MAX else name[:NAME_MAX]


def response(report) -> FileResponse:
    """The download: always as an attachment, typed by the stored file's extension (the
    one the form accepted), named with that extension whatever the kept name says."""
    stored = report.attachment.name if report.attachment else ""
    suffix = PurePosixPath(stored).suffix.lower()
    if suffix not in CONTENT_TYPES or not default_storage.exists(stored):
        raise Http404
    name = report.attachment_name or "attachment"
    if PurePosixPath(name).suffix.lower() != suffix:
        name = f"{name}{suffix}"
    return FileResponse(default_storage.open(stored, "rb"), as_attachment=True, filename=name,
                        content_type=CONTENT_TYPES[suffix])
