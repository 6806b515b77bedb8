"""The CSP (settings.SECURE_CSP) allows scripts only from our origin (or with a nonce) and
no inline styles: so no template may contain an inline <script>, a style="" attribute or
an on*= event handler. The portal's templates and the allauth templates it renders are
scanned; a response header check proves the policy is sent."""

import re
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [ROOT / "templates"] + [p / "templates" for p in ROOT.iterdir()
                                        if (p / "templates").is_dir() and (p / "apps.py").exists()]

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
STYLE_ATTR = re.compile(r"<[a-zA-Z][^>]*\sstyle\s*=", re.IGNORECASE | re.DOTALL)
EVENT_ATTR = re.compile(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", re.IGNORECASE | re.DOTALL)
STYLE_TAG = re.compile(r"<style\b", re.IGNORECASE)


# Sources of PDFs (rendered by WeasyPrint on the server) and of e-mails (inline styles are
# what mail clients read): never served to a browser, so the site's CSP does not apply.
PDF_ONLY = ("documents/", "emails/")


def html_templates():
    for base in TEMPLATE_DIRS:
        for path in sorted(base.rglob("*.html")):
            if not str(path.relative_to(base)).startswith(PDF_ONLY):
                yield path


def problems(text: str) -> list[str]:
    found = []
    for match in SCRIPT_TAG.finditer(text):
        attrs = match.group(1)
        if "src=" not in attrs and not re.search(r'type="application/(ld\+)?json"', attrs):
            found.append(f"inline <script>: {match.group(0)}")
    found += [f"style attribute: {m.group(0)[:80]}" for m in STYLE_ATTR.finditer(text)]
    found += [f"event handler: {m.group(0)[:80]}" for m in EVENT_ATTR.finditer(text)]
    found += [f"<style> element: {m.group(0)}" for m in STYLE_TAG.finditer(text)]
    return found


def test_the_scanner_finds_what_the_policy_blocks():
    assert problems('<script>alert(1)</script>')
    assert problems('<div style="color:red">')
    assert problems('<button type="button" onclick="go()">')
    assert problems('<style>p{}</style>')
    assert not problems('<script src="/static/x.js" defer></script><p class="muted" data-on="x">')


@pytest.mark.parametrize("path", list(html_templates()), ids=lambda p: str(p.relative_to(ROOT)))
def test_template_has_no_inline_script_style_or_handler(path):
    assert not problems(path.read_text(encoding="utf-8")), problems(path.read_text(encoding="utf-8"))


def test_allauth_templates_the_portal_renders_are_csp_clean():
    """allauth's own templates that our flows render (login, signup, e-mail, password,
    MFA) must also pass, or be overridden in templates/account|mfa/."""
    import allauth

    base = Path(allauth.__file__).parent / "templates"
    ours = ROOT / "templates"
    offending = []
    for path in sorted(base.rglob("*.html")):
        rel = path.relative_to(base)
        if rel.parts[0] in ("socialaccount", "usersessions", "idp", "headless") or "webauthn" in rel.parts:
            continue  # apps or MFA types that are not installed/enabled
        if rel.name.startswith("phone_") and "phone" not in str(settings.ACCOUNT_SIGNUP_FIELDS):
            continue  # phone numbers are not used: no URL renders these
        if (ours / rel).exists():
            continue  # overridden by the portal
        if problems(path.read_text(encoding="utf-8")):
            offending.append(str(rel))
    assert not offending, offending


def test_policy_header_is_sent(client, db):
    response = client.get("/pricing/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    assert "style-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert settings.SECURE_CSP["object-src"]
