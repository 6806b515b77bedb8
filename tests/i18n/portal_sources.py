"""The portal's own Python source, for tests that read what the code records (event verbs,
event data keys): every module outside the virtualenv, the tests, the benchmarks and the
migrations."""

from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def portal_sources() -> Iterator[str]:
    for path in ROOT.glob("*/**/*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in (".venv", "tests", "bench") or "migrations" in parts:
            continue
        yield path.read_text()
