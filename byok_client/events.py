"""Typed events from pools and clients, delivered to ``on_event=`` callbacks.

Key state events fire exactly once per transition (a key that is already cooling and is rate-limited again does not
fire ``KeyRateLimited`` twice). A callback that raises is logged and never breaks a request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .core.policy import Attempt, Failure

__all__ = [
    "AttemptCompleted",
    "EventCallback",
    "FailedOver",
    "KeyDisabled",
    "KeyEvent",
    "KeyQuotaExhausted",
    "KeyRateLimited",
    "KeyRecovered",
    "KeysReloaded",
    "PoolCapacityLow",
    "PoolCapacityRestored",
    "PoolEvent",
    "PoolExhausted",
]


@dataclass(frozen=True, slots=True)
class PoolEvent:
    """Base of every event: the provider (``openai``, ``anthropic``, ``gemini``...; empty when not known)."""

    provider: str


@dataclass(frozen=True, slots=True)
class KeyEvent(PoolEvent):
    """An event about one key: its label, the failure class, the cooldown in seconds, the request path, and the
    model when the event concerns one model only (a per-model rate limit or quota)."""

    key_label: str
    failure: Failure | None = None
    cooldown: float | None = None
    path: str = ""
    model: str | None = None


@dataclass(frozen=True, slots=True)
class KeyRateLimited(KeyEvent):
    """A ready key was rate-limited and now cools for ``cooldown`` seconds."""


@dataclass(frozen=True, slots=True)
class KeyQuotaExhausted(KeyEvent):
    """A key ran out of quota or credit and now cools for ``cooldown`` seconds."""


@dataclass(frozen=True, slots=True)
class KeyDisabled(KeyEvent):
    """A key was found invalid or revoked and is disabled until the pool is reloaded; ``reason`` says why."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class KeyRecovered(KeyEvent):
    """A key that was cooling (or disabled, after a reload) is ready again."""


@dataclass(frozen=True, slots=True)
class FailedOver(KeyEvent):
    """A request moved from ``key_label`` (which failed with ``failure``) to ``to_label``."""

    to_label: str = ""
    status: int = 0


@dataclass(frozen=True, slots=True)
class PoolExhausted(PoolEvent):
    """Every key failed for one request; the SDK gets the last response. ``attempts`` is the request's history."""

    path: str = ""
    attempts: tuple[Attempt, ...] = ()
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class PoolCapacityLow(PoolEvent):
    """More than ``threshold`` of the pool's keys (``share`` now) have been cooling, at their budget or disabled
    for longer than ``window`` seconds: time to add capacity. Once per episode; logged at WARNING."""

    share: float = 0.0
    threshold: float = 0.0
    window: float = 0.0


@dataclass(frozen=True, slots=True)
class PoolCapacityRestored(PoolEvent):
    """The episode of ``PoolCapacityLow`` is over: the share of spent keys (``share``) is back under
    ``threshold``."""

    share: float = 0.0
    threshold: float = 0.0
    window: float = 0.0


@dataclass(frozen=True, slots=True)
class KeysReloaded(PoolEvent):
    """The pool's keys changed: the labels now in the pool, those added and those removed."""

    labels: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AttemptCompleted(KeyEvent):
    """One attempt finished: ``status`` (0 for a connection error or timeout) and ``failure`` (None on success).
    Fired for every attempt, so metrics can count requests per key and outcome."""

    status: int = 0
    outcome: str = field(default="success")


EventCallback = Callable[[PoolEvent], object]
"""What ``on_event=`` takes: called with each event, on the thread or task that caused it."""
