"""`KeyPool`: keys, their health, a selection strategy, and reloading from sources."""

from __future__ import annotations

import asyncio
import heapq
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from ._errors import ByokConfigError
from .core.health import Health
from .core.keys import Key
from .core.policy import FailoverPolicy, Failure, Verdict
from .logging import register_keys
from .sources.base import KeySource

if TYPE_CHECKING:
    from ._strategies import KeyView, Selector
    from .events import EventCallback, PoolEvent
    from .stats import KeyStatus, PoolStats

    Emit = Callable[[list[PoolEvent]], None]

# events, stats and strategies are imported where first used: importing byok_client stays cheap.

__all__ = ["KeyPool", "Limits"]

log = logging.getLogger("byok_client")

Clock = Callable[[], float]
FileSignature = tuple[int, int] | None
Limits = tuple[int | None, int | None, float | None, float | None]
"""What a response said of the key's limits: remaining requests, remaining tokens, seconds until each resets."""

# One lock for all health and selection state. Critical sections are a few dict/heap operations and never
# await, so sharing it costs nothing measurable and makes health shared between pools trivially consistent.
_LOCK = threading.Lock()
_SHARED_HEALTH: weakref.WeakValueDictionary[tuple[str, str], Health] = weakref.WeakValueDictionary()
_PLENTY = float(2**62)


class _Entry:
    __slots__ = ("health", "index", "key")

    def __init__(self, key: Key, health: Health, index: int) -> None:
        self.key = key
        self.health = health
        self.index = index


class KeyPool:
    """A pool of API keys and what is known about each.

    ``strategy`` picks among the ready keys: ``"ordered"`` (default: the first ready key; while it cools, requests
    spread over the others), ``"round_robin"``, ``"weighted"`` (by ``Key.weight``), ``"random"``,
    ``"least_loaded"`` (most remaining requests/tokens the provider reported, then fewest in flight), a callable
    given the usable keys as ``KeyView`` objects, or a list of filters tried in order until one leaves a key (e.g.
    ``[lambda k: k.remaining_requests is None or k.remaining_requests > 100, ALL]``). Rate-limited and
    quota-exhausted keys cool for as long as the provider says (or until a reported limit resets), invalid keys are
    disabled until ``reload()``, and keys at their ``max_in_flight`` are passed over. Safe to share between threads,
    asyncio tasks and clients.

    Keys come either as ``keys`` or from ``sources`` (``byok_client.sources``): a pool of sources re-reads them on
    ``reload()``, when a watched file changes (checked at most once per ``check_interval`` seconds, on the request
    path) and every source's ``refresh_interval``. A refresh that fails keeps the previous keys and logs the error.

    ``on_event`` receives typed events (``byok_client.events``). ``clock`` is a monotonic seconds clock
    (injectable for tests). ``scope`` is set by the clients so that pools of the same provider and base URL share
    each key's health; a pool built by hand keeps its own.

    Raises ``ByokConfigError`` for an empty or duplicated key, a key that is not a ``str`` or ``Key``, an unknown
    strategy, or sources that fail or yield no key.
    """

    def __init__(
        self,
        keys: Iterable[str | Key] | None = None,
        *,
        sources: Sequence[KeySource] | None = None,
        strategy: Any = "ordered",
        policy: FailoverPolicy | None = None,
        clock: Clock = time.monotonic,
        scope: str | None = None,
        check_interval: float = 1.0,
        on_event: EventCallback | Sequence[EventCallback] | None = None,
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
        from ._strategies import make_selector

        try:
            self._selector: Selector = make_selector(strategy, self._load_of, self._views, random.Random())
        except ValueError as exc:
            raise ByokConfigError(str(exc)) from None
        self._strategy = strategy
        self._policy = policy or FailoverPolicy()
        self._clock = clock
        self._scope = scope
        self._listeners: list[EventCallback] = []
        if on_event is not None:
            for callback in [on_event] if callable(on_event) else on_event:
                self.subscribe(callback)
        self._entries: tuple[_Entry, ...] = ()
        self._cooling: list[tuple[float, int]] = []
        self._saturated: set[int] = set()
        self._pending_release: list[_Entry] = []  # appended by finalizers of streams nobody closed
        self._disabled_count = 0
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
        strategy: Any = "ordered",
        policy: FailoverPolicy | None = None,
        clock: Clock = time.monotonic,
        scope: str | None = None,
        check_interval: float = 1.0,
        on_event: EventCallback | Sequence[EventCallback] | None = None,
    ) -> KeyPool:
        """A pool of ``sources`` built inside an event loop: async sources are awaited, files read off the loop."""
        loaded = [key for source in sources for key in await source.aload()]
        return await asyncio.to_thread(
            lambda: cls(
                sources=sources,
                strategy=strategy,
                policy=policy,
                clock=clock,
                scope=scope,
                check_interval=check_interval,
                on_event=on_event,
                _loaded=loaded,
            )
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
    def strategy(self) -> str:
        """The selection strategy's name (``custom`` for a callable or filter list)."""
        return self._selector.name

    @property
    def scope(self) -> str | None:
        """Where health is shared: ``"<provider> <origin>"`` for pools the clients build, else None."""
        return self._scope

    @property
    def sources(self) -> tuple[KeySource, ...]:
        """Where the keys come from (empty for a pool of fixed keys)."""
        return self._sources

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback`` with every event of this pool; returns a function that unsubscribes it."""
        if not callable(callback):
            raise ByokConfigError(f"on_event callbacks must be callable, not {type(callback).__name__}")
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

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

    def _repr_html_(self) -> str:
        return self.stats()._repr_html_()

    def __rich__(self) -> Any:
        return self.stats().__rich__()

    def status(self) -> list[KeyStatus]:
        """A snapshot of every key's health, in pool order."""
        now = self._clock()
        with _LOCK:
            return [_status(e, now) for e in self._entries]

    def stats(self) -> PoolStats:
        """A typed snapshot of the pool that renders as a table (notebook, rich, or ``str()``)."""
        from .stats import PoolStats

        return PoolStats(tuple(self.status()), self.strategy, self._scope)

    def status_of(self, key: str | Key) -> KeyStatus:
        """The health of one key, found by label or by ``Key``. Raises ``KeyError`` if it is not in the pool."""
        now = self._clock()
        with _LOCK:
            for e in self._entries:
                if (isinstance(key, Key) and e.key == key) or e.key.label == key:
                    return _status(e, now)
        raise KeyError(key if isinstance(key, str) else key.label)

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

    # -- sources --------------------------------------------------------------------------------------------
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
            revived = [e.key.label for e in self._entries if enable and e.health.disabled_reason is not None]
        self._install(new_keys, keep=keep, enable=enable)
        after = [k.label for k in new_keys]
        if before == after and not revived:
            return
        log.info("keys reloaded: %d keys (%s)", len(after), ", ".join(after))
        if self._listeners:
            from .events import KeyRecovered, KeysReloaded

            provider = (self._scope or "").split(" ")[0]
            events: list[PoolEvent] = [
                KeysReloaded(
                    provider,
                    tuple(after),
                    tuple(label for label in after if label not in before),
                    tuple(label for label in before if label not in after),
                )
            ]
            events += [KeyRecovered(provider, label) for label in revived if label in after]
            self._deliver(events, ())

    def _install(self, keys: list[Key], keep: dict[Key, Health], enable: bool = False) -> None:
        entries = []
        with _LOCK:  # one lock with the registry: two pools built at once for the same key share one health
            for index, key in enumerate(keys):
                health = keep.get(key)
                if health is None and self._scope is not None:
                    shared_id = (self._scope, key._digest)
                    health = _SHARED_HEALTH.get(shared_id)
                    if health is None:
                        health = _SHARED_HEALTH[shared_id] = Health()
                if health is None:
                    health = Health()
                if enable and key in keep:
                    health.disabled_reason = None
                entries.append(_Entry(key, health, index))
            self._entries = tuple(entries)
            self._cooling = []
            self._saturated = set()
            self._selector.reset([e.key.weight for e in entries])
            self._disabled_count = 0
            for e in entries:
                if e.health.disabled_reason is not None:
                    self._selector.disable(e.index)
                    self._disabled_count += 1
        register_keys(keys)  # so KeyScrubFilter knows their values

    # -- used by the failover flow (under the lock unless said otherwise) --------------------------------------
    def _load_of(self, i: int) -> tuple[float, float, int]:
        h = self._entries[i].health
        requests = _PLENTY if h.remaining_requests is None else float(h.remaining_requests)
        tokens = _PLENTY if h.remaining_tokens is None else float(h.remaining_tokens)
        return requests, tokens, h.in_flight

    def _views(self, skip: set[int], usable: Callable[[int], bool]) -> list[KeyView]:
        from ._strategies import KeyView

        now = self._clock()
        views = []
        for e in self._entries:
            if e.index in skip or not usable(e.index):
                continue
            h = e.health
            total, limited, timeout = h.rates(now)
            views.append(
                KeyView(
                    e.index,
                    e.key.label,
                    e.key.weight,
                    h.in_flight,
                    h.remaining_requests,
                    h.remaining_tokens,
                    total,
                    limited,
                    timeout,
                    h.requests,
                )
            )
        return views

    def _select(self, tried: set[int], emit: Emit | None = None, provider: str = "", path: str = "") -> _Entry | None:
        """The key for the next attempt: the strategy's pick among ready keys not yet tried; if none is ready and
        nothing was tried yet, the non-disabled key whose cooldown ends first (a real request beats an invented
        error). None when nothing is left. The chosen key counts one more request in flight."""
        now = self._clock()
        events: list[PoolEvent] | None = [] if emit is not None else None
        with _LOCK:
            pending = self._pending_release
            while pending:
                self._release_locked(pending.pop())
            entries, cooling, selector = self._entries, self._cooling, self._selector
            while cooling and cooling[0][0] <= now:
                _, i = heapq.heappop(cooling)
                h = entries[i].health
                if h.disabled_reason is not None:
                    continue
                if h.cooldown_until > now:  # another pool sharing this key extended its cooldown
                    heapq.heappush(cooling, (h.cooldown_until, i))
                    continue
                if h.cooldown_failure is not None:
                    if events is not None:
                        from .events import KeyRecovered

                        events.append(KeyRecovered(provider, entries[i].key.label, h.cooldown_failure, 0.0, path))
                    h.cooldown_failure = None
                selector.add(i)

            def usable(i: int) -> bool:
                entry = entries[i]
                h = entry.health
                if h.disabled_reason is not None:
                    return False
                if h.cooldown_until > now:
                    heapq.heappush(cooling, (h.cooldown_until, i))
                    return False
                limit = entry.key.max_in_flight
                if limit is not None and h.in_flight >= limit:
                    self._saturated.add(i)
                    return False
                return True

            index = selector.pick(tried, usable)
            chosen = entries[index] if index is not None else None
            if chosen is None and not tried:
                chosen = self._earliest_cooling() or self._least_busy_saturated()
            if chosen is not None:
                h = chosen.health
                h.requests += 1
                h.in_flight += 1
                h.last_used = now
                if selector.wants_touch:
                    selector.touch(chosen.index)
        if events:
            assert emit is not None
            emit(events)
        return chosen

    def _least_busy_saturated(self) -> _Entry | None:
        """Every usable key is at its max_in_flight: the cap is soft, the key with the fewest in flight serves."""
        candidates = [self._entries[i] for i in self._saturated if self._entries[i].health.disabled_reason is None]
        return min(candidates, key=lambda e: (e.health.in_flight, e.index)) if candidates else None

    def _earliest_cooling(self) -> _Entry | None:
        cooling, entries = self._cooling, self._entries
        while cooling:
            until, i = cooling[0]
            h = entries[i].health
            if h.disabled_reason is not None:
                heapq.heappop(cooling)
                continue
            if h.cooldown_until != until:
                heapq.heapreplace(cooling, (h.cooldown_until, i))
                continue
            return entries[i]
        return None

    def _release(self, entry: _Entry) -> None:
        """The attempt on ``entry`` is over (its response was read or failed): one fewer in flight."""
        with _LOCK:
            self._release_locked(entry)

    def _release_locked(self, entry: _Entry) -> None:
        h = entry.health
        if h.in_flight > 0:
            h.in_flight -= 1
        if (self._saturated or self._selector.wants_touch) and self._current(entry):
            i = entry.index
            if i in self._saturated:
                self._saturated.discard(i)
                self._selector.add(i)
            self._selector.touch(i)

    def _current(self, entry: _Entry) -> bool:
        entries = self._entries
        return entry.index < len(entries) and entries[entry.index] is entry  # not removed by a reload

    def _record_success(
        self, entry: _Entry, limits: Limits | None, emit: Emit | None = None, provider: str = "", path: str = ""
    ) -> None:
        now = self._clock()
        events: list[PoolEvent] | None = [] if emit is not None else None
        with _LOCK:
            h = entry.health
            h.successes += 1
            h.record(now, None)
            if limits is not None:
                self._apply_limits(entry, limits, now, events, provider, path)
        if events:
            assert emit is not None
            emit(events)

    def _apply_limits(
        self, entry: _Entry, limits: Limits, now: float, events: list[PoolEvent] | None, provider: str, path: str
    ) -> None:
        """Remember what the provider reported; a key with no requests (or tokens) left cools until the reset,
        before it ever gets a 429."""
        h = entry.health
        requests, tokens, requests_reset, tokens_reset = limits
        h.remaining_requests, h.remaining_tokens = requests, tokens
        h.requests_reset_at = now + requests_reset if requests_reset is not None else None
        h.tokens_reset_at = now + tokens_reset if tokens_reset is not None else None
        wait = 0.0
        if requests == 0 and requests_reset:
            wait = requests_reset
        if tokens == 0 and tokens_reset and tokens_reset > wait:
            wait = tokens_reset
        if wait > 0:
            self._cool(entry, Failure.RATE_LIMITED, wait, now, events, provider, path)
        elif self._selector.wants_touch and self._current(entry):
            self._selector.touch(entry.index)

    def _cool(
        self,
        entry: _Entry,
        failure: Failure,
        wait: float,
        now: float,
        events: list[PoolEvent] | None,
        provider: str,
        path: str,
    ) -> None:
        h = entry.health
        was_ready = h.cooldown_until <= now
        until = now + max(wait, 0.0)
        if until > h.cooldown_until:
            h.cooldown_until = until
            h.cooldown_failure = failure
        if self._current(entry):
            self._selector.remove(entry.index)
            heapq.heappush(self._cooling, (h.cooldown_until, entry.index))
        if was_ready and events is not None:
            from .events import KeyQuotaExhausted, KeyRateLimited

            kind = KeyRateLimited if failure is Failure.RATE_LIMITED else KeyQuotaExhausted
            events.append(kind(provider, entry.key.label, failure, h.cooldown_until - now, path))

    def _record_failure(
        self, entry: _Entry, verdict: Verdict, limits: Limits | None, emit: Emit | None, provider: str, path: str
    ) -> None:
        now = self._clock()
        policy = self._policy
        events: list[PoolEvent] | None = [] if emit is not None else None
        with _LOCK:
            h = entry.health
            h.failures[verdict.failure] = h.failures.get(verdict.failure, 0) + 1
            h.last_failure = verdict.failure
            h.record(now, verdict.failure)
            if limits is not None:
                h.remaining_requests, h.remaining_tokens = limits[0], limits[1]
            if verdict.failure is Failure.INVALID_KEY:
                if h.disabled_reason is None:
                    h.disabled_reason = verdict.reason or "invalid key"
                    if self._current(entry):
                        self._selector.disable(entry.index)
                        self._disabled_count += 1
                    if events is not None:
                        from .events import KeyDisabled

                        events.append(
                            KeyDisabled(provider, entry.key.label, verdict.failure, None, path, h.disabled_reason)
                        )
            elif verdict.failure in (Failure.RATE_LIMITED, Failure.QUOTA_EXHAUSTED):
                default = (
                    policy.rate_limit_cooldown if verdict.failure is Failure.RATE_LIMITED else policy.quota_cooldown
                )
                wait = verdict.retry_after if verdict.retry_after is not None else default
                self._cool(entry, verdict.failure, wait, now, events, provider, path)
        if events:
            assert emit is not None
            emit(events)

    def _record_error(self, entry: _Entry) -> None:
        """A connection error or timeout: counted, not blamed on the key (the SDK's retry loop decides)."""
        with _LOCK:
            entry.health.timeouts += 1
            entry.health.record(self._clock(), None, timeout=True)

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

    def _all_disabled(self) -> bool:
        return bool(self._entries) and self._disabled_count >= len(self._entries)

    def _disabled(self) -> list[tuple[str, str]]:
        with _LOCK:
            return [(e.key.label, e.health.disabled_reason or "") for e in self._entries]

    def _deliver(self, events: list[PoolEvent], extra: Sequence[EventCallback]) -> None:
        """Hand ``events`` to this pool's listeners and ``extra`` ones; a listener that raises is logged."""
        for callback in (*self._listeners, *extra):
            for event in events:
                try:
                    callback(event)
                except Exception:
                    log.exception("on_event callback %r raised on %s", callback, type(event).__name__)


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
    from .stats import ErrorRates, KeyStatus

    h = entry.health
    cooling_for = max(h.cooldown_until - now, 0.0)
    state: Literal["ready", "cooling", "disabled"] = (
        "disabled" if h.disabled_reason is not None else ("cooling" if cooling_for else "ready")
    )
    total, limited, timeout = h.rates(now)
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
        timeouts=h.timeouts,
        last_used_ago=now - h.last_used if h.last_used is not None else None,
        in_flight=h.in_flight,
        weight=entry.key.weight,
        max_in_flight=entry.key.max_in_flight,
        remaining_requests=h.remaining_requests,
        remaining_tokens=h.remaining_tokens,
        requests_reset_in=max(h.requests_reset_at - now, 0.0) if h.requests_reset_at is not None else None,
        tokens_reset_in=max(h.tokens_reset_at - now, 0.0) if h.tokens_reset_at is not None else None,
        error_rate=ErrorRates(total, limited, timeout),
    )
