"""Where key health is shared beyond one process: the state-backend interface and its in-memory default.

A backend never sits on a request's path. The pool hands it each change it records (``publish``, which only
queues) and each counter (``count``, batched); the backend delivers changes made elsewhere to the callback given
in ``attach``, from its own thread. Times cross processes as wall-clock seconds (``until``), never as
monotonic readings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

__all__ = ["ChangeKind", "InMemoryState", "StateBackend", "StateChange"]

ChangeKind = Literal["cooldown", "disable", "enable", "limits"]


@dataclass(frozen=True, slots=True)
class StateChange:
    """One change to one key's shared health, named by the key's fingerprint (never its value).

    - ``cooldown``: the key (``model`` None) or one model of it cools until ``until`` (wall-clock seconds) for
      ``failure`` (a ``Failure`` value).
    - ``disable`` / ``enable``: the key is disabled for ``reason`` / enabled again (an explicit reload).
    - ``limits``: the provider's latest rate-limit reading (remaining requests/tokens, resets as wall-clock
      seconds), per model where scoped.
    ``origin`` identifies the process that made the change, so a backend can skip its own echoes.
    """

    scope: str
    fingerprint: str
    kind: ChangeKind
    model: str | None = None
    until: float | None = None
    failure: str | None = None
    reason: str | None = None
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    requests_reset: float | None = None
    tokens_reset: float | None = None
    origin: str = ""


@runtime_checkable
class StateBackend(Protocol):
    """Shares key health between processes. Every method returns at once and never raises: a backend that cannot
    reach its store keeps working locally and catches up when it can."""

    def attach(self, scope: str, apply: Callable[[StateChange], None]) -> Callable[[], None]:
        """Deliver changes other processes make in ``scope`` to ``apply`` (the current state first, then each
        change as it comes); returns a function that detaches. ``apply`` is called from the backend's thread."""
        ...

    def publish(self, change: StateChange) -> None:
        """Queue ``change`` for the other processes."""
        ...

    def count(self, scope: str, fingerprint: str, field: str, n: int = 1) -> None:
        """Add ``n`` to a per-key counter (``requests``, ``successes``, a failure class); batched."""
        ...

    def close(self) -> None:
        """Flush what is queued (bounded) and stop."""
        ...


class InMemoryState:
    """The default: health lives in this process only (shared between the pools of one scope), nothing is sent."""

    def attach(self, scope: str, apply: Callable[[StateChange], None]) -> Callable[[], None]:
        return _nothing

    def publish(self, change: StateChange) -> None:
        pass

    def count(self, scope: str, fingerprint: str, field: str, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return "InMemoryState()"


def _nothing() -> None:
    pass
