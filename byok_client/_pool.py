"""`KeyPool`: ordered keys, their health, and selection in O(log n) per request."""

from __future__ import annotations

import heapq
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from ._errors import ByokConfigError
from ._keys import Key
from ._policy import FailoverPolicy, Failure, Verdict

__all__ = ["KeyPool", "KeyStatus"]

Clock = Callable[[], float]
KeyStateName = Literal["ready", "cooling", "disabled"]

# One lock for all health and selection state. Critical sections are a few dict/heap operations and never
# await, so sharing it costs nothing measurable and makes health shared between pools trivially consistent.
_LOCK = threading.Lock()


class _Health:
    """What is known about one key. Shared by every pool of the same scope (provider + origin) holding the key."""

    __slots__ = (
        "__weakref__",
        "cooldown_failure",
        "cooldown_until",
        "disabled_reason",
        "failures",
        "last_failure",
        "last_used",
        "requests",
        "successes",
    )

    def __init__(self) -> None:
        self.cooldown_until = 0.0
        self.cooldown_failure: Failure | None = None
        self.disabled_reason: str | None = None
        self.requests = 0
        self.successes = 0
        self.failures: dict[Failure, int] = {}
        self.last_failure: Failure | None = None
        self.last_used: float | None = None


_SHARED_HEALTH: weakref.WeakValueDictionary[tuple[str, str], _Health] = weakref.WeakValueDictionary()


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


class _Entry:
    __slots__ = ("health", "index", "key")

    def __init__(self, key: Key, health: _Health, index: int) -> None:
        self.key = key
        self.health = health
        self.index = index


class KeyPool:
    """An ordered pool of API keys and what is known about each.

    Keys are tried in order; rate-limited and quota-exhausted keys cool for as long as the provider says, invalid
    keys are disabled until ``reload()``. A pool is safe to share between threads, asyncio tasks and clients:
    pass it as ``key_pool=`` to share one pool (and its health) between clients.

    ``clock`` is a monotonic seconds clock (injectable for tests). ``scope`` is set by the clients so that pools of
    the same provider and base URL share each key's health; a pool built by hand keeps its own.

    Raises ``ByokConfigError`` for an empty or duplicated key, or a key that is not a ``str`` or ``Key``.
    """

    def __init__(
        self,
        keys: Iterable[str | Key],
        *,
        policy: FailoverPolicy | None = None,
        clock: Clock = time.monotonic,
        scope: str | None = None,
    ) -> None:
        if isinstance(keys, str | Key):
            raise ByokConfigError("KeyPool takes a sequence of keys, not a single key: KeyPool([key])")
        if policy is not None and not isinstance(policy, FailoverPolicy):
            raise ByokConfigError(f"policy must be a FailoverPolicy, not {type(policy).__name__}")
        self._policy = policy or FailoverPolicy()
        self._clock = clock
        self._scope = scope
        self._entries: tuple[_Entry, ...] = ()
        self._ready: list[int] = []
        self._queued: list[bool] = []
        self._cooling: list[tuple[float, int]] = []
        self._install(_coerce_keys(keys), keep={})

    # -- public ---------------------------------------------------------------------------------------------
    @property
    def keys(self) -> tuple[Key, ...]:
        """The keys, in order."""
        return tuple(e.key for e in self._entries)

    @property
    def policy(self) -> FailoverPolicy:
        """The failover policy (cooldowns, retry hints)."""
        return self._policy

    @property
    def scope(self) -> str | None:
        """Where health is shared: ``"<provider> <origin>"`` for pools the clients build, else None."""
        return self._scope

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Key]:
        return iter(self.keys)

    def __repr__(self) -> str:
        labels = ", ".join(e.key.label for e in self._entries[:5])
        more = f", ... +{len(self._entries) - 5}" if len(self._entries) > 5 else ""
        return f"KeyPool([{labels}{more}])"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("KeyPool cannot be pickled: it holds secrets")

    def status(self) -> list[KeyStatus]:
        """A snapshot of every key's health, in pool order."""
        now = self._clock()
        with _LOCK:
            return [_status(e, now) for e in self._entries]

    def status_of(self, key: str | Key) -> KeyStatus:
        """The health of one key, found by label or by ``Key``. Raises ``KeyError`` if it is not in the pool."""
        now = self._clock()
        with _LOCK:
            for e in self._entries:
                if (isinstance(key, Key) and e.key == key) or e.key.label == key:
                    return _status(e, now)
        raise KeyError(key if isinstance(key, str) else key.label)

    def reload(self, keys: Iterable[str | Key]) -> None:
        """Replace the keys atomically. Keys that stay (same value) keep their counters and cooldowns and are
        enabled again; new keys take their place in order; removed keys are never picked again. Requests in
        flight finish with the key they have. Raises ``ByokConfigError`` (and keeps the old keys) on bad input.
        """
        new_keys = _coerce_keys(keys)
        with _LOCK:
            keep = {e.key: e.health for e in self._entries}
        self._install(new_keys, keep=keep)

    # -- used by the failover flow ----------------------------------------------------------------------------
    def _install(self, keys: list[Key], keep: dict[Key, _Health]) -> None:
        entries = []
        for index, key in enumerate(keys):
            health = keep.get(key)
            if health is None and self._scope is not None:
                shared_id = (self._scope, key._digest)
                health = _SHARED_HEALTH.get(shared_id)
                if health is None:
                    health = _SHARED_HEALTH.setdefault(shared_id, _Health())
            if health is None:
                health = _Health()
            health.disabled_reason = None if key in keep else health.disabled_reason
            entries.append(_Entry(key, health, index))
        with _LOCK:
            self._entries = tuple(entries)
            self._ready = list(range(len(entries)))  # already a heap
            self._queued = [True] * len(entries)
            self._cooling = []

    def _select(self, tried: set[int]) -> _Entry | None:
        """The first ready key not yet tried; if none is ready and nothing was tried yet, the non-disabled key
        whose cooldown ends first (a real request beats an invented error). None when nothing is left."""
        now = self._clock()
        with _LOCK:
            entries, ready, cooling, queued = self._entries, self._ready, self._cooling, self._queued
            while cooling and cooling[0][0] <= now:
                _, i = heapq.heappop(cooling)
                h = entries[i].health
                if h.disabled_reason is None and not queued[i]:
                    if h.cooldown_until <= now:
                        queued[i] = True
                        heapq.heappush(ready, i)
                    else:  # another pool sharing this key extended its cooldown
                        heapq.heappush(cooling, (h.cooldown_until, i))
            skipped: list[int] = []
            chosen: _Entry | None = None
            while ready:
                i = ready[0]
                h = entries[i].health
                if h.disabled_reason is not None or h.cooldown_until > now:
                    heapq.heappop(ready)
                    queued[i] = False
                    if h.disabled_reason is None:
                        heapq.heappush(cooling, (h.cooldown_until, i))
                    continue
                if i in tried:
                    skipped.append(heapq.heappop(ready))
                    continue
                chosen = entries[i]
                break
            for i in skipped:
                heapq.heappush(ready, i)
            if chosen is None and not tried:
                chosen = self._earliest_cooling(now)
            if chosen is not None:
                chosen.health.requests += 1
                chosen.health.last_used = now
            return chosen

    def _earliest_cooling(self, now: float) -> _Entry | None:
        cooling, entries = self._cooling, self._entries
        while cooling:
            until, i = cooling[0]
            h = entries[i].health
            if h.disabled_reason is not None or self._queued[i]:
                heapq.heappop(cooling)
                continue
            if h.cooldown_until != until:
                heapq.heapreplace(cooling, (h.cooldown_until, i))
                continue
            return entries[i]
        return None

    def _record_success(self, entry: _Entry) -> None:
        with _LOCK:
            entry.health.successes += 1

    def _record_failure(self, entry: _Entry, verdict: Verdict) -> None:
        now = self._clock()
        policy = self._policy
        with _LOCK:
            h = entry.health
            h.failures[verdict.failure] = h.failures.get(verdict.failure, 0) + 1
            h.last_failure = verdict.failure
            if verdict.failure is Failure.INVALID_KEY:
                h.disabled_reason = verdict.reason or "invalid key"
            elif verdict.failure in (Failure.RATE_LIMITED, Failure.QUOTA_EXHAUSTED):
                default = (
                    policy.rate_limit_cooldown if verdict.failure is Failure.RATE_LIMITED else policy.quota_cooldown
                )
                wait = verdict.retry_after if verdict.retry_after is not None else default
                until = now + max(wait, 0.0)
                if until > h.cooldown_until:
                    h.cooldown_until = until
                    h.cooldown_failure = verdict.failure
                entries = self._entries
                if entry.index < len(entries) and entries[entry.index] is entry:  # not removed by a reload
                    heapq.heappush(self._cooling, (h.cooldown_until, entry.index))

    def _retry_hint(self) -> tuple[bool, float]:
        """(whether a retry can help, seconds until the first key is ready)."""
        now = self._clock()
        with _LOCK:
            soonest: float | None = None
            helpful = False
            for e in self._entries:
                h = e.health
                if h.disabled_reason is not None:
                    continue
                wait = max(h.cooldown_until - now, 0.0)
                if wait == 0.0 or h.cooldown_failure is not Failure.QUOTA_EXHAUSTED:
                    helpful = True
                soonest = wait if soonest is None else min(soonest, wait)
        return helpful, (soonest or 0.0)

    def _disabled(self) -> list[tuple[str, str]]:
        with _LOCK:
            return [(e.key.label, e.health.disabled_reason or "") for e in self._entries]


def _coerce_keys(keys: Iterable[str | Key]) -> list[Key]:
    result: list[Key] = []
    seen: dict[Key, int] = {}
    for position, item in enumerate(keys, start=1):
        if not isinstance(item, str | Key):
            raise ByokConfigError(f"key #{position} must be a str or Key, not {type(item).__name__}")
        if isinstance(item, str) and not item.strip():
            raise ByokConfigError(f"key #{position} is empty")
        key = Key.coerce(item.strip() if isinstance(item, str) else item)
        if key in seen:
            raise ByokConfigError(f"key #{position} ({key.label}) duplicates key #{seen[key]}")
        seen[key] = position
        result.append(key)
    return result


def _status(entry: _Entry, now: float) -> KeyStatus:
    h = entry.health
    cooling_for = max(h.cooldown_until - now, 0.0)
    state: KeyStateName = "disabled" if h.disabled_reason is not None else ("cooling" if cooling_for else "ready")
    return KeyStatus(
        label=entry.key.label,
        fingerprint=entry.key.fingerprint,
        state=state,
        cooling_for=cooling_for,
        cooldown_reason=h.cooldown_failure if cooling_for else None,
        disabled_reason=h.disabled_reason,
        requests=h.requests,
        successes=h.successes,
        failures=dict(h.failures),
        last_failure=h.last_failure,
    )
