"""Keys from a ``.env`` file, read the way ``EnvSource`` reads the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from .._errors import ByokConfigError
from ..core.keys import Key
from .base import KeySource, read_text_file
from .env import env_keys

__all__ = ["DotenvSource", "read_dotenv"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_EXPORT = re.compile(r"export\s+")
_UNQUOTED = re.compile(r"(.*?)(?:\s+#.*)?", re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"'}


def read_dotenv(path: str | os.PathLike[str]) -> dict[str, str]:
    """The variables of a ``.env`` file.

    Understands ``KEY=value``, ``export KEY=value``, single quotes (literal), double quotes (``\\n``, ``\\t``,
    ``\\\\`` and ``\\"`` escapes), quoted values spanning lines, ``#`` comments (after a value only when preceded
    by whitespace), blank lines and CRLF line ends. There is no ``${VAR}`` expansion; a repeated name keeps its
    last value. Raises ``ByokConfigError`` naming the file (and line, never its content) if the file is missing,
    unreadable or malformed.
    """
    file = Path(path)
    return _parse(read_text_file(file, str(file), ".env file"), file)


def _parse(text: str, file: Path) -> dict[str, str]:
    lines = text.replace("\r\n", "\n").split("\n")
    result: dict[str, str] = {}
    i = 0
    while i < len(lines):
        lineno = i + 1
        line = lines[i].lstrip()
        i += 1
        if not line.strip() or line.startswith("#"):
            continue
        if export := _EXPORT.match(line):
            line = line[export.end() :]
        name, sep, rest = line.partition("=")
        name = name.strip()
        if not sep or not _NAME.fullmatch(name):
            raise _malformed(file, lineno, "malformed line, expected NAME=value")
        quote = rest.lstrip()[:1]
        if quote in ("'", '"'):
            body = rest.lstrip()[1:]
            while (end := _closing_quote(body, quote)) < 0:
                if i >= len(lines):
                    kind = "single" if quote == "'" else "double"
                    raise _malformed(file, lineno, f"unterminated {kind}-quoted value")
                body += "\n" + lines[i]
                i += 1
            after = body[end + 1 :].strip()
            if after and not after.startswith("#"):
                raise _malformed(file, lineno, "unexpected text after the closing quote")
            raw = body[:end]
            value = _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), raw) if quote == '"' else raw
        else:
            unquoted = _UNQUOTED.fullmatch(rest)
            value = unquoted.group(1).strip() if unquoted else rest.strip()
        result[name] = value
    return result


def _malformed(file: Path, lineno: int, reason: str) -> ByokConfigError:
    return ByokConfigError(f"{file}: line {lineno}: {reason}")


def _closing_quote(body: str, quote: str) -> int:
    """Index of the quote that closes ``body``, or -1. Inside double quotes a backslash escapes the next char."""
    if quote == "'":
        return body.find("'")
    escaped = False
    for index, char in enumerate(body):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return index
    return -1


class DotenvSource(KeySource):
    """Keys from a ``.env`` file, ordered as ``env_keys`` orders the environment (the plain variables, then the
    numbered ones, then the list variables), labelled with the file name (``.env:OPENAI_API_KEYS[0]``). Read again
    on every ``load()``.

    A file that sets none of the variables is an error, not an empty pool.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        list_vars: Sequence[str],
        numbered_prefixes: Sequence[str] = (),
    ) -> None:
        if isinstance(list_vars, str) or isinstance(numbered_prefixes, str):
            raise ByokConfigError("DotenvSource: list_vars and numbered_prefixes must be sequences of names")
        self.path = Path(path)
        self.list_vars = tuple(list_vars)
        self.numbered_prefixes = tuple(numbered_prefixes)
        if not self.list_vars and not self.numbered_prefixes:
            raise ByokConfigError(f"DotenvSource {self.path}: no list_vars or numbered_prefixes to read")
        self.name = f"dotenv {self.path}"

    def load(self) -> list[Key]:
        variables = read_dotenv(self.path)
        try:
            keys = env_keys(self.list_vars, self.numbered_prefixes, environ=variables)
        except ByokConfigError as e:  # a bad key value: the message names its label, never the value
            raise ByokConfigError(f"{self.path}: {e}") from e
        if not keys:
            wanted = ", ".join(self.list_vars + tuple(p + "N" for p in self.numbered_prefixes))
            raise ByokConfigError(f"{self.path}: sets none of {wanted}")
        return [key.with_label(f"{self.path.name}:{key.label}") for key in keys]

    def watched_files(self) -> tuple[Path, ...]:
        return (self.path,)
