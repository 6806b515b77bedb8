"""Reading ./.env the way dotenv and docker compose's `env_file` do.

django-environ's `read_env` keeps an inline comment as part of the value
(`SITE_URL=https://x  # comment` read as "https://x  # comment"), so a `.env` copied from
`.env.example` broke. Here, as in dotenv: a `#` at the start of an unquoted value or after
whitespace starts a comment (`a#b` stays "a#b", so a password may hold one); an unquoted
value is stripped; a value in single quotes is taken as written, one in double quotes
with the escapes \\n \\t \\r \\" \\\\; `export KEY=value` is accepted. The environment wins
over the file (nothing already set is overwritten).

Why not python-dotenv (tried): it reads `KEY=   # comment` as the text "# comment", where
this reader gives "" — an operator's blank-with-a-note line would set a setting to a
comment."""

import logging
import os
import re
from pathlib import Path

logger = logging.getLogger(__name__)

_ASSIGNMENT = re.compile(r"\A\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)\Z")
_COMMENT = re.compile(r"(?:\A|\s)#")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _quoted(raw: str) -> str | None:
    """The value of a quoted `raw` followed by nothing but a comment, else None."""
    quote = raw[0]
    index, chars = 1, []
    while index < len(raw):
        char = raw[index]
        if char == "\\" and quote == '"' and index + 1 < len(raw):
            following = raw[index + 1]
            chars.append(_ESCAPES.get(following, "\\" + following))
            index += 2
            continue
        if char == quote:
            rest = raw[index + 1 :].strip()
            return "".join(chars) if not rest or rest.startswith("#") else None
        chars.append(char)
        index += 1
    return None  # no closing quote


def parse_value(raw: str) -> str:
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        value = _quoted(raw)
        if value is not None:
            return value
    comment = _COMMENT.search(raw)
    return (raw[: comment.start()] if comment else raw).strip()


def parse(text: str) -> dict[str, str]:
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ASSIGNMENT.match(line)
        if match is None:
            logger.warning("Ignored line %d of the .env file: not KEY=value", number)
            continue
        values[match.group(1)] = parse_value(match.group(2))
    return values


def read_env_file(path: Path) -> None:
    """Set the variables of `path` (if it exists) that the environment does not set."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    for key, value in parse(text).items():
        os.environ.setdefault(key, value)
