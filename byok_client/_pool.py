"""`KeyPool`: the public facade over the core's ``PoolState`` (keys, health, selection) and a ``SourceWatcher``
(loading and watching key sources), with events and stats."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from ._binding import Origin
from ._errors import ByokConfigError
from .core.budget import ON_EXHAUSTED, OnExhausted
from .core.health import Health
from .core.keys import Key, coerce_keys
from .core.policy import FailoverPolicy
from .core.pool import CooldownScope, Limits, PoolState
from .events import EventCallback, PoolEvent  # plain dataclasses: annotations resolve at run time
from .logging import register_keys
from .sources.base import KeySource
from .sources.watch import SourceWatcher
from .stats import CapacityStats, KeyStatus, PoolStats

__all__ = ["KeyPool", "Limits"]

log = logging.getLogger("byok_client")

Clock = Callable[[], float]


class KeyPool(PoolState):
    """A pool of API keys and what is known about each.

    ``strategy`` picks among the ready keys: ``"ordered"`` (default: the first ready key; while it cools, requests
    spread over the others), ``"round_robin"``, ``"weighted"`` (by ``Key.weight``), ``"random"``,
    ``"least_loaded"`` (most remaining requests/tokens the provider reported, then fewest in flight), a callable
    given the usable keys as ``KeyView`` objects, or a list of filters tried in order until one leaves a key (e.g.
    ``[lambda k: k.remaining_requests is None or k.remaining_requests > 100, ALL]``). User strategies run with no
    lock held. Rate-limited and quota-exhausted keys cool for as long as the provider says (capped by the policy's
    ``max_cooldown``); with ``cooldown_scope="model"`` (default) a rate limit on one model leaves the key serving
    other models, where the provider limits per model. Invalid keys are disabled until ``reload()``, and keys at
    their ``max_in_flight`` are passed over. Safe to share between threads, asyncio tasks and clients.

    Keys come either as ``keys`` or from ``sources`` (``byok_client.sources``): a pool of sources re-reads them on
    ``reload()``, when a watched file changes (checked at most once per ``check_interval`` seconds) and every
    source's ``refresh_interval``. A refresh that fails keeps the previous keys and logs the error.

    ``allowed_origins`` lists extra origins (``https://host[:port]``) a client may send this pool's keys to (a
    regional endpoint, a proxy); otherwise keys go only to the base URL a client was built with. ``state`` shares
    key health with other processes: a ``redis://`` / ``rediss://`` URL or a ``StateBackend`` (extra ``redis``);
    it needs a ``scope`` (clients give one).
    ``on_exhausted`` says what a request does when every key is spent (cooling, or out of the budget learned
    from the provider's rate-limit headers or set by ``Key(rpm=, tpm=, rpd=)``): ``"wait"`` (default) waits for
    the first unit of budget, up to ``max_wait`` seconds, in arrival order (async waits never block the loop);
    ``"fail"`` answers at once, without a round trip, with a client-side 429 the SDK raises as its own
    ``RateLimitError`` (header ``x-byok-decided: client``, and a ``retry-after-ms`` its retry loop honours);
    ``"send"`` sends to the key ready soonest, as before 0.x. A wait past ``max_wait`` takes the ``fail`` path.
    ``capacity_threshold``/``capacity_window``: ``PoolCapacityLow`` fires (once, logged at WARNING) when more than
    that share of keys has been spent for longer than that many seconds, ``PoolCapacityRestored`` when it ends.

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
        cooldown_scope: CooldownScope = "model",
        allowed_origins: Iterable[str] | None = None,
        state: Any = None,
        on_exhausted: OnExhausted = "wait",
        max_wait: float = 10.0,
        capacity_threshold: float = 0.75,
        capacity_window: float = 10.0,
        _loaded: list[Key] | None = None,
    ) -> None:
        if isinstance(keys, str | Key):
            raise ByokConfigError("KeyPool takes a sequence of keys, not a single key: KeyPool([key])")
        if (keys is None) == (sources is None):
            raise ByokConfigError("KeyPool takes either keys or sources=")
        if sources is not None and not all(isinstance(s, KeySource) for s in sources):
            raise ByokConfigError("sources must be byok_client.sources.KeySource instances")
        from ._binding import parse_origins

        self._allowed_origins = parse_origins(allowed_origins)
        backend = None
        if state is not None:
            from .state import shared_state

            backend = shared_state(state)
        super().__init__(strategy, policy, clock, scope, cooldown_scope, state=backend)
        self._set_capacity(on_exhausted, max_wait, capacity_threshold, capacity_window)
        self._listeners: list[EventCallback] = []
        if on_event is not None:
            for callback in [on_event] if callable(on_event) else on_event:
                self.subscribe(callback)
        self._watcher = SourceWatcher(sources or (), clock, check_interval)
        if keys is not None:
            initial = coerce_keys(keys)
        elif _loaded is not None:
            initial = coerce_keys(self._watcher.adopt(_loaded))
        else:
            initial = coerce_keys(self._watcher.load())
        self._install(initial, keep={})
        register_keys(initial)  # so KeyScrubFilter knows their values

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
        cooldown_scope: CooldownScope = "model",
        allowed_origins: Iterable[str] | None = None,
        state: Any = None,
        on_exhausted: OnExhausted = "wait",
        max_wait: float = 10.0,
        capacity_threshold: float = 0.75,
        capacity_window: float = 10.0,
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
                cooldown_scope=cooldown_scope,
                allowed_origins=allowed_origins,
                state=state,
                on_exhausted=on_exhausted,
                max_wait=max_wait,
                capacity_threshold=capacity_threshold,
                capacity_window=capacity_window,
                _loaded=loaded,
            )
        )

    # -- public ---------------------------------------------------------------------------------------------
    @property
    def allowed_origins(self) -> frozenset[Origin]:
        """Origins besides a client's own base URL that may receive this pool's keys (``allowed_origins=``)."""
        return self._allowed_origins

    @property
    def state(self) -> Any:
        """The backend that shares this pool's key health with other processes (None: this process only)."""
        return self._shared.backend

    @property
    def on_exhausted(self) -> OnExhausted:
        """What a request does when every key is spent: ``"wait"``, ``"fail"`` or ``"send"``."""
        return self._on_exhausted  # type: ignore[return-value]

    @property
    def max_wait(self) -> float:
        """The longest a request waits for budget (``on_exhausted="wait"``) before the fail path."""
        return self._max_wait

    @property
    def sources(self) -> tuple[KeySource, ...]:
        """Where the keys come from (empty for a pool of fixed keys)."""
        return self._watcher.sources

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback`` with every event of this pool; returns a function that unsubscribes it."""
        if not callable(callback):
            raise ByokConfigError(f"on_event callbacks must be callable, not {type(callback).__name__}")
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

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

    def stats(self) -> PoolStats:
        """A typed snapshot of the pool that renders as a table (notebook, rich, or ``str()``)."""
        from .stats import PoolStats

        return PoolStats(tuple(self.status()), self.strategy, self._scope, self._capacity_stats())

    def status_of(self, key: str | Key) -> KeyStatus:
        """The health of one key, found by label or by ``Key``. Raises ``KeyError`` if it is not in the pool."""
        for entry, status in zip(self._entries, self.status(), strict=False):
            if (isinstance(key, Key) and entry.key == key) or entry.key.label == key:
                return status
        raise KeyError(key if isinstance(key, str) else key.label)

    def reload(self, keys: Iterable[str | Key] | None = None) -> None:
        """Replace the keys atomically: with ``keys``, or by re-reading the sources. Keys that stay (same value)
        keep their label, counters and cooldowns and are enabled again; new keys take their place in order;
        removed keys are never picked again. Requests in flight finish with the key they have. Raises
        ``ByokConfigError`` (and keeps the old keys) on bad input or when the sources fail or yield no key.
        """
        self._apply(coerce_keys(keys, self.keys) if keys is not None else self._watcher.load(), enable=True)

    async def areload(self) -> None:
        """``reload()`` from the sources without blocking the event loop."""
        self._apply(await self._watcher.aload(), enable=True)

    def refresh_if_due(self) -> None:
        """Re-read the sources if a watched file changed or a refresh interval passed (checked at most once per
        ``check_interval``, by one thread; the others go on). Errors are logged and the previous keys kept. Called
        by the sync transports before a request, outside any lock."""
        watcher = self._watcher
        if not watcher.due() or not watcher.try_begin():
            return
        try:
            if watcher.changed():
                try:
                    self._apply(watcher.load())
                except ByokConfigError as exc:
                    log.error("key reload failed, keeping the %d previous keys: %s", len(self._entries), exc)
        finally:
            watcher.end()

    async def arefresh_if_due(self) -> None:
        """``refresh_if_due()`` for the event loop: file checks and reads run in a worker thread."""
        watcher = self._watcher
        if not watcher.due() or not watcher.try_begin():
            return
        try:
            if await asyncio.to_thread(watcher.changed):
                try:
                    self._apply(await watcher.aload())
                except ByokConfigError as exc:
                    log.error("key reload failed, keeping the %d previous keys: %s", len(self._entries), exc)
        finally:
            watcher.end()

    # -- internals -------------------------------------------------------------------------------------------
    def _set_capacity(self, on_exhausted: object, max_wait: object, threshold: object, window: object) -> None:
        if on_exhausted not in ON_EXHAUSTED:
            raise ByokConfigError(f"on_exhausted must be 'wait', 'fail' or 'send', not {on_exhausted!r}")
        for name, value in (("max_wait", max_wait), ("capacity_window", window)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
                raise ByokConfigError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold < 1:
            raise ByokConfigError(f"capacity_threshold must be a share in [0, 1), got {threshold!r}")
        self._on_exhausted = str(on_exhausted)
        self._max_wait = float(max_wait)  # type: ignore[arg-type]
        self._capacity.threshold = float(threshold)
        self._capacity.window = float(window)  # type: ignore[arg-type]

    def _capacity_stats(self) -> CapacityStats:
        from .stats import CapacityStats

        now = self._clock()
        with self._lock:
            monitor = self._capacity
            offered, served = monitor.rates(now)
            return CapacityStats(
                on_exhausted=self.on_exhausted,
                max_wait=self._max_wait,
                offered=monitor.offered,
                served=monitor.served,
                offered_rate=offered,
                served_rate=served,
                waited=monitor.waited,
                wait_seconds=monitor.wait_seconds,
                rejected=monitor.rejected,
                exhausted_seconds=monitor.exhausted_seconds,
                spent_share=monitor.share,
                low=monitor.low,
                low_for=now - monitor.low_since if monitor.low_since is not None else None,
            )

    def _apply(self, loaded: list[Key], enable: bool = False) -> None:
        """Install ``loaded``; ``enable`` re-enables disabled keys that stay (an explicit reload). An automatic
        refresh keeps them disabled: the same value was revoked a minute ago, and still is."""
        new_keys = coerce_keys(loaded)
        with self._lock:
            keep: dict[Key, Health] = {e.key: e.health for e in self._entries}
            before = [e.key.label for e in self._entries]
            revived = [e.key.label for e in self._entries if enable and e.health.disabled_reason is not None]
        self._install(new_keys, keep=keep, enable=enable)
        register_keys(new_keys)
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

    def _deliver(self, events: list[PoolEvent], extra: Sequence[EventCallback]) -> None:
        """Hand ``events`` to this pool's listeners and ``extra`` ones; a listener that raises is logged."""
        for callback in (*self._listeners, *extra):
            for event in events:
                try:
                    callback(event)
                except Exception:
                    log.exception("on_event callback %r raised on %s", callback, type(event).__name__)
