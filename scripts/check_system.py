"""Say clearly what this machine lacks for the portal (run) or the tests (test)."""

import argparse
import ctypes.util
import os
import shutil
import sys

REQUIRE_ALL = os.environ.get("SOLDEE_REQUIRE_ALL") == "1"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--for", dest="purpose", default="run", choices=["run", "test"])
    args = parser.parse_args()
    problems, notes = [], []
    if sys.version_info < (3, 12, 4):
        # Django 6 needs 3.12; before 3.12.4 Python loses a space when it folds a long Russian
        # or Kazakh e-mail subject (gh-92081): "сомасындағытөлем" reached customers.
        problems.append("Python 3.12.4 or newer is needed (Django 6; older 3.12 releases garble e-mail "
                        "subjects). Remove .venv after installing it.")
    if not ctypes.util.find_library("pango-1.0"):
        # Receipts, invoices and agreement copies are PDFs: the portal cannot start without it.
        problems.append("WeasyPrint (PDF documents) needs Pango: sudo apt-get install libpango-1.0-0 "
                        "libpangoft2-1.0-0 libharfbuzz-subset0")
    if args.purpose == "test":
        if not (shutil.which("chromium") or os.path.exists("/usr/bin/chromium")):
            msg = "Browser tests need Debian's Chromium: sudo apt-get install chromium (they are skipped without it)."
            (problems if REQUIRE_ALL else notes).append(msg)
    for n in notes:
        print(f"NOTE: {n}")
    for p in problems:
        print(f"MISSING: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
