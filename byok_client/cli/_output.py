"""Printing for the ``byok`` command: a rich table on a terminal (when rich is installed), plain columns when piped,
JSON with ``--json``. Every string printed goes through ``Scrubber`` first, so no key value can reach the output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

__all__ = ["Scrubber", "emit", "say"]


class Scrubber:
    """Replaces every known key value in text by ``[key:<fingerprint>]`` (a last guard: nothing prints values)."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    def add(self, value: str, fingerprint: str) -> None:
        if len(value) >= 4:  # shorter strings would mangle ordinary text; keys are never that short
            self._values[value] = f"[key:{fingerprint}]"

    def __call__(self, text: str) -> str:
        for value, mask in self._values.items():
            if value in text:
                text = text.replace(value, mask)
        return text


SCRUB = Scrubber()


def say(text: str = "", *, err: bool = False) -> None:
    """Print a line (scrubbed) to stdout, or stderr with ``err=True``."""
    stream: TextIO = sys.stderr if err else sys.stdout
    print(SCRUB(text), file=stream, flush=True)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _rich_console() -> Any:
    """A rich Console for stdout when rich is installed and stdout is a terminal, else None."""
    if not sys.stdout.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console()


def emit(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    as_json: bool,
    title: str | None = None,
    empty: str = "nothing to show",
) -> None:
    """Print ``rows`` (dicts) with ``columns`` ((key, heading) pairs): JSON, a rich table or plain text."""
    if as_json:
        say(json.dumps(list(rows), indent=2, default=str))
        return
    if not rows:
        say(empty)
        return
    table = [[SCRUB(_cell(row.get(key))) for key, _ in columns] for row in rows]
    console = _rich_console()
    if console is not None:
        from rich.table import Table

        rich_table = Table(title=title, show_lines=False)
        for _, heading in columns:
            rich_table.add_column(heading)
        for cells in table:
            rich_table.add_row(*cells, style=_style(cells, columns))
        console.print(rich_table)
        return
    if title:
        say(title)
    _plain([heading for _, heading in columns], table)


def _style(cells: Sequence[str], columns: Sequence[tuple[str, str]]) -> str | None:
    keys = [key for key, _ in columns]
    if "status" in keys:
        status = cells[keys.index("status")]
        return "green" if status == "ok" else "red" if status in ("invalid", "unreachable", "error") else "yellow"
    return None


def _plain(headings: Sequence[str], table: Iterable[Sequence[str]]) -> None:
    table = list(table)
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headings)]
    say("  ".join(h.upper().ljust(w) for h, w in zip(headings, widths, strict=True)).rstrip())
    for row in table:
        say("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
