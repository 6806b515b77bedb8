"""Compile the .po files under settings.LOCALE_PATHS (locale/ and locale_vendor/; the
django domain, and djangojs where there is one: the admin's JavaScript texts in Kazakh) to
.mo with babel (pure Python: no gettext needed on the machine). The .mo files are
committed, so `make run` needs nothing."""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management.base import BaseCommand


def compile_catalog(po_path: Path) -> Path:
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=po_path.parent.parent.name)
    mo_path = po_path.with_suffix(".mo")
    with mo_path.open("wb") as fh:
        write_mo(fh, catalog, use_fuzzy=False)
    return mo_path


class Command(BaseCommand):
    help = "Compile the portal's .po files to .mo with babel."

    def handle(self, *args, **options):
        for base in settings.LOCALE_PATHS:
            for po in sorted(Path(base).glob("*/LC_MESSAGES/django*.po")):
                self.stdout.write(f"compiled {compile_catalog(po)}")
