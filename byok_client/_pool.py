"""`KeyPool`: ordered keys, their health, and selection in O(log n) per request."""

from __future__ import annotations

import asyncio
import heapq
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ._errors import ByokConfigError
from ._keys import Key
from ._policy import FailoverPolicy, Failure, Verdict
from .sources.base import KeySource

__all__ = ["KeyPool", "KeyStatus"]

log = logging.getLogger("byok_client")

Clock = Callable[[], float]
FileSignature = tuple[int, int] | None
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

    Keys come either as ``keys`` or from ``sources`` (``byok_client.sources``: env, files, secret stores,
    callables): a pool of sources re-reads them on ``reload()``, when a watched file changes (checked at most once per
    ``check_interval`` seconds, on the request path) and every source's ``refresh_interval``. A refresh that fails
    keeps the previous keys and logs the error; it never empties the pool.

    ``clock`` is a monotonic seconds clock (injectable for tests). ``scope`` is set by the clients so that pools of
    the same provider and base URL share each key's health; a pool built by hand keeps its own.

    Raises ``ByokConfigError`` for an empty or duplicated key, a key that is not a ``str`` or ``Key``, or sources
    that fail or yield no key.
    """

    def __init__(
        self,
        keys: Iterable[str | Key] | None = None,
        *,
        sources: Sequence[KeySource] | None = None,
        policy: FailoverPolicy | None = None,
        clock: Clock = time.monotonic,
        scope: str | None = None,
        check_interval: float = 1.0,
        _loaded: list[Key] | None = None,
    ) -> None:
        if isinstance(keys, str | Key):
            raise ByokConfigError("KeyPool takes a sequence of keys, not a single key: KeyPool([key])")
        if (keys is None) == (sources is None):
            raise ByokConfigError("KeyPool takes either keys or sources=")
        if sources is not None and not all(isinstance(s, KeySource) for s in sources):
            raise ByokConfigError("sources must be byok_client.sources.KeySource instances")
        if policy is not None and not isinstance(policy, FailoverPolicy):
            raise ByokConfigError(f"policy must be a FailoverPolicy, not {type(policy).__name__}")
        self._policy = policy or FailoverPolicy()
        self._clock = clock
        self._scope = scope
        self._entries: tuple[_Entry, ...] = ()
        self._ready: list[int] = []
        self._queued: list[bool] = []
        self._cooling: list[tuple[float, int]] = []
        self._sources: tuple[KeySource, ...] = tuple(sources or ())
        self._check_interval = check_interval
        self._next_check = clock() + check_interval
        intervals = [s.refresh_interval for s in self._sources if s.refresh_interval]
        self._refresh_interval: float | None = min(intervals) if intervals else None
        self._next_timed = clock() + (self._refresh_interval or 0.0)
        self._files: dict[str, FileSignature] = {}
        self._refreshing = threading.Lock()
        if keys is not None:
            initial = _coerce_keys(keys)
        elif _loaded is not None:
            initial = self._checked(_loaded)
            self._watch(self._signatures())
        else:
            initial = self._load_sources()
        self._install(initial, keep={})

    @classmethod
    async def acreate(
        cls,
        *,
        sources: Sequence[KeySource],
        policy: FailoverPolicy | None = None,
        clock: Clock = time.monotonic,
        scope: str | None = None,
        check_interval: float = 1.0,
    ) -> KeyPool:
        """A pool of ``sources`` built inside an event loop: async sources are awaited, files read off the loop."""
        loaded = [key for source in sources for key in await source.aload()]
        return await asyncio.to_thread(
            cls,
            sources=sources,
            policy=policy,
            clock=clock,
            scope=scope,
            check_interval=check_interval,
            _loaded=loaded,
        )

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

    @property
    def sources(self) -> tuple[KeySource, ...]:
        """Where the keys come from (empty for a pool of fixed keys)."""
        return self._sources

    def reload(self, keys: Iterable[str | Key] | None = None) -> None:
        """Replace the keys atomically: with ``keys``, or by re-reading the sources. Keys that stay (same value)
        keep their counters and cooldowns and are enabled again; new keys take their place in order; removed keys
        are never picked again. Requests in flight finish with the key they have. Raises ``ByokConfigError`` (and
        keeps the old keys) on bad input or when the sources fail or yield no key.
        """
        self._apply(_coerce_keys(keys) if keys is not None else self._load_sources(), enable=True)

    async def areload(self) -> None:
        """``reload()`` from the sources without blocking the event loop."""
        self._apply(await self._aload_sources(), enable=True)

    def refresh_if_due(self) -> None:
        """Re-read the sources if a watched file changed or a refresh interval passed (checked at most once per
        ``check_interval``). Errors are logged and the previous keys kept. Called by the transports per request."""
        if not self._sources or self._clock() < self._next_check:
            return
        if not self._refreshing.acquire(blocking=False):
            return  # another thread is checking; this request uses the keys as they are
        try:
            if self._should_reload():
                try:
                    self._apply(self._load_sources())
                except ByokConfigError as exc:
                    log.error("key reload failed, keeping the %d previous keys: %s", len(self._entries), exc)
        finally:
            self._refreshing.release()

    async def arefresh_if_due(self) -> None:
        """``refresh_if_due()`` for the event loop: file checks and reads run in a worker thread."""
        if not self._sources or self._clock() < self._next_check:
            return
        if not self._refreshing.acquire(blocking=False):
            return
        try:
            if await asyncio.to_thread(self._should_reload):
                try:
                    self._apply(await self._aload_sources())
                except ByokConfigError as exc:
                    log.error("key reload failed, keeping the %d previous keys: %s", len(self._entries), exc)
        finally:
            self._refreshing.release()

    # -- sources ------------------------------------------------------------------------------------------------
    def _should_reload(self) -> bool:
        now = self._clock()
        self._next_check = now + self._check_interval
        if self._refresh_interval is not None and now >= self._next_timed:
            return True
        return any(_signature(path) != sig for path, sig in self._files.items())

    def _signatures(self) -> dict[str, FileSignature]:
        return {str(f): _signature(str(f)) for s in self._sources for f in s.watched_files()}

    def _watch(self, before: dict[str, FileSignature]) -> None:
        """Remember the files to watch: known ones as they were before the read (so a change during the read is
        seen next time), files the read just learned of (a config's secret files) as they are now."""
        self._files = {path: before.get(path, sig) for path, sig in self._signatures().items()}
        if self._refresh_interval is not None:
            self._next_timed = self._clock() + self._refresh_interval

    def _load_sources(self) -> list[Key]:
        before = self._signatures()
        keys = self._checked([key for source in self._sources for key in source.load()])
        self._watch(before)
        return keys

    async def _aload_sources(self) -> list[Key]:
        before = await asyncio.to_thread(self._signatures)
        keys = self._checked([key for source in self._sources for key in await source.aload()])
        await asyncio.to_thread(self._watch, before)
        return keys

    def _checked(self, keys: list[Key]) -> list[Key]:
        if not keys:
            names = ", ".join(s.name for s in self._sources)
            raise ByokConfigError(f"the key sources returned no keys ({names})")
        return _coerce_keys(keys)

    def _apply(self, new_keys: list[Key], enable: bool = False) -> None:
        """Install ``new_keys``; ``enable`` re-enables disabled keys that stay (an explicit reload). An automatic
        refresh keeps them disabled: the same value was revoked a minute ago, and still is."""
        with _LOCK:
            keep = {e.key: e.health for e in self._entries}
            before = [e.key.label for e in self._entries]
        self._install(new_keys, keep=keep, enable=enable)
        after = [k.label for k in new_keys]
        if before != after:
            log.info("keys reloaded: %d keys (%s)", len(after), ", ".join(after))

    # -- used by the failover flow ----------------------------------------------------------------------------
    def _install(self, keys: list[Key], keep: dict[Key, _Health], enable: bool = False) -> None:
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
            if enable and key in keep:
                health.disabled_reason = None
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


def _signature(path: str) -> FileSignature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


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
