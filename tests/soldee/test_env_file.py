"""The settings read ./.env as dotenv and docker compose do (soldee/envfile.py): an operator
who copies .env.example to .env gets the values it shows. django-environ's reader kept an
inline comment in the value (`SITE_URL=https://x  # absolute links ...`)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from soldee.envfile import parse, parse_value

ROOT = Path(__file__).resolve().parents[2]

# Runs the settings with `env_file` standing for ./.env (the checkout keeps none).
SETTINGS_WITH_ENV_FILE = """
import json, os, sys
from pathlib import Path
import soldee.envfile as envfile
real, read = envfile.read_env_file, []
def stand_in(path):
    read.append(str(path))
    real(sys.argv[1])
envfile.read_env_file = stand_in
import django; django.setup()
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "read": read, "environ": {k: v for k, v in os.environ.items() if k.isupper()},
    "SITE_URL": s.SITE_URL, "ALLOWED_HOSTS": s.ALLOWED_HOSTS, "DEBUG": s.DEBUG, "EMBEDDED": s.EMBEDDED,
    "db": [db["ENGINE"], db["HOST"], db["PORT"], db["NAME"]], "VAR_DIR": str(s.VAR_DIR),
    "CACHE": s.CACHES["default"]["LOCATION"], "CLOUDPAYMENTS_API_URL": s.CLOUDPAYMENTS_API_URL,
    "RENEWAL_RETRY_DAYS": s.RENEWAL_RETRY_DAYS, "PAYMENT_GATEWAY": s.PAYMENT_GATEWAY,
    "TRUSTED_PROXY_COUNT": s.ALLAUTH_TRUSTED_PROXY_COUNT, "MEDIA_ROOT": str(s.MEDIA_ROOT),
}))
"""


def _settings_from(env_file: Path, tmp_path: Path, **environment) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.isupper() or k in ("PATH", "HOME", "LANG")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "soldee.settings",
            "SOLDEE_VAR_DIR": str(tmp_path / "var"),
            **environment,
        }
    )
    out = subprocess.run(
        [sys.executable, "-c", SETTINGS_WITH_ENV_FILE, str(env_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_copied_env_example_gives_the_settings_the_values_it_shows(tmp_path):
    env_file = tmp_path / ".env"
    shutil.copy(ROOT / ".env.example", env_file)
    got = _settings_from(env_file, tmp_path)
    assert got["read"] == [str(ROOT / ".env")]
    assert got["SITE_URL"] == "https://portal.soldee.kz"
    assert got["ALLOWED_HOSTS"] == ["portal.soldee.kz"]
    assert (got["DEBUG"], got["EMBEDDED"]) == (False, False)
    assert got["db"] == ["django.db.backends.postgresql", "postgres", 5432, "soldee"]
    assert got["CACHE"] == "redis://redis:6379/1"
    assert got["CLOUDPAYMENTS_API_URL"] == "https://api.cloudpayments.ru"
    assert got["RENEWAL_RETRY_DAYS"] == [1, 3, 5]
    assert got["MEDIA_ROOT"] == "/app/media"
    assert got["VAR_DIR"] == str(tmp_path / "var"), "the environment wins over .env"
    listed = parse((ROOT / ".env.example").read_text())
    assert len(listed) > 60
    for key in listed:
        value = got["environ"][key]
        assert "#" not in value and value == value.strip(), (key, value)


def test_inline_comments_in_env_are_dropped_as_dotenv_drops_them(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# a comment line\n"
        "\n"
        "SECRET_KEY=a-long-random-secret-key-of-fifty-characters-0123  # the production secret\n"
        "SITE_URL=https://portal.example.kz   # absolute links\n"
        "DATABASE_URL=postgres://u:p#ss@db:5433/billing\t# a '#' inside a value stays\n"
        "PAYMENT_GATEWAY='cloudpayments'  # quoted\n"
        'export CLOUDPAYMENTS_API_URL="https://api.cloudpayments.kz"  # export, double quotes\n'
        "TRUSTED_PROXY_COUNT=1 # a number\n"
        "ALLOWED_HOSTS=   # nothing but a comment: empty, the default\n"
    )
    got = _settings_from(env_file, tmp_path, CLOUDPAYMENTS_API_URL="https://from.environment")
    assert got["SITE_URL"] == "https://portal.example.kz"
    assert got["environ"]["SECRET_KEY"] == "a-long-random-secret-key-of-fifty-characters-0123"
    assert got["db"] == ["django.db.backends.postgresql", "db", 5433, "billing"]
    assert got["environ"]["DATABASE_URL"] == "postgres://u:p#ss@db:5433/billing"
    assert got["PAYMENT_GATEWAY"] == "cloudpayments"
    assert got["CLOUDPAYMENTS_API_URL"] == "https://from.environment", (
        "the environment wins over .env"
    )
    assert got["TRUSTED_PROXY_COUNT"] == 1
    assert got["environ"]["ALLOWED_HOSTS"] == ""


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("bar  # comment", "bar"),
        ("bar\t# comment", "bar"),
        ("a#b", "a#b"),
        ("# only a comment", ""),
        ("", ""),
        ("  spaced out  ", "spaced out"),
        ("'single # kept'  # comment", "single # kept"),
        ('"double # kept" # comment', "double # kept"),
        (r'"line\nbreak \"quoted\" back\\slash"', 'line\nbreak "quoted" back\\slash'),
        (r"'no \n escapes'", r"no \n escapes"),
        ("'unclosed # comment", "'unclosed"),
        ("Soldee <info@soldee.kz>", "Soldee <info@soldee.kz>"),
    ],
)
def test_values(raw, value):
    assert parse_value(raw) == value


def test_lines_that_assign_nothing_are_skipped():
    assert parse(
        "# KEY=commented\n  # indented comment\nnot an assignment\nexport A=1\n B = 2 \n"
    ) == {"A": "1", "B": "2"}
