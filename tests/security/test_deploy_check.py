"""`manage.py check --deploy` with production settings reports nothing. It runs in a
subprocess with production variables (no database is contacted: the URL points at a
closed port, so a check that tried to connect would fail)."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SOLDEE_", "DJANGO_", "DATABASE_", "SECURE_", "CACHE_URL", "DEBUG"))}
    env.update({
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": "postgres://soldee:secret@127.0.0.1:1/soldee",
        "ALLOWED_HOSTS": "portal.soldee.kz",
        "CSRF_TRUSTED_ORIGINS": "https://portal.soldee.kz",
        "SITE_URL": "https://portal.soldee.kz",
        "EMAIL_URL": "smtp+tls://mailer:secret@smtp.soldee.kz:587",
        "CACHE_URL": "redis://127.0.0.1:1/0",  # not contacted by the checks
        "TRUSTED_PROXY_COUNT": "1",
        "PAYMENT_GATEWAY": "cloudpayments",
        "CLOUDPAYMENTS_PUBLIC_ID": "pk_test",
        "CLOUDPAYMENTS_API_SECRET": secrets.token_urlsafe(32),
        "AGENT_PLATFORM_WEBHOOK_URL": "https://agents.soldee.kz/hooks/access",
        "AGENT_PLATFORM_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "SOLDEE_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "soldee.settings",
        **extra,
    })
    return env


def run_manage(tmp_path, *args, **extra):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=production_env(tmp_path, **extra),
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_reports_no_issue_with_production_settings(tmp_path):
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_check_deploy_would_report_a_weak_setting(tmp_path):
    """The check is live: a short HSTS max-age (production env var) is reported."""
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING",
                        SECURE_HSTS_SECONDS="0")
    assert result.returncode != 0
    assert "security.W004" in result.stdout + result.stderr


def test_check_deploy_refuses_console_mail_in_production(tmp_path):
    """Forgetting EMAIL_URL in production would print customers' e-mails to a log."""
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", EMAIL_URL="consolemail://")
    assert result.returncode != 0
    assert "mail.E001" in result.stdout + result.stderr


def test_production_settings_are_hardened(tmp_path):
    code = ("from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
            "s.SESSION_COOKIE_HTTPONLY, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS >= 31536000, "
            "s.SECURE_PROXY_SSL_HEADER, s.X_FRAME_OPTIONS, s.DEBUG, 'allauth.mfa' in s.INSTALLED_APPS, "
            "s.SOLDEE_STAFF_MFA_REQUIRED)")
    result = run_manage(tmp_path, "shell", "--no-imports", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True", "True", "True", "('HTTP_X_FORWARDED_PROTO',",
                                     "'https')", "DENY", "False", "True", "True"]


def test_check_deploy_refuses_the_sandbox_gateway_without_a_webhook_secret(tmp_path):
    """docker-compose with .env.example's empty SANDBOX_WEBHOOK_SECRET would refuse every
    sandbox notification: the deploy check says so."""
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", SANDBOX_WEBHOOK_SECRET="",
                        PAYMENT_GATEWAY="sandbox", SANDBOX_PAYMENTS_ALLOWED="1")
    assert result.returncode != 0 and "soldee.E001" in result.stdout + result.stderr


def test_check_deploy_refuses_the_sandbox_unless_the_site_says_it_is_staging(tmp_path):
    """Found by the security review: the sandbox in production gives plans away for a test card."""
    production = run_manage(tmp_path, "check", "--deploy", PAYMENT_GATEWAY="sandbox",
                            SANDBOX_WEBHOOK_SECRET=secrets.token_urlsafe(32))
    assert production.returncode != 0 and "soldee.E006" in production.stderr
    staging = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", PAYMENT_GATEWAY="sandbox",
                         SANDBOX_WEBHOOK_SECRET=secrets.token_urlsafe(32), SANDBOX_PAYMENTS_ALLOWED="1")
    assert staging.returncode == 0, staging.stdout + staging.stderr


def test_check_deploy_says_when_the_agent_platform_is_not_told_of_grants(tmp_path):
    """Clause 5.2: with no platform webhook, access is recorded as granted without telling the
    platform; a webhook without its secret cannot be verified. (Found by the audit.)"""
    none = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", AGENT_PLATFORM_WEBHOOK_URL="")
    assert none.returncode != 0 and "soldee.W002" in none.stdout + none.stderr
    unsigned = run_manage(tmp_path, "check", "--deploy", AGENT_PLATFORM_WEBHOOK_SECRET="")
    assert unsigned.returncode != 0 and "soldee.E003" in unsigned.stdout + unsigned.stderr


def test_the_sandbox_is_refused_beside_a_real_gateway(tmp_path):
    """Found by the security review. A sandbox-signed notification must never pay for a real
    gateway's invoice: no development secret while another gateway is in use, and the
    deploy check refuses the sandbox among the gateways being retired."""
    code = "from django.conf import settings as s; print(repr(s.SANDBOX_WEBHOOK_SECRET))"
    for gateway, secret in (("cloudpayments", "''"), ("sandbox", "'sandbox-dev-secret'")):
        result = run_manage(tmp_path, "shell", "--no-imports", "-c", code, DEBUG="1", SANDBOX_WEBHOOK_SECRET="",
                            PAYMENT_GATEWAY=gateway)
        assert result.stdout.strip() == secret, result.stderr
    result = run_manage(tmp_path, "check", "--deploy", PAYMENT_GATEWAY="cloudpayments",
                        PAYMENT_GATEWAYS_RETIRED="sandbox,paypal")
    assert result.returncode != 0
    assert "soldee.E004" in result.stderr and "PAYMENT_GATEWAYS_RETIRED names 'paypal'" in result.stderr


def test_check_deploy_wants_shared_limits_that_see_the_client(tmp_path):
    """Found by the security review: per-process login limits, and per-address limits that
    see only the proxy's address, passed the check."""
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", CACHE_URL="locmemcache://", TRUSTED_PROXY_COUNT="0")
    assert result.returncode != 0
    assert "soldee.E007" in result.stderr and "soldee.W008" in result.stderr
