"""Snapshots of a pool's health: ``pool.status()`` / ``pool.stats()``. They hold labels and fingerprints, never a
key's value, and render as a table in notebooks (``_repr_html_``) and terminals (rich when installed, else text)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .core.policy import Failure

__all__ = ["CapacityStats", "ErrorRates", "KeyStateName", "KeyStatus", "PoolStats"]

KeyStateName = Literal["ready", "cooling", "disabled"]


@dataclass(frozen=True, slots=True)
class ErrorRates:
    """Shares of a key's attempts in the sliding window (default 60 s) that failed: any failure, rate limits,
    and timeouts or connection errors. 0.0 when the key had no attempt in the window."""

    total: float = 0.0
    rate_limit: float = 0.0
    timeout: float = 0.0


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """A snapshot of one key's health. Shows the label and fingerprint, never the value."""

    label: str
    fingerprint: str
    state: KeyStateName
    cooling_for: float
    """Seconds until the key is ready again (0 when ready)."""
    cooldown_reason: Failure | None
    disabled_reason: str | None
    requests: int
    successes: int
    failures: dict[Failure, int] = field(default_factory=dict)
    last_failure: Failure | None = None
    timeouts: int = 0
    """Connection errors and timeouts (left to the SDK's retry loop; not a failure class)."""
    last_used_ago: float | None = None
    """Seconds since the key was last picked; None if never."""
    in_flight: int = 0
    weight: float = 1.0
    max_in_flight: int | None = None
    remaining_requests: int | None = None
    """The provider's count of requests left in the current window (from rate-limit headers); None if unknown."""
    remaining_tokens: int | None = None
    requests_reset_in: float | None = None
    """Seconds until the provider resets the request limit, as of the last response; None if unknown."""
    tokens_reset_in: float | None = None
    error_rate: ErrorRates = field(default_factory=ErrorRates)
    models_cooling: dict[str, tuple[float, Failure]] = field(default_factory=dict)
    """Models this key cools for while it serves others: model -> (seconds left, failure class)."""


@dataclass(frozen=True, slots=True)
class CapacityStats:
    """What the pool was asked for and what it delivered (counts since it was built; rates over the last ten
    seconds), how requests waited for budget or were rejected, and the capacity alert's state."""

    on_exhausted: str = "wait"
    max_wait: float = 0.0
    offered: int = 0
    """Requests that asked the pool for a key."""
    served: int = 0
    """Attempts that succeeded."""
    offered_rate: float = 0.0
    """Requests a second offered, over the last ten seconds."""
    served_rate: float = 0.0
    waited: int = 0
    """Requests that waited for a unit of budget (``on_exhausted="wait"``)."""
    wait_seconds: float = 0.0
    """Their total wait, in seconds."""
    rejected: int = 0
    """Requests answered with a client-side 429 (``fail``, or a wait past ``max_wait``)."""
    exhausted_seconds: float = 0.0
    """Seconds during which every key was spent (cooling, at budget or disabled)."""
    spent_share: float = 0.0
    """The share of keys spent at the last look."""
    low: bool = False
    """Whether a ``PoolCapacityLow`` episode is going on."""
    low_for: float | None = None
    """Seconds since the share of spent keys went over the threshold, during an episode."""

    @property
    def mean_wait(self) -> float:
        """The mean wait of the requests that waited (0 when none did)."""
        return self.wait_seconds / self.waited if self.waited else 0.0


@dataclass(frozen=True, slots=True, repr=False)
class PoolStats:
    """A typed snapshot of a whole pool: per-key records in pool order, the selection strategy and the scope,
    and (``capacity``) offered against served requests, waits, rejections and time at exhaustion."""

    keys: tuple[KeyStatus, ...]
    strategy: str = "ordered"
    scope: str | None = None
    capacity: CapacityStats | None = None

    def __str__(self) -> str:
        from ._render import render_text

        return render_text(self)

    __repr__ = __str__  # a notebook's plain-text output and the REPL show the table too

    def _repr_html_(self) -> str:
        from ._render import render_html

        return render_html(self)

    def __rich__(self) -> Any:
        from ._render import render_rich

        return render_rich(self)
