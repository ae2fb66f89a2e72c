"""Rendering of ``PoolStats`` as a plain-text table, an HTML table (notebooks) and a rich table (terminals).

All three show the same cells, built once by ``_table``: labels, fingerprints and counters, never a key's value.
"""

from __future__ import annotations

import html
import math
import textwrap
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .stats import KeyStatus, PoolStats

__all__ = ["render_html", "render_rich", "render_text"]

HEADERS: tuple[str, ...] = (
    "label",
    "fingerprint",
    "state",
    "req",
    "ok",
    "fail",
    "in flight",
    "req/tok left",
    "err",
    "last used",
)
"""Column headers, shared by every renderer."""

_LABEL, _STATE = 0, 2
_RIGHT = frozenset({3, 4, 5, 6, 7, 8, 9})
"""Columns aligned right (numbers and durations)."""

_WIDTH = 100
"""The text table fits in this many columns; long labels and states wrap onto more lines, never cut."""
_LABEL_MIN = 8
_STATE_MIN = 16

_STATE_COLOURS = {"ready": "green", "cooling": "yellow", "disabled": "red"}


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken at spaces where it can be, else anywhere."""
    if len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def _printable(text: str) -> str:
    """Control characters (a newline in a label from a config file) would break the table's rows."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        minutes, secs = divmod(whole, 60)
        return f"{minutes}m{secs:02d}s"
    hours, rest = divmod(whole, 3600)
    return f"{hours}h{rest // 60:02d}m"


def _count(value: int | None) -> str:
    """A compact count: ``-`` when unknown, ``149k``, ``1.4M`` (rounded down, so never overstated)."""
    if value is None:
        return "-"
    if value < 10_000:
        return str(value)
    if value < 1_000_000:
        return f"{value // 1000}k"
    return f"{math.floor(value / 100_000) / 10:.1f}M"


def _percent(share: float) -> str:
    if not math.isfinite(share):
        return "-"
    return f"{share * 100:.1f}%"


def _state(key: KeyStatus) -> str:
    if key.state == "cooling":
        text = f"cooling {_duration(key.cooling_for)}"
        if key.cooldown_reason is not None:
            text += f" ({key.cooldown_reason})"
    elif key.state == "disabled":
        return f"disabled ({key.disabled_reason})" if key.disabled_reason else "disabled"
    else:
        text = str(key.state)
    for model, (left, failure) in sorted(key.models_cooling.items()):
        text += f"; {model} cooling {_duration(left)} ({failure})"
    return text


def _summary(stats: PoolStats) -> str:
    counts = {"ready": 0, "cooling": 0, "disabled": 0}
    for key in stats.keys:
        counts[key.state] = counts.get(key.state, 0) + 1
    n = len(stats.keys)
    text = (
        f"KeyPool: {n} key{'' if n == 1 else 's'} ({counts['ready']} ready, {counts['cooling']} cooling, "
        f"{counts['disabled']} disabled), strategy {stats.strategy}"
    )
    if stats.scope:
        text += f", scope {stats.scope}"
    return _printable(text)


def _capacity_line(stats: PoolStats) -> str | None:
    """Offered against served, waits, rejections and time at exhaustion; None while the pool never ran short."""
    c = stats.capacity
    if c is None or not (c.waited or c.rejected or c.exhausted_seconds or c.low):
        return None
    low = f" LOW ({_percent(c.spent_share)} of keys spent)" if c.low else ""
    return (
        f"capacity{low}: offered {c.offered_rate:.1f}/s, served {c.served_rate:.1f}/s; {c.waited} waited "
        f"(mean {c.mean_wait * 1000:.0f} ms), {c.rejected} rejected; all spent {_duration(c.exhausted_seconds)}"
    )


def _row(key: KeyStatus) -> list[str]:
    return [
        _printable(key.label),
        _printable(key.fingerprint),
        _printable(_state(key)),
        str(key.requests),
        str(key.successes),
        str(sum(key.failures.values())),
        str(key.in_flight),
        f"{_count(key.remaining_requests)}/{_count(key.remaining_tokens)}",
        _percent(key.error_rate.total),
        "never" if key.last_used_ago is None else f"{_duration(key.last_used_ago)} ago",
    ]


def _table(stats: PoolStats) -> tuple[str, list[list[str]]]:
    """The summary line and one row of cells per key, in pool order."""
    return _summary(stats), [_row(key) for key in stats.keys]


def render_text(stats: PoolStats) -> str:
    """A plain-text table: the summary line, a header line and one row per key, at most 100 columns wide."""
    summary, rows = _table(stats)
    widths = [max([len(header), *(len(row[i]) for row in rows)]) for i, header in enumerate(HEADERS)]
    excess = sum(widths) + len(widths) - 1 - _WIDTH
    for column, floor in ((_LABEL, _LABEL_MIN), (_STATE, _STATE_MIN)):
        if excess <= 0:
            break
        cut = min(excess, max(widths[column] - max(floor, len(HEADERS[column])), 0))
        widths[column] -= cut
        excess -= cut

    def lines(cells: list[str] | tuple[str, ...]) -> list[str]:
        wrapped = [_wrap(cell, widths[i]) for i, cell in enumerate(cells)]
        out = []
        for n in range(max(len(w) for w in wrapped)):
            parts = []
            for i, pieces in enumerate(wrapped):
                cell = pieces[n] if n < len(pieces) else ""
                parts.append(cell.rjust(widths[i]) if i in _RIGHT else cell.ljust(widths[i]))
            out.append(" ".join(parts).rstrip())
        return out

    body = [text for row in rows for text in lines(row)]
    capacity = _capacity_line(stats)
    tail = _wrap(capacity, _WIDTH) if capacity else []
    return "\n".join([*_wrap(summary, _WIDTH), *lines(HEADERS), *body, *tail])


_STYLE = (
    "<style>"
    "table.byok-stats{border-collapse:collapse;font-family:monospace}"
    "table.byok-stats caption{text-align:left;font-weight:bold;padding:2px 6px}"
    "table.byok-stats th,table.byok-stats td{padding:2px 6px;text-align:left}"
    "table.byok-stats .byok-num{text-align:right}"
    "table.byok-stats tr.byok-ready .byok-state{color:#1a7f37}"
    "table.byok-stats tr.byok-cooling .byok-state{color:#9a6700}"
    "table.byok-stats tr.byok-disabled .byok-state{color:#cf222e}"
    "</style>"
)


def render_html(stats: PoolStats) -> str:
    """A self-contained HTML ``<table>`` (with a small ``<style>``) showing the same cells as ``render_text``.

    Every value is escaped; each row has the class ``byok-ready``, ``byok-cooling`` or ``byok-disabled``.
    """
    summary, rows = _table(stats)

    def cell_class(i: int) -> str:
        if i == _STATE:
            return ' class="byok-state"'
        return ' class="byok-num"' if i in _RIGHT else ""

    head = "".join(f"<th{cell_class(i)}>{html.escape(h)}</th>" for i, h in enumerate(HEADERS))
    body = []
    for key, row in zip(stats.keys, rows, strict=True):
        cells = [f"<td{cell_class(i)}>{html.escape(cell)}</td>" for i, cell in enumerate(row)]
        state_class = html.escape(f"byok-{key.state}")
        body.append(f'<tr class="{state_class}">{"".join(cells)}</tr>')
    return (
        f'{_STYLE}<table class="byok-stats">'
        f"<caption>{html.escape(summary)}</caption>"
        f"<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody>"
        "</table>" + (f"<p>{html.escape(capacity)}</p>" if (capacity := _capacity_line(stats)) else "")
    )


def render_rich(stats: PoolStats) -> Any:
    """A ``rich.table.Table`` with the state column coloured; the ``render_text`` string when rich is missing."""
    try:
        from rich import box
        from rich.table import Table
        from rich.text import Text
    except ImportError:
        return render_text(stats)

    summary, rows = _table(stats)
    # Text objects, not str: a label like "[bold]" must not be read as rich markup.
    capacity = _capacity_line(stats)
    table = Table(
        title=Text(summary),
        caption=Text(capacity) if capacity else None,
        caption_justify="left",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 0),
    )
    for i, header in enumerate(HEADERS):
        width = max([len(header), *(len(row[i]) for row in rows)])
        table.add_column(
            header,
            justify="right" if i in _RIGHT else "left",
            no_wrap=i not in (_LABEL, _STATE),
            overflow="fold",
            # Labels and states wrap when the console is narrow; the other cells are short and all needed.
            min_width=min(width, _LABEL_MIN if i == _LABEL else _STATE_MIN) if i in (_LABEL, _STATE) else width,
        )
    for key, row in zip(stats.keys, rows, strict=True):
        colour = _STATE_COLOURS.get(key.state, "")
        table.add_row(*(Text(cell, style=colour if i == _STATE else "") for i, cell in enumerate(row)))
    return table
