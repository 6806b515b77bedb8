"""Russian and Kazakh catalogs are complete: every message the code and templates use is
in them, translated, not fuzzy, and the committed .mo files match the .po files."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
LANGS = ["ru", "kk"]
SOURCES = ["accounts", "plans", "offer", "billing", "subscriptions", "refunds", "soldee", "templates"]


# Every catalogue the portal ships: its own; django-allauth's texts and the gaps of Django's
# own catalogues (the admin, and its JavaScript) in Kazakh; corrections to allauth's Russian.
# Read from the tree, so a new catalogue is checked as soon as it is added.
CATALOGS = sorted((base, po.parent.parent.name, po.stem) for base in ("locale", "locale_vendor")
                  for po in (ROOT / base).glob("*/LC_MESSAGES/*.po"))
assert ("locale_vendor", "kk", "djangojs") in CATALOGS and len(CATALOGS) >= 5


def _catalog(lang, base="locale", domain="django"):
    with (ROOT / base / lang / "LC_MESSAGES" / f"{domain}.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def _ids(catalog):
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


@pytest.mark.parametrize(("base", "lang", "domain"), CATALOGS)
def test_every_message_is_translated_and_not_fuzzy(base, lang, domain):
    catalog = _catalog(lang, base, domain)
    missing = [m.id for m in catalog if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not missing, f"{len(missing)} untranslated in {lang}: {missing[:10]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy in {lang}: {fuzzy[:10]}"


def test_the_catalogs_cover_every_message_in_the_code(tmp_path):
    if not shutil.which("xgettext"):
        from tests.conftest import missing

        missing("needs GNU gettext (xgettext) to extract messages: apt-get install gettext")
    work = tmp_path / "src"
    for name in SOURCES + ["manage.py", "locale"]:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
    (work / "soldee").exists() or shutil.copytree(ROOT / "soldee", work / "soldee")
    subprocess.run([sys.executable, "manage.py", "makemessages", "-l", "ru", "-l", "kk", "--no-location",
                    "--ignore", "tests/*"], cwd=work, check=True, capture_output=True)
    for lang in LANGS:
        with (work / "locale" / lang / "LC_MESSAGES" / "django.po").open("rb") as fh:
            extracted = _ids(read_po(fh))
        new = sorted(extracted - _ids(_catalog(lang)))
        assert not new, f"{len(new)} messages missing from locale/{lang} (run `make messages`): {new[:10]}"


@pytest.mark.parametrize(("base", "lang", "domain"), CATALOGS)
def test_the_compiled_catalogs_are_up_to_date(base, lang, domain, tmp_path):
    from babel.messages.mofile import read_mo

    def key(v):
        return tuple(v) if isinstance(v, (list, tuple)) else v

    def context(c):  # read_mo gives bytes, read_po str
        return c.decode() if isinstance(c, bytes) else c

    with (ROOT / base / lang / "LC_MESSAGES" / f"{domain}.mo").open("rb") as fh:
        compiled = {(context(m.context), key(m.id)): key(m.string) for m in read_mo(fh) if m.id}
    source = {(m.context, key(m.id)): key(m.string) for m in _catalog(lang, base, domain) if m.id and not m.fuzzy}
    assert compiled == source, "locale .mo files are stale: run `make messages`"
