"""EMAIL_URL becomes Django 6.1's MAILERS["default"] (the EMAIL_* settings are deprecated)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _mailer(email_url: str, **extra: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("EMAIL_URL", "DEBUG", "SOLDEE_EMBEDDED")}
    env.update({"DJANGO_SETTINGS_MODULE": "soldee.settings", "SECRET_KEY": "x" * 50, "EMAIL_URL": email_url,
                **extra})
    code = ("import warnings; warnings.simplefilter('error'); "  # no deprecated mail setting on the way
            "import django; django.setup(); from django.core import mail; m = mail.mailers.default; "
            "print(type(m).__module__, *[getattr(m, a, '-') for a in "
            "('host', 'port', 'username', 'password', 'use_tls', 'use_ssl', 'timeout', 'file_path')])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_smtp_with_starttls_credentials_and_a_timeout():
    assert _mailer("smtp+tls://mailer:s3cret@smtp.example.com:587") == [
        "django.core.mail.backends.smtp", "smtp.example.com", "587", "mailer", "s3cret", "True", "False", "30", "-"]


def test_smtp_over_ssl():
    assert _mailer("smtp+ssl://mailer:s3cret@smtp.example.com:465")[4:7] == ["s3cret", "False", "True"]


def test_console_by_default_and_files_at_an_absolute_path(tmp_path):
    assert _mailer("consolemail://", SOLDEE_EMBEDDED="1")[0] == "soldee.mail_console"  # make run: readable
    assert _mailer("consolemail://", DEBUG="1", SOLDEE_EMBEDDED="0")[0] == "soldee.mail_console"
    # production: Django's, which check --deploy refuses (tests/security/test_deploy_check.py)
    assert _mailer("consolemail://", SOLDEE_EMBEDDED="0")[0] == "django.core.mail.backends.console"
    out = _mailer(f"filemail://{tmp_path}/mail")
    assert out[0] == "django.core.mail.backends.filebased" and out[-1] == f"{tmp_path}/mail"


def test_the_console_prints_a_kazakh_body_and_a_long_link_readably():
    """The wire form is base64 (Cyrillic) or quoted-printable (a long English line, which
    breaks the link with '=' soft breaks): the console prints the text itself."""
    import io

    import django
    from django.conf import settings

    if not settings.configured:
        django.setup()
    from django.core.mail import EmailMultiAlternatives

    from soldee.mail_console import EmailBackend

    link = "http://127.0.0.1:8000/accounts/confirm-email/" + "Mg:1vQx2a:" + "k" * 60 + "/"
    body = f"Электрондық пошта мекенжайыңызды растаңыз: {link}\nSoldee сізге сәлем жолдайды!"
    message = EmailMultiAlternatives("Растаңыз", body, "Soldee <info@soldee.kz>", ["dana@example.kz"])
    message.attach_alternative("<p>html</p>", "text/html")
    message.attach("receipt.pdf", b"%PDF-1.7", "application/pdf")
    stream = io.StringIO()
    EmailBackend(stream=stream).send_messages([message])
    out = stream.getvalue()
    assert link in out and "Soldee сізге сәлем жолдайды!" in out and "Subject: Растаңыз" in out
    assert "[attachment: receipt.pdf]" in out and "<p>html</p>" not in out
