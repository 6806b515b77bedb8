"""A readable diff between two versions of a legal text: lines, with the changed words
inside a changed line marked, long unchanged stretches folded."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

CONTEXT_LINES = 2
_TOKEN = re.compile(r"(\s+)")


@dataclass
class DiffRow:
    kind: str  # "eq", "del", "ins" or "skip" (folded unchanged lines)
    segments: list[tuple[str, str]] = field(default_factory=list)  # (eq|del|ins, text)
    skipped: int = 0


@dataclass
class Diff:
    rows: list[DiffRow]
    added: int
    removed: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def _word_diff(old: str, new: str) -> tuple[list, list]:
    a, b = [t for t in _TOKEN.split(old) if t], [t for t in _TOKEN.split(new) if t]
    old_segments, new_segments = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            old_segments.append(("eq", "".join(a[i1:i2])))
            new_segments.append(("eq", "".join(b[j1:j2])))
            continue
        if i2 > i1:
            old_segments.append(("del", "".join(a[i1:i2])))
        if j2 > j1:
            new_segments.append(("ins", "".join(b[j1:j2])))
    return old_segments, new_segments


def text_diff(old: str, new: str, *, context: int = CONTEXT_LINES) -> Diff:
    a, b = old.splitlines(), new.splitlines()
    rows: list[DiffRow] = []
    added = removed = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            rows.extend(DiffRow("eq", [("eq", line)]) for line in a[i1:i2])
            continue
        old_lines, new_lines = a[i1:i2], b[j1:j2]
        removed += len(old_lines)
        added += len(new_lines)
        if tag == "replace":
            paired = min(len(old_lines), len(new_lines))
            dels, inss = [], []
            for k in range(paired):
                o, n = _word_diff(old_lines[k], new_lines[k])
                dels.append(DiffRow("del", o))
                inss.append(DiffRow("ins", n))
            dels += [DiffRow("del", [("del", line)]) for line in old_lines[paired:]]
            inss += [DiffRow("ins", [("ins", line)]) for line in new_lines[paired:]]
            rows.extend(dels + inss)
        else:
            rows.extend(DiffRow("del", [("del", line)]) for line in old_lines)
            rows.extend(DiffRow("ins", [("ins", line)]) for line in new_lines)
    return Diff(rows=_fold(rows, context), added=added, removed=removed)


def _fold(rows: list[DiffRow], context: int) -> list[DiffRow]:
    """Keep `context` unchanged lines around each change; fold the rest."""
    near = set()
    for index, row in enumerate(rows):
        if row.kind != "eq":
            near.update(range(index - context, index + context + 1))
    folded: list[DiffRow] = []
    run = 0
    for index, row in enumerate(rows):
        if row.kind == "eq" and index not in near:
            run += 1
            continue
        if run:
            folded.append(DiffRow("skip", skipped=run))
            run = 0
        folded.append(row)
    if run:
        folded.append(DiffRow("skip", skipped=run))
    return folded
