import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _storage(extra_env: dict) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"DJANGO_SETTINGS_MODULE": "soldee.settings", "SECRET_KEY": "x" * 50, **extra_env})
    code = ("import django; django.setup(); from django.core.files.storage import storages; "
            "s = storages['default']; "
            "print(type(s).__module__, getattr(s, 'bucket_name', ''), getattr(s, 'default_acl', ''))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_generated_files_go_to_a_private_s3_bucket_when_one_is_configured():
    assert _storage({"AWS_STORAGE_BUCKET_NAME": "soldee-docs", "AWS_S3_REGION_NAME": "eu-central-1"}) == (
        "storages.backends.s3 soldee-docs private")


def test_without_a_bucket_files_stay_in_the_local_media_folder():
    assert _storage({}).startswith("django.core.files.storage.filesystem")
