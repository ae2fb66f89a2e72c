"""Process-wide state, owned by explicit registry objects (so tests can reset it and nothing relies on the garbage
collector for isolation).

- ``Scope``: what the pools of one (provider, origin) share: one lock, each key's ``Health`` (by digest) and the
  per-model cooldown index. A pool built by hand gets a private scope.
- ``ScopeRegistry``: the scopes of this process, by name.
"""

from __future__ import annotations

import threading
import weakref

from .health import Health

__all__ = ["SCOPES", "Scope", "ScopeRegistry"]


class Scope:
    """Shared by every pool of one scope. ``lock`` guards all of it and every ``Health`` in it; it is only ever
    held for a few dict and heap operations, never while user code or I/O runs."""

    __slots__ = ("__weakref__", "health", "lock", "model_cooling", "name")

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.health: weakref.WeakValueDictionary[str, Health] = weakref.WeakValueDictionary()
        # model -> {key digest -> cooldown end}: lets a request for one model skip keys cooling for it in O(k),
        # k the keys cooling for that model, however many keys the pool has.
        self.model_cooling: dict[str, dict[str, float]] = {}

    def health_of(self, digest: str) -> Health:
        """The shared health of a key (created on first use). Call with ``lock`` held."""
        found = self.health.get(digest)
        if found is None:
            found = self.health[digest] = Health()
        return found

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
            self._scopes = weakref.WeakValueDictionary()

    def __len__(self) -> int:
        return len(self._scopes)


SCOPES = ScopeRegistry()
"""The process's scopes: pools of the same provider and origin share key health through it."""
