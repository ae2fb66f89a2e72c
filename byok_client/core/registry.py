"""Process-wide state, owned by explicit registry objects (so tests can reset it and nothing relies on the garbage
collector for isolation).

- ``Scope``: what the pools of one (provider, origin) share: one lock, each key's ``Health`` (by digest) and the
  per-model cooldown index. A pool built by hand gets a private scope.
- ``ScopeRegistry``: the scopes of this process, by name.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable

from .health import Health
from .policy import Failure
from .state import StateBackend, StateChange

__all__ = ["SCOPES", "Scope", "ScopeRegistry"]


class Scope:
    """Shared by every pool of one scope. ``lock`` guards all of it and every ``Health`` in it; it is only ever
    held for a few dict and heap operations, never while user code or I/O runs."""

    __slots__ = (
        "__weakref__",
        "_detach",
        "backend",
        "clock",
        "fingerprints",
        "health",
        "lock",
        "model_cooling",
        "name",
        "pending",
        "revived",
        "wall",
    )

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.health: weakref.WeakValueDictionary[str, Health] = weakref.WeakValueDictionary()
        self.fingerprints: dict[str, str] = {}  # fingerprint -> digest, for changes from other processes
        # model -> {key digest -> cooldown end}: lets a request for one model skip keys cooling for it in O(k),
        # k the keys cooling for that model, however many keys the pool has.
        self.model_cooling: dict[str, dict[str, float]] = {}
        self.backend: StateBackend | None = None  # shares this scope's health with other processes
        self._detach: Callable[[], None] | None = None
        self.pending: list[StateChange] = []  # changes to publish, queued under the lock, sent after it
        self.revived = 0  # bumped when another process re-enables a key: pools put it back in their selectors
        self.clock: Callable[[], float] = time.monotonic
        self.wall: Callable[[], float] = time.time

    def health_of(self, digest: str, fingerprint: str = "") -> Health:
        """The shared health of a key (created on first use). Call with ``lock`` held."""
        found = self.health.get(digest)
        if found is None:
            found = self.health[digest] = Health()
        if fingerprint:
            self.fingerprints[fingerprint] = digest
        return found

    # -- sharing with other processes ----------------------------------------------------------------------------
    def share(self, backend: StateBackend, clock: Callable[[], float]) -> None:
        """Share this scope through ``backend`` (once; later pools of the scope reuse it)."""
        if self.backend is not None or self.name is None:
            return
        self.backend, self.clock = backend, clock
        self._detach = backend.attach(self.name, self.apply)

    def unshare(self) -> None:
        detach, self._detach, self.backend = self._detach, None, None
        if detach is not None:
            detach()

    def to_wall(self, until: float) -> float:
        return self.wall() + (until - self.clock())

    def queue(self, change: StateChange) -> None:
        """Queue ``change`` for the backend (call with ``lock`` held; ``flush`` sends it after)."""
        if self.backend is not None:
            self.pending.append(change)

    def flush(self) -> None:
        """Hand queued changes to the backend, outside the lock (its ``publish`` only queues, but it is not ours)."""
        if not self.pending:
            return
        with self.lock:
            batch, self.pending = self.pending, []
        backend = self.backend
        if backend is not None:
            for change in batch:
                backend.publish(change)

    def apply(self, change: StateChange) -> None:
        """A change another process made (called from the backend's thread): applied to the local health, never
        published again."""
        with self.lock:
            digest = self.fingerprints.get(change.fingerprint)
            health = self.health.get(digest) if digest is not None else None
            if digest is None or health is None:
                return  # a key this process does not hold
            kind = change.kind
            if kind == "cooldown" and change.until is not None:
                until = self.clock() + (change.until - self.wall())
                failure = _failure(change.failure)
                if change.model is None:
                    if until > health.cooldown_until:
                        health.cooldown_until, health.cooldown_failure, health.cooldown_told = until, failure, True
                else:
                    m = health.model(change.model)
                    if until > m.cooldown_until:
                        m.cooldown_until, m.cooldown_failure, m.cooldown_told = until, failure, True
                    self.model_cooling.setdefault(change.model, {})[digest] = m.cooldown_until
            elif kind == "disable":
                if health.disabled_reason is None:
                    health.disabled_reason = change.reason or "disabled by another process"
            elif kind == "enable":
                if health.disabled_reason is not None:
                    health.disabled_reason = None
                    self.revived += 1
            elif kind == "limits":
                target = health if change.model is None else health.model(change.model)
                target.remaining_requests = change.remaining_requests
                target.remaining_tokens = change.remaining_tokens

    def __repr__(self) -> str:
        return f"Scope({self.name!r})"


class ScopeRegistry:
    """The named scopes of this process. A scope lives as long as a pool uses it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scopes: weakref.WeakValueDictionary[str, Scope] = weakref.WeakValueDictionary()

    def get(self, name: str | None) -> Scope:
        """The scope called ``name`` (shared), or a new private one for None."""
        if name is None:
            return Scope()
        with self._lock:
            found = self._scopes.get(name)
            if found is None:
                found = self._scopes[name] = Scope(name)
            return found

    def clear(self) -> None:
        """Forget every scope: pools built after this share nothing with earlier ones (for tests)."""
        with self._lock:
            scopes, self._scopes = list(self._scopes.values()), weakref.WeakValueDictionary()
        for scope in scopes:
            scope.unshare()

    def __len__(self) -> int:
        return len(self._scopes)


SCOPES = ScopeRegistry()
"""The process's scopes: pools of the same provider and origin share key health through it."""


def _failure(value: str | None) -> Failure:
    try:
        return Failure(value) if value is not None else Failure.RATE_LIMITED
    except ValueError:
        return Failure.RATE_LIMITED
