"""soldee.pdf: WeasyPrint rendering with shipped fonts and a deny-by-default fetcher.

No database needed. Static-file settings are pinned through pytest-django's
``settings`` fixture, so these tests do not depend on the rest of the settings.
"""

from __future__ import annotations

import http.server
import io
import logging
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from weasyprint import HTML
from weasyprint.urls import URLFetchingError, fetch

from soldee.pdf import DEFAULT_BASE_URL, RefusedURL, StaticFilesURLFetcher, render_pdf

REPO = Path(__file__).resolve().parents[2]
STATIC_DIR = REPO / "static"
KAZAKH = "ӘәҒғҚқҢңӨөҰұҮүҺһІі"
TENGE = "\u20b8"


@pytest.fixture(autouse=True)
def static_settings(settings):
    settings.STATIC_URL = "/static/"
    settings.STATICFILES_DIRS = [STATIC_DIR]
    settings.STATICFILES_FINDERS = [
        "django.contrib.staticfiles.finders.FileSystemFinder",
        "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    ]
    return settings


class _CountingServer:
    """HTTP server on 127.0.0.1 (ephemeral port) recording every request path."""

    def __init__(self):
        self.requests: list[str] = []
        requests = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                body = b"body { color: red }" if self.path.endswith(".css") else b"x"
                self.send_response(200)
                self.send_header("Content-Type", "text/css" if b"{" in body else "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def http_server():
    with _CountingServer() as server:
        yield server


def _fonts(reader: PdfReader) -> dict[str, bytes]:
    """BaseFont name -> embedded font program (FontFile2) of every font used."""
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object()
            descriptor = descendant["/FontDescriptor"].get_object()
            fonts[str(font["/BaseFont"])] = descriptor["/FontFile2"].get_object().get_data()
    return fonts


def _text(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def _served(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "soldee.pdf" and r.getMessage().startswith("PDF fetcher served")
    ]


@pytest.fixture(autouse=True)
def _capture_pdf_logs(caplog):
    # Capture this module's logs whatever logging setup an earlier test (a Celery worker) left.
    caplog.set_level(logging.DEBUG, logger="soldee.pdf")


def _refused(caplog) -> str:
    return "\n".join(
        r.getMessage()
        for r in caplog.records
        if r.name == "soldee.pdf" and r.levelno == logging.WARNING
    )


# --- the shipped font -------------------------------------------------------------


@pytest.mark.parametrize("name", ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"])
def test_shipped_font_covers_kazakh_and_tenge(name):
    cmap = TTFont(STATIC_DIR / "fonts" / name).getBestCmap()
    missing = [c for c in KAZAKH + TENGE + "АаЯяЁё№" if ord(c) not in cmap]
    assert missing == []
    assert (STATIC_DIR / "fonts" / "DejaVu-LICENSE.txt").is_file()


def test_module_imports_without_django_settings():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import sys, soldee.pdf\n"
        "from django.conf import settings\n"
        "assert not settings.configured\n"
        "assert 'django.contrib.staticfiles.finders' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, timeout=120)


# --- rendering ----------------------------------------------------------------------


def test_kazakh_text_and_tenge_render_with_embedded_shipped_font(caplog):
    caplog.set_level(logging.DEBUG, logger="soldee.pdf")
    html = f"""<!doctype html><html lang="kk"><body>
      <header class="pdf-header">Soldee — STG LLP</header>
      <h1>Шот-фактура № 42</h1>
      <p>Қазақ әліпбиі: {KAZAKH}</p>
      <p><strong>Барлығы: 12 500 {TENGE}</strong></p>
    </body></html>"""
    reader = PdfReader(io.BytesIO(render_pdf(html)))

    text = _text(reader)
    for char in KAZAKH + TENGE:
        assert char in text
    assert "Барлығы: 12 500 ₸" in text
    assert "Soldee — STG LLP" in text  # running header

    fonts = _fonts(reader)
    # Regular + bold; every font used is our @font-face family, none from the host.
    assert len(fonts) == 2
    assert all("Soldee-DejaVu-Sans" in name for name in fonts), list(fonts)
    assert any(name.endswith("Soldee-DejaVu-Sans-Bold") for name in fonts), list(fonts)
    for program in fonts.values():  # the embedded font program itself is DejaVu Sans
        names = {r.toUnicode() for r in TTFont(io.BytesIO(program))["name"].names}
        assert "DejaVu Sans" in names

    served = "\n".join(_served(caplog))
    assert "static:css/print.css" in served
    assert "/static/fonts/DejaVuSans.ttf" in served
    assert "/static/fonts/DejaVuSans-Bold.ttf" in served


def test_page_numbers_page_x_of_y():
    html = "<h1>Акт</h1><p>бірінші</p><p class='page-break'>екінші</p>"
    reader = PdfReader(io.BytesIO(render_pdf(html)))
    assert len(reader.pages) == 2
    assert "Page 1 of 2" in reader.pages[0].extract_text()
    assert "Page 2 of 2" in reader.pages[1].extract_text()
    assert reader.pages[0].extract_text().count("Акт") == 2  # body + running title


def test_a4_page_size():
    reader = PdfReader(io.BytesIO(render_pdf("<p>A4</p>")))
    box = reader.pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == (
        210,
        297,
    )


def test_static_and_data_resources_are_used(caplog):
    caplog.set_level(logging.DEBUG, logger="soldee.pdf")
    pixel = (
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAA"
        "DUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
    )
    html = f"""<link rel="stylesheet" href="/static/css/print.css">
      <img src="{pixel}"><p>ok</p>"""
    reader = PdfReader(io.BytesIO(render_pdf(html)))
    assert "/XObject" in reader.pages[0]["/Resources"]  # the data: image was drawn
    assert f"{DEFAULT_BASE_URL}static/css/print.css" in "\n".join(_served(caplog))
    assert _refused(caplog) == ""


def test_external_and_local_urls_are_never_fetched(http_server, caplog):
    caplog.set_level(logging.DEBUG, logger="soldee.pdf")
    html = f"""<!doctype html><html><head>
      <link rel="stylesheet" href="http://127.0.0.1:9/x.css">
      <link rel="stylesheet" href="{http_server.url}/evil.css">
      <style>
        @import url("{http_server.url}/import.css");
        body {{ background: url("{http_server.url}/bg.png") }}
        @font-face {{ font-family: X; src: url("{http_server.url}/f.ttf") }}
      </style></head><body>
      <img src="file:///etc/hostname">
      <img src="https://example.com/x.png">
      <img src="{http_server.url}/pixel.png">
      <img src="/media/secret.png">
      <img src="static:../../soldee/settings.py">
      <img src="/static/%2e%2e/soldee/settings.py">
      <object data="file:///etc/passwd"></object>
      <p style="font-family: X">Тексеру ₸</p>
    </body></html>"""
    # The base URL is the local server itself: same-origin /static/ must be read from
    # disk, everything else on that origin must be refused.
    pdf_bytes = render_pdf(html, base_url=http_server.url + "/invoices/1/")

    assert http_server.requests == []
    text = _text(PdfReader(io.BytesIO(pdf_bytes)))
    assert "Тексеру ₸" in text
    assert "hostname" not in text and "root:" not in text

    refused = _refused(caplog)
    for url in (
        "file:///etc/hostname",
        "http://127.0.0.1:9/x.css",
        "https://example.com/x.png",
        f"{http_server.url}/evil.css",
        f"{http_server.url}/pixel.png",
        f"{http_server.url}/media/secret.png",
        "static:../../soldee/settings.py",
    ):
        assert f"refused {url}" in refused, url
    served = "\n".join(_served(caplog))
    assert f"{http_server.url}/static/fonts/DejaVuSans.ttf" in served  # from disk

    # The server was reachable all along, so "no request" really means "not fetched".
    with urllib.request.urlopen(http_server.url + "/control.png", timeout=5) as response:
        assert response.status == 200
    assert http_server.requests == ["/control.png"]


def test_weasyprint_default_fetcher_would_have_fetched(http_server):
    """Control for the test above: without our fetcher the same markup hits the server."""
    HTML(string=f'<img src="{http_server.url}/pixel.png">').write_pdf()
    assert http_server.requests == ["/pixel.png"]


# --- the fetcher itself -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/hostname",
        "FILE:///etc/hostname",
        "http://127.0.0.1:9/x.css",
        "https://example.com/x.png",
        "https://example.com/static/fonts/DejaVuSans.ttf",  # other origin
        "http://pdf.soldee.invalid/static/fonts/DejaVuSans.ttf",  # other scheme
        "https://pdf.soldee.invalid@example.com/static/fonts/DejaVuSans.ttf",
        "https://pdf.soldee.invalid/media/x.png",
        "ftp://example.com/x.png",
        "javascript:alert(1)",
        "static:../soldee/settings.py",
        "static:/../../etc/hostname",
        "static:fonts/../../soldee/settings.py",
        "static:%2e%2e/soldee/settings.py",
        "static:fonts/..%2f..%2fsoldee%2fsettings.py",
        "static:fonts\\..\\..\\soldee\\settings.py",
        "static:fonts/DejaVuSans.ttf%00.png",
        "static:fonts",  # a directory
        "static:",
        "static:fonts/nope.ttf",
        "https://pdf.soldee.invalid/static/../soldee/settings.py",
        "/etc/hostname",
        "relative.png",
    ],
)
def test_fetcher_refuses(url, caplog):
    fetcher = StaticFilesURLFetcher()
    with pytest.raises(RefusedURL):
        fetcher.fetch(url)
    assert f"refused {url}" in _refused(caplog)
    # ...which WeasyPrint's own fetch() reports as an ordinary, non-fatal failed fetch.
    with pytest.raises(URLFetchingError), fetch(fetcher, url):
        pass


@pytest.mark.parametrize(
    "url",
    [
        "static:fonts/DejaVuSans.ttf",
        "static:/fonts/DejaVuSans.ttf",
        "STATIC:fonts/DejaVuSans.ttf",
        "static:fonts/./DejaVuSans.ttf?v=1#x",
        "https://pdf.soldee.invalid/static/fonts/DejaVuSans.ttf",
        "https://PDF.soldee.invalid/static/fonts/DejaVu%53ans.ttf",
    ],
)
def test_fetcher_serves_static_files(url):
    response = StaticFilesURLFetcher().fetch(url)
    assert response.read() == (STATIC_DIR / "fonts" / "DejaVuSans.ttf").read_bytes()
    assert response.url == "https://pdf.soldee.invalid/static/fonts/DejaVuSans.ttf"


def test_fetcher_uses_callers_base_url_and_static_url(settings):
    settings.STATIC_URL = "/assets/"
    fetcher = StaticFilesURLFetcher("https://portal.example.kz/invoices/7/")
    assert fetcher.fetch("https://portal.example.kz/assets/css/print.css").content_type == (
        "text/css"
    )
    with pytest.raises(RefusedURL):
        fetcher.fetch("https://portal.example.kz/static/css/print.css")
    with pytest.raises(RefusedURL):
        fetcher.fetch("https://pdf.soldee.invalid/assets/css/print.css")


def test_fetcher_serves_data_uris():
    response = StaticFilesURLFetcher().fetch("data:text/plain;charset=utf-8,%E2%82%B8")
    assert response.read().decode() == TENGE


def test_fetcher_refuses_symlink_out_of_static_dir(tmp_path, settings):
    static = tmp_path / "static"
    static.mkdir()
    (static / "ok.txt").write_text("ok")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (static / "leak.txt").symlink_to(secret)
    settings.STATICFILES_DIRS = [static]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]

    fetcher = StaticFilesURLFetcher()
    assert fetcher.fetch("static:ok.txt").read() == b"ok"
    with pytest.raises(RefusedURL, match="outside the static directories"):
        fetcher.fetch("static:leak.txt")


def test_render_pdf_rejects_non_http_base_url():
    with pytest.raises(ValueError):
        render_pdf("<p>x</p>", base_url="file:///etc/")


def test_render_pdf_fails_loudly_without_print_css(tmp_path, settings):
    settings.STATICFILES_DIRS = [tmp_path]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    with pytest.raises(URLFetchingError):
        render_pdf("<p>x</p>")
