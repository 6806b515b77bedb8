"""The README says .env.example lists every variable the settings read; docker-compose
passes it to the containers as it is, so a variable it leaves empty must mean the default."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_lists_every_variable_the_settings_read():
    settings = (ROOT / "soldee" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.[a-z_]+)?\(\s*"([A-Z][A-Z0-9_]*)"', settings))
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    assert len(read) > 40
    assert sorted(read - listed) == []


def _settings(env_extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.isupper() or k in ("PATH", "HOME", "LANG")}
    env.update({"DJANGO_SETTINGS_MODULE": "soldee.settings", "SECRET_KEY": "x" * 50, **env_extra})
    code = ("import json, django; django.setup(); from django.conf import settings as s; "
            "print(json.dumps({k: repr(getattr(s, k)) for k in dir(s) if k.isupper()}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_variable_env_example_leaves_empty_means_its_default():
    text = (ROOT / ".env.example").read_text()
    empty = re.findall(r"^([A-Z][A-Z0-9_]*)=[ \t]*(?:#.*)?$", text, re.M)
    assert "SANDBOX_WEBHOOK_URL" in empty
    for mode in ({}, {"SOLDEE_EMBEDDED": "0", "DATABASE_URL": "postgres://soldee@db:5432/soldee"}):  # both ways
        unset, blank = _settings(mode), _settings({**mode, **dict.fromkeys(empty, "")})
        assert {k: (unset[k], blank[k]) for k in unset if unset[k] != blank.get(k)} == {}, mode


def test_the_image_never_takes_the_env_file_or_local_state():
    """Dockerfile copies the tree (`COPY . .`): .env, with the production secrets, stays out."""
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "COPY . ." in (ROOT / "Dockerfile").read_text()
    for entry in (".env", ".venv/", "var/", ".git/"):
        assert entry in ignored, entry


def test_the_image_collects_static_files_with_the_manifest_production_reads(tmp_path):
    """Found by the docs review: the build ran collectstatic without a DATABASE_URL, so it
    counted as embedded and wrote no manifest; the containers (DATABASE_URL set) use the
    manifest storage, and every page with a static file failed. The build's own variables,
    as the Dockerfile sets them, must select the manifest storage."""
    import re
    import subprocess
    import sys

    line = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if "collectstatic" in line
                and line.startswith("RUN "))
    build_env = dict(re.findall(r"(\w+)=(\S+)", line.split("python", 1)[0]))
    env = {"PATH": os.environ.get("PATH", ""), "SOLDEE_VAR_DIR": str(tmp_path), **build_env}
    code = "from django.conf import settings; print(settings.STORAGES['staticfiles']['BACKEND'])"
    result = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "whitenoise.storage.CompressedManifestStaticFilesStorage", result.stderr
