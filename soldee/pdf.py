"""PDF rendering (WeasyPrint >= 70) behind a deny-by-default URL fetcher.

Usage::

    from soldee.pdf import render_pdf

    pdf_bytes = render_pdf(render_to_string("billing/invoice.html", context))

Every resource WeasyPrint wants (stylesheets, images, fonts, SVG sub-resources,
attachments) goes through :class:`StaticFilesURLFetcher`, which serves only:

* ``data:`` URIs;
* our own static files, found by Django's staticfiles finders, addressed either as
  ``static:<path>`` (e.g. ``static:img/logo.png``) or as a URL under ``STATIC_URL``
  resolved against the render's base URL (so ``{% static %}`` output such as
  ``/static/img/logo.png`` works). Such URLs are read from disk, never requested
  over the network, and only if the file's real path lies inside a finder's
  directory.

Everything else (``file:``, ``http(s):`` to any other place, ``ftp:``...) is refused:
the fetcher logs a warning and raises :class:`RefusedURL`; WeasyPrint turns that into
a failed fetch (the image/stylesheet is skipped, the PDF is still produced).

WeasyPrint 70 API facts this relies on (weasyprint/urls.py of the installed 70.0):
``url_fetcher=`` must be an instance of ``weasyprint.urls.URLFetcher`` (plain
callables and ``default_url_fetcher`` are gone; ``weasyprint.urls.fetch`` reads
``url_fetcher._fail_on_errors``), whose ``fetch(url, headers=None)`` returns a
``URLFetcherResponse``; any ``Exception`` it raises becomes a non-fatal
``URLFetchingError`` unless ``fail_on_errors=True``.

Django is imported lazily, so importing this module needs no configured settings.
"""

from __future__ import annotations

import logging
import mimetypes
import os
from urllib.parse import unquote, urljoin, urlsplit

from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

__all__ = [
    "DEFAULT_BASE_URL",
    "PRINT_CSS",
    "RefusedURL",
    "StaticFilesURLFetcher",
    "render_pdf",
]

logger = logging.getLogger(__name__)

#: Base URL used when the caller gives none. ``.invalid`` (RFC 2606) never resolves,
#: and the fetcher never goes to the network anyway: it only lets ``/static/...``
#: references resolve to an absolute URL that the fetcher maps back to a static file.
DEFAULT_BASE_URL = "https://pdf.soldee.invalid/"

#: Static path of the base print stylesheet (A4, margins, header, page numbers, fonts).
PRINT_CSS = "css/print.css"

#: Upper bound for one static resource read into memory.
MAX_RESOURCE_BYTES = 20 * 1024 * 1024

STATIC_SCHEME = "static:"


class RefusedURL(ValueError):
    """The PDF URL fetcher does not serve this URL (WeasyPrint skips the resource)."""


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """Render an HTML string to A4 PDF bytes with the shipped, embedded fonts.

    ``base_url`` (an absolute http(s) URL, e.g. ``request.build_absolute_uri("/")``)
    is only used to resolve relative references: ``/static/...`` under it is served
    from the static files; nothing is ever fetched from that host. Defaults to
    :data:`DEFAULT_BASE_URL`.

    The base stylesheet ``static/css/print.css`` is always applied (as a user
    stylesheet, so the document's own ``<style>`` can override it); if it cannot be
    loaded the render fails instead of silently producing a PDF with host fonts.
    """
    base_url = _check_base_url(base_url)
    fetcher = StaticFilesURLFetcher(base_url=base_url)
    font_config = FontConfiguration()
    base_css = CSS(
        url=STATIC_SCHEME + PRINT_CSS,
        url_fetcher=fetcher,
        font_config=font_config,
    )
    document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
    return document.write_pdf(stylesheets=[base_css], font_config=font_config)


class StaticFilesURLFetcher(URLFetcher):
    """WeasyPrint URL fetcher that serves ``data:`` URIs and our static files only.

    Build one per render (WeasyPrint's ``URLFetcher`` keeps per-request state).
    """

    def __init__(self, base_url: str | None = None) -> None:
        # The parent is only ever asked for data: URIs; allowed_protocols makes it
        # refuse anything else even if that changed, and redirects are off.
        super().__init__(
            timeout=5,
            allowed_protocols=("data",),
            allow_redirects=False,
            fail_on_errors=False,
        )
        self.base_url = _check_base_url(base_url)
        self._static_prefix: str | None = None  # needs Django settings: computed lazily

    @property
    def static_prefix(self) -> str:
        """Absolute URL prefix of our static files, e.g. ``https://host/static/``."""
        if self._static_prefix is None:
            from django.conf import settings

            static_url = settings.STATIC_URL
            if not static_url:
                raise RefusedURL("STATIC_URL is not set")
            prefix = urljoin(self.base_url, str(static_url))
            self._static_prefix = prefix if prefix.endswith("/") else prefix + "/"
        return self._static_prefix

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        if url[:5].lower() == "data:":
            return super().fetch(url, headers)
        relative = self._static_relative_path(url)
        if relative is None:
            raise _refuse(url, "only data: URIs and our static files are allowed")
        path = _find_static_file(url, relative)
        try:
            with open(path, "rb") as handle:
                body = handle.read(MAX_RESOURCE_BYTES + 1)
        except OSError as exc:
            raise _refuse(url, f"cannot read static file: {exc}") from exc
        if len(body) > MAX_RESOURCE_BYTES:
            raise _refuse(url, f"static file larger than {MAX_RESOURCE_BYTES} bytes")
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if content_type == "text/css":
            content_type += "; charset=utf-8"
        logger.debug("PDF fetcher served %s from %s", url, path)
        # Answer with the canonical http(s) form of the URL: relative url()s inside a
        # stylesheet fetched as static:css/x.css then resolve under the static prefix,
        # and so come back here.
        return URLFetcherResponse(
            self.static_prefix + relative, body=body, headers={"Content-Type": content_type}
        )

    def _static_relative_path(self, url: str) -> str | None:
        """Return the static-files path ``url`` points to, or None if it is not ours."""
        try:
            if url[: len(STATIC_SCHEME)].lower() == STATIC_SCHEME:
                # static:<path>[?query][#fragment]; no authority part, the path is
                # everything up to ? or # (a leading "//" is just empty segments).
                raw = url[len(STATIC_SCHEME) :].split("#", 1)[0].split("?", 1)[0]
            else:
                parts = urlsplit(url)
                prefix = urlsplit(self.static_prefix)
                if (
                    parts.scheme.lower() not in ("http", "https")
                    or parts.scheme.lower() != prefix.scheme.lower()
                    or parts.netloc.lower() != prefix.netloc.lower()
                    or not parts.path.startswith(prefix.path)
                ):
                    return None
                raw = parts.path[len(prefix.path) :]
        except ValueError:  # malformed URL (e.g. bad IPv6 host)
            return None
        return _clean_relative_path(url, unquote(raw))


def _clean_relative_path(url: str, path: str) -> str:
    """Normalise a static path; refuse traversal and odd characters."""
    if "\x00" in path or "\\" in path:
        raise _refuse(url, "invalid character in static path")
    segments = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            raise _refuse(url, "'..' in static path")
        segments.append(segment)
    if not segments:
        raise _refuse(url, "empty static path")
    return "/".join(segments)


def _find_static_file(url: str, relative: str) -> str:
    """Real path of a static file, guaranteed to be inside a finder's directory."""
    from django.contrib.staticfiles import finders
    from django.core.exceptions import SuspiciousFileOperation

    try:
        found = finders.find(relative)
    except SuspiciousFileOperation as exc:
        raise _refuse(url, f"suspicious static path: {exc}") from exc
    if not found:
        raise _refuse(url, "no such static file")
    real = os.path.realpath(found)
    if not any(_is_within(real, root) for root in _finder_roots()):
        raise _refuse(url, "static file resolves outside the static directories")
    if not os.path.isfile(real):
        raise _refuse(url, "not a regular file")
    return real


def _finder_roots() -> list[str]:
    """Real paths of the directories the configured staticfiles finders search."""
    from django.contrib.staticfiles import finders

    roots = []
    for finder in finders.get_finders():
        locations = [root for _prefix, root in getattr(finder, "locations", [])]
        storages = list(getattr(finder, "storages", {}).values())
        if getattr(finder, "storage", None) is not None:
            storages.append(finder.storage)
        for storage in storages:
            try:
                locations.append(storage.location)
            except Exception:  # storage without a local location (e.g. remote)
                continue
        roots.extend(os.path.realpath(location) for location in locations if location)
    return roots


def _is_within(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:
        return False


def _check_base_url(base_url: str | None) -> str:
    if base_url is None:
        return DEFAULT_BASE_URL
    if urlsplit(base_url).scheme.lower() not in ("http", "https"):
        raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
    return base_url


def _refuse(url: str, reason: str) -> RefusedURL:
    shown = url if len(url) <= 300 else url[:300] + "..."
    logger.warning("PDF fetcher refused %s (%s)", shown, reason)
    return RefusedURL(f"{reason}: {shown}")
