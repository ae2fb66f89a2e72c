"""`PoolState`: a pool's keys, their health and the selection bookkeeping. Pure: no I/O, no sources.

Every method that touches health takes the scope's lock for a few dict/heap operations and returns; user
strategies run outside it (on a snapshot of key views), events are built under it and delivered after it.
"""

from __future__ import annotations

import heapq
import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from .._errors import ByokConfigError
from ..events import PoolEvent  # plain dataclasses: cheap, and annotations resolve at run time
from ..stats import KeyStatus
from .budget import (
    DEFAULT_OUTPUT_TOKENS,
    FAR_REQUESTS,
    FAR_TOKENS,
    Budgets,
    CapacityMonitor,
    Demand,
    Reject,
    budgets_for,
)
from .health import Health, ModelHealth
from .keys import Key
from .policy import FailoverPolicy, Failure, Verdict
from .registry import SCOPES, Scope, ScopeRegistry
from .selection import FilterSelector, KeyView, Selector, make_selector
from .state import StateBackend, StateChange

__all__ = ["CooldownScope", "Limits", "PoolState"]

Clock = Callable[[], float]
Limits = tuple[int | None, int | None, float | None, float | None]
"""What a response said of the key's limits: remaining requests, remaining tokens, seconds until each resets."""
CooldownScope = Literal["model", "key"]

_PLENTY = float(2**62)
log = logging.getLogger("byok_client")


class _Entry:
    __slots__ = ("health", "index", "key", "queued_until")

    def __init__(self, key: Key, health: Health, index: int) -> None:
        self.key = key
        self.health = health
        self.index = index
        self.queued_until = -1.0  # the cooldown end this entry sits in the cooling heap with (-1: not queued)


class PoolState:
    """Keys in order, their shared health, the strategy's view of which are ready, and the records of attempts."""

    _on_exhausted = "send"
    """What a request does when no key has budget: ``wait``, ``fail`` or ``send`` (see ``core.budget``)."""
    _max_wait = 10.0
    """The longest a ``wait`` request waits for budget; past it, the ``fail`` path."""

    def __init__(
        self,
        strategy: Any = "ordered",
        policy: FailoverPolicy | None = None,
        clock: Clock = time.monotonic,
        scope: str | None = None,
        cooldown_scope: CooldownScope = "model",
        registry: ScopeRegistry | None = None,
        state: StateBackend | None = None,
    ) -> None:
        if policy is not None and not isinstance(policy, FailoverPolicy):
            raise ByokConfigError(f"policy must be a FailoverPolicy, not {type(policy).__name__}")
        if cooldown_scope not in ("model", "key"):
            raise ByokConfigError(f"cooldown_scope must be 'model' or 'key', not {cooldown_scope!r}")
        try:
            self._selector: Selector = make_selector(strategy, self._load_of, random.Random())
        except ValueError as exc:
            raise ByokConfigError(str(exc)) from None
        self._strategy = strategy
        self._custom = self._selector if isinstance(self._selector, FilterSelector) else None
        self._policy = policy or FailoverPolicy()
        self._clock = clock
        self._scope = scope
        self._cooldown_scope: CooldownScope = cooldown_scope
        self._shared: Scope = (registry or SCOPES).get(scope)
        self._lock = self._shared.lock
        if state is not None:
            if scope is None:
                raise ByokConfigError("state= shares key health by scope: give the pool a scope= (clients do)")
            self._shared.share(state, clock)
        self._revived_seen = self._shared.revived
        self._entries: tuple[_Entry, ...] = ()
        self._by_digest: dict[str, _Entry] = {}
        self._cooling: list[tuple[float, int]] = []
        self._saturated: set[int] = set()
        self._pending_release: list[_Entry] = []  # appended by finalizers of streams nobody closed
        self._disabled_count = 0
        self._none_enabled = False  # every key is disabled (kept with _disabled_count by _count_disabled)
        self._budgets: Budgets = budgets_for(self._shared)
        self._capacity = CapacityMonitor()

    # -- public read-only facts ------------------------------------------------------------------------------
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
    def cooldown_scope(self) -> CooldownScope:
        """``"model"``: a rate limit on one model leaves the key usable for others; ``"key"``: it cools the key."""
        return self._cooldown_scope

    def __len__(self) -> int:
        return len(self._entries)

    def status(self) -> list[KeyStatus]:
        """A snapshot of every key's health, in pool order."""
        now = self._clock()
        with self._lock:
            return [_status(e, now) for e in self._entries]

    # -- installing keys ---------------------------------------------------------------------------------------
    def _install(self, keys: Sequence[Key], keep: dict[Key, Health], enable: bool = False) -> None:
        entries = []
        with self._lock:  # the scope's lock: two pools built at once for the same key share one health
            for index, key in enumerate(keys):
                health = keep.get(key)
                if health is None:
                    health = self._shared.health_of(key._digest, key.fingerprint) if self._scope else Health()
                if enable and key in keep and health.disabled_reason is not None:
                    health.disabled_reason = None
                    self._shared.queue(StateChange(self._scope or "", key.fingerprint, "enable"))
                entries.append(_Entry(key, health, index))
            self._entries = tuple(entries)
            self._by_digest = {e.key._digest: e for e in entries}
            self._budgets.add_ceilings(keys)
            if self._scope is None:  # a private scope: its health lives in the entries
                for e in entries:
                    self._shared.health[e.key._digest] = e.health
            self._cooling = []
            self._saturated = set()
            self._selector.reset([e.key.weight for e in entries])
            self._disabled_count = 0
            now = self._clock()
            for e in entries:
                h = e.health
                if h.disabled_reason is not None:
                    self._selector.disable(e.index)
                    self._disabled_count += 1
                elif h.cooldown_until > now:
                    self._selector.remove(e.index)
                    self._queue(e)
            self._count_disabled()
        self._shared.flush()

    # -- selection (used by the flow) --------------------------------------------------------------------------
    def _load_of(self, i: int) -> tuple[float, float, int]:
        h = self._entries[i].health
        requests = _PLENTY if h.remaining_requests is None else float(h.remaining_requests)
        tokens = _PLENTY if h.remaining_tokens is None else float(h.remaining_tokens)
        return requests, tokens, h.in_flight

    def _queue(self, entry: _Entry) -> None:
        """Track a cooling key in the heap: at most one live entry per key and cooldown end."""
        until = entry.health.cooldown_until
        if entry.queued_until != until:
            entry.queued_until = until
            heapq.heappush(self._cooling, (until, entry.index))

    def _model_skip(
        self, model: str, now: float, events: list[PoolEvent] | None = None, provider: str = "", path: str = ""
    ) -> set[int]:
        """Indices of keys cooling for ``model``. Expired marks are dropped on the way, each with its
        ``KeyRecovered`` event (so a per-model recovery is seen at the next request for that model)."""
        if self._cooldown_scope != "model":
            return set()
        cooling = self._shared.model_cooling.get(model)
        if not cooling:
            return set()
        skip = set()
        by_digest = self._by_digest
        for digest, until in list(cooling.items()):
            if until <= now:
                del cooling[digest]
                entry = by_digest.get(digest)
                if entry is not None and entry.health.models and model in entry.health.models:
                    m = entry.health.models[model]
                    if events is not None and m.cooldown_failure is not None:
                        from ..events import KeyRecovered

                        events.append(KeyRecovered(provider, entry.key.label, m.cooldown_failure, 0.0, path, model))
                    m.cooldown_failure = None
                continue
            entry = by_digest.get(digest)
            if entry is not None:
                skip.add(entry.index)
        return skip

    def _catch_up(
        self, now: float, events: list[PoolEvent] | None, provider: str, path: str, model: str | None
    ) -> set[int]:
        """Bring the pool up to ``now`` before a pick: releases a finalizer queued, keys another process revived,
        cooldowns that ended (each with its ``KeyRecovered`` event). Returns the indices of the keys cooling for
        ``model`` (``_model_skip``)."""
        pending = self._pending_release
        while pending:
            self._release_locked(pending.pop())
        if self._shared.revived != self._revived_seen:  # another process re-enabled keys: take them back
            self._revived_seen = self._shared.revived
            self._disabled_count = 0
            for e in self._entries:
                if e.health.disabled_reason is None:
                    self._selector.add(e.index)
                else:
                    self._disabled_count += 1
            self._count_disabled()
        entries, cooling, selector = self._entries, self._cooling, self._selector
        while cooling and cooling[0][0] <= now:
            until, i = heapq.heappop(cooling)
            entry = entries[i]
            if entry.queued_until != until:
                continue  # a stale mark: the key was queued again with another end
            entry.queued_until = -1.0
            h = entry.health
            if h.disabled_reason is not None:
                continue
            if h.cooldown_until > now:  # another pool sharing this key extended its cooldown
                self._queue(entry)
                continue
            if h.cooldown_failure is not None:
                if events is not None:
                    from ..events import KeyRecovered

                    events.append(KeyRecovered(provider, entry.key.label, h.cooldown_failure, 0.0, path))
                h.cooldown_failure = None
                h.cooldown_told = False
            selector.add(i)
        return self._model_skip(model, now, events, provider, path) if model is not None else set()

    def _usable_now(
        self, now: float, demand: Demand | None = None, model: str | None = None
    ) -> tuple[Callable[[int], bool], list[int]]:
        """A side-effect-free readiness test for the selectors, and the list of keys it turned down (for the
        pool's own bookkeeping afterwards). With a ``demand`` (only while budgets apply), a key without key-wide
        budget for it is not usable (with a ``model``: nor one without budget for that model; the built-in
        selectors check that after their pick instead, since dropping a key from their ready set is key-wide)."""
        entries = self._entries
        dropped: list[int] = []
        budgets = self._budgets

        def usable(i: int) -> bool:
            entry = entries[i]
            h = entry.health
            limit = entry.key.max_in_flight
            if h.disabled_reason is not None or h.cooldown_until > now or (limit is not None and h.in_flight >= limit):
                dropped.append(i)
                return False
            if demand is not None and budgets.wait(entry.key, model, demand, now) > 0:
                dropped.append(i)
                return False
            return True

        return usable, dropped

    def _demand(self, demand: Demand | None) -> tuple[Demand | None, str | None]:
        """What a pick charges and checks: ``demand`` while any budget applies (else None: no budget is looked
        at), and the model whose budget it is, where limits are per model."""
        if demand is None or not self._budgets.active:
            return None, None
        return demand, demand.model if self._cooldown_scope == "model" else None

    def _budget_model(self, demand: Demand | None) -> str | None:
        return self._demand(demand)[1]

    def _settle(self, dropped: list[int], now: float, demand: Demand | None = None, model: str | None = None) -> None:
        """After a pick: keys the strategy found not ready are tracked until they are (cooling, saturated); a key
        out of budget cools until its next unit (for ``model``, where limits are per model)."""
        entries = self._entries
        for i in dropped:
            entry = entries[i]
            h = entry.health
            if h.disabled_reason is not None:
                continue
            if h.cooldown_until > now:
                self._queue(entry)
                continue
            wait = self._budgets.wait(entry.key, None, demand, now) if demand is not None else 0.0
            if wait > 0:
                self._budget_cool(entry, wait, now, None)
                continue
            wait = self._budgets.wait(entry.key, model, demand, now) if model is not None else 0.0
            if wait > 0:
                self._budget_cool(entry, wait, now, model)
            else:
                self._saturated.add(i)

    def _budget_cool(self, entry: _Entry, wait: float, now: float, model: str | None) -> None:
        """Cool ``entry`` until its budget has a unit again: the cooling machinery without a failure (no event:
        no request failed, the pool simply holds back)."""
        until = now + min(wait, self._policy.max_cooldown)
        h = entry.health
        if model is None:
            if until > h.cooldown_until:
                h.cooldown_until, h.cooldown_told = until, True
            if self._current(entry):
                self._selector.remove(entry.index)
                self._queue(entry)
        else:
            m = h.model(model)
            if until > m.cooldown_until:
                m.cooldown_until, m.cooldown_told = until, True
            self._shared.model_cooling.setdefault(model, {})[entry.key._digest] = m.cooldown_until

    def _take(self, entry: _Entry, now: float) -> _Entry:
        h = entry.health
        h.requests += 1
        h.in_flight += 1
        h.last_used = now
        if self._selector.wants_touch:
            self._selector.touch(entry.index)
        return entry

    def _select(
        self,
        tried: set[int],
        events: list[PoolEvent] | None = None,
        provider: str = "",
        path: str = "",
        model: str | None = None,
        demand: Demand | None = None,
        fallback: bool = True,
    ) -> _Entry | None:
        """The key for the next attempt: the strategy's pick among keys ready (for ``model``), with budget for
        ``demand`` and not yet tried; if none is and nothing was tried yet, the non-disabled key that is ready
        soonest (a real request beats an invented error; ``fallback=False``: None instead, for admission). None
        when nothing is left. The chosen key counts one more request in flight and is charged ``demand``."""
        if self._custom is not None:  # a user strategy: run with no lock held
            return self._select_custom(self._custom, tried, events, provider, path, model, demand, fallback)
        budget_model = None
        if demand is not None:
            demand, budget_model = self._demand(demand)
        now = self._clock()
        with self._lock:
            cooling = self._catch_up(now, events, provider, path, model)
            capacity = self._capacity
            if now >= capacity.next_check:
                self._check_capacity(now, model, events, provider)
            if not tried:
                capacity.offered += 1
            skip = tried | cooling if cooling else tried
            usable, dropped = self._usable_now(now, demand)
            index = self._selector.pick(skip, usable, cooling)
            if index is not None and demand is None and not dropped:
                return self._take(self._entries[index], now)  # the usual pick: nothing to settle or charge
            while index is not None and budget_model is not None:
                # the pick has key-wide budget; out of budget for this model, it cools for the model only
                wait = self._budgets.wait(self._entries[index].key, budget_model, demand, now)
                if wait <= 0:
                    break
                self._budget_cool(self._entries[index], wait, now, budget_model)
                cooling = cooling | {index}
                skip = skip | {index}
                index = self._selector.pick(skip, usable, cooling)
            if dropped:
                self._settle(dropped, now, demand, budget_model)
            chosen = self._entries[index] if index is not None else None
            if chosen is None and not tried and fallback:
                chosen = self._fallback(model, now)
            if chosen is not None and demand is not None:
                self._budgets.take(chosen.key, budget_model, demand, now)
            return self._take(chosen, now) if chosen is not None else None

    def _select_custom(
        self,
        selector: FilterSelector,
        tried: set[int],
        events: list[PoolEvent] | None,
        provider: str,
        path: str,
        model: str | None,
        demand: Demand | None = None,
        fallback: bool = True,
    ) -> _Entry | None:
        """A user strategy runs with no lock held, on a snapshot; its pick is re-checked under the lock and the pick
        is tried once more if the key stopped being usable in between."""
        demand, budget_model = self._demand(demand)
        for attempt in range(2):
            now = self._clock()
            with self._lock:
                skip = tried | self._catch_up(now, events, provider, path, model)
                if not tried and not attempt:
                    self._capacity.offered += 1
                usable, dropped = self._usable_now(now, demand, budget_model)
                views = [self._view(e, now, model) for e in self._entries if e.index not in skip and usable(e.index)]
                if dropped:
                    self._settle(dropped, now, demand, budget_model)
            chosen_index = selector.choose(views) if views else None  # user code: no lock held
            now = self._clock()
            with self._lock:
                if chosen_index is not None:
                    entry = self._entries[chosen_index] if chosen_index < len(self._entries) else None
                    usable, _ = self._usable_now(now, demand, budget_model)
                    if entry is not None and usable(entry.index) and entry.index not in tried:
                        if demand is not None:
                            self._budgets.take(entry.key, budget_model, demand, now)
                        return self._take(entry, now)
                    continue  # it stopped being usable while the strategy ran: pick again
                if views:
                    return None  # the strategy chose none of the usable keys
                chosen = self._fallback(model, now) if not tried and fallback else None
                if chosen is not None and demand is not None:
                    self._budgets.take(chosen.key, budget_model, demand, now)
                return self._take(chosen, now) if chosen is not None else None
        return None

    def _view(self, entry: _Entry, now: float, model: str | None) -> KeyView:
        h = entry.health
        total, limited, timeout = h.rates(now)
        return KeyView(
            entry.index,
            entry.key.label,
            entry.key.weight,
            h.in_flight,
            h.remaining_requests,
            h.remaining_tokens,
            total,
            limited,
            timeout,
            h.requests,
            model,
        )

    def _fallback(self, model: str | None, now: float) -> _Entry | None:
        """Nothing is ready: the key ready soonest (key-wide and for ``model``), else the least busy saturated key
        (``max_in_flight`` is a soft cap)."""
        best: _Entry | None = None
        best_until = 0.0
        for e in self._entries:
            h = e.health
            if h.disabled_reason is not None:
                continue
            until = max(h.cooldown_until, self._model_until(h, model))
            if until > now and (best is None or until < best_until):
                best, best_until = e, until
        if best is not None:
            return best
        candidates = [self._entries[i] for i in self._saturated if self._entries[i].health.disabled_reason is None]
        return min(candidates, key=lambda e: (e.health.in_flight, e.index)) if candidates else None

    def _model_until(self, h: Health, model: str | None) -> float:
        if model is None or self._cooldown_scope != "model" or not h.models:
            return 0.0
        m = h.models.get(model)
        return m.cooldown_until if m is not None else 0.0

    # -- recording (used by the flow) --------------------------------------------------------------------------
    def _release_locked(self, entry: _Entry) -> None:
        """The attempt on ``entry`` is over (its response was read or failed): one fewer in flight. Called with
        the scope's lock held (by ``Lease.release``, and at the next pick for releases a finalizer queued)."""
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
        self,
        entry: _Entry,
        limits: Limits | None,
        events: list[PoolEvent] | None = None,
        provider: str = "",
        path: str = "",
    ) -> bool:
        """A success on ``entry``, with the response's rate-limit reading kept key-wide. Returns whether the
        reading needs the full treatment (``_learn``: the request's model, the limits' sizes, budget learning): a
        key with per-model state or a learned bucket always does; otherwise only a reading near the limit
        (``FAR_REQUESTS``, ``FAR_TOKENS``). One lock section: the usual success is this call and no other."""
        now = self._clock()
        h = entry.health
        learn = False
        with self._lock:
            h.succeeded(now)
            self._capacity.served += 1
            if limits is not None:
                requests, tokens, requests_reset, tokens_reset = limits
                h.remaining_requests, h.remaining_tokens = requests, tokens
                h.requests_reset_at = now + requests_reset if requests_reset is not None else None
                h.tokens_reset_at = now + tokens_reset if tokens_reset is not None else None
                if h.models or entry.key._digest in self._budgets.kept:
                    learn = True
                else:
                    margin = 2 * h.in_flight
                    learn = (requests is not None and requests < FAR_REQUESTS + margin) or (
                        tokens is not None and tokens < FAR_TOKENS + margin * DEFAULT_OUTPUT_TOKENS
                    )
                if not learn and (self._shared.backend is not None or self._selector.wants_touch):
                    self._apply_limits(entry, limits, now, events, provider, path, None)
        shared = self._shared
        if shared.backend is not None:
            shared.flush()
            shared.backend.count(shared.name or "", entry.key.fingerprint, "requests")
            shared.backend.count(shared.name or "", entry.key.fingerprint, "successes")
        return learn

    def _learn(
        self,
        entry: _Entry,
        limits: Limits,
        events: list[PoolEvent] | None = None,
        provider: str = "",
        path: str = "",
        model: str | None = None,
        caps: tuple[int | None, int | None] | None = None,
    ) -> None:
        """The full treatment of a success's reading ``_record_success`` asked for: kept for ``model`` too (where
        limits are per model), shared, and learned from (``_apply_limits``)."""
        now = self._clock()
        with self._lock:
            self._apply_limits(entry, limits, now, events, provider, path, model, caps, True)
        shared = self._shared
        if shared.backend is not None:
            shared.flush()

    def _apply_limits(
        self,
        entry: _Entry,
        limits: Limits,
        now: float,
        events: list[PoolEvent] | None,
        provider: str,
        path: str,
        model: str | None,
        caps: tuple[int | None, int | None] | None = None,
        learn: bool = False,
    ) -> None:
        """After ``_record_success`` kept the key-wide reading: remember it for the model, share it, and (``learn``)
        learn the key's budget from it; a key with no requests (or tokens) left cools until its next unit has
        refilled (not until its bucket is full again: the reset headers say that), before it ever gets a 429 (for
        the request's model, where limits are per model)."""
        h = entry.health
        requests, tokens = limits[0], limits[1]
        per_model = learn and model is not None and self._cooldown_scope == "model"
        if per_model:
            assert model is not None
            m = h.model(model)
            m.remaining_requests, m.remaining_tokens = requests, tokens
            m.requests_reset_at, m.tokens_reset_at = h.requests_reset_at, h.tokens_reset_at
        shared = self._shared
        if shared.backend is not None:
            shared.queue(
                StateChange(
                    self._scope or "",
                    entry.key.fingerprint,
                    "limits",
                    model if per_model else None,
                    remaining_requests=requests,
                    remaining_tokens=tokens,
                    requests_reset=shared.to_wall(h.requests_reset_at) if h.requests_reset_at is not None else None,
                    tokens_reset=shared.to_wall(h.tokens_reset_at) if h.tokens_reset_at is not None else None,
                )
            )
        wait = 0.0
        if learn:
            others = max(h.in_flight - 1, 0)
            wait = self._budgets.observe(entry.key, model if per_model else None, limits, caps, others, now)
        if wait > 0:
            self._cool(
                entry, Failure.RATE_LIMITED, wait, True, now, events, provider, path, model if per_model else None
            )
        elif self._selector.wants_touch and self._current(entry):
            self._selector.touch(entry.index)

    def _cool(
        self,
        entry: _Entry,
        failure: Failure,
        wait: float,
        told: bool,
        now: float,
        events: list[PoolEvent] | None,
        provider: str,
        path: str,
        model: str | None = None,
    ) -> None:
        """Cool ``entry`` for ``wait`` seconds (capped by the policy's ``max_cooldown``): key-wide, or only for
        ``model``. ``told``: the provider gave the time (else it is our default)."""
        h = entry.health
        wait = min(max(wait, 0.0), self._policy.max_cooldown)
        until = now + wait
        target: Health | ModelHealth = h if model is None else h.model(model)
        was_ready = target.cooldown_until <= now
        if until > target.cooldown_until:
            target.cooldown_until = until
            target.cooldown_failure = failure
            target.cooldown_told = told
        if model is None:
            if self._current(entry):
                self._selector.remove(entry.index)
                self._queue(entry)
        else:
            self._shared.model_cooling.setdefault(model, {})[entry.key._digest] = target.cooldown_until
        if self._shared.backend is not None:
            until_wall = self._shared.to_wall(target.cooldown_until)
            change = StateChange(self._scope or "", entry.key.fingerprint, "cooldown", model, until_wall, str(failure))
            self._shared.queue(change)
        if was_ready and events is not None:
            from ..events import KeyQuotaExhausted, KeyRateLimited

            kind = KeyRateLimited if failure is Failure.RATE_LIMITED else KeyQuotaExhausted
            events.append(kind(provider, entry.key.label, failure, target.cooldown_until - now, path, model))

    def _record_failure(
        self,
        entry: _Entry,
        verdict: Verdict,
        limits: Limits | None,
        events: list[PoolEvent] | None = None,
        provider: str = "",
        path: str = "",
        model: str | None = None,
    ) -> None:
        now = self._clock()
        policy = self._policy
        with self._lock:
            h = entry.health
            h.failures[verdict.failure] = h.failures.get(verdict.failure, 0) + 1
            h.last_failure = verdict.failure
            h.record(now, verdict.failure)
            if limits is not None:
                h.remaining_requests, h.remaining_tokens = limits[0], limits[1]
                per_model = model is not None and self._cooldown_scope == "model"
                others = max(h.in_flight - 1, 0)
                self._budgets.observe(entry.key, model if per_model else None, limits, None, others, now)
            if verdict.failure is Failure.INVALID_KEY:
                if h.disabled_reason is None:
                    h.disabled_reason = verdict.reason or "invalid key"
                    self._shared.queue(
                        StateChange(
                            self._scope or "", entry.key.fingerprint, "disable", failure=str(verdict.failure),
                            reason=h.disabled_reason,
                        )
                    )  # fmt: skip
                    if self._current(entry):
                        self._selector.disable(entry.index)
                        self._disabled_count += 1
                        self._count_disabled()
                    if events is not None:
                        from ..events import KeyDisabled

                        events.append(
                            KeyDisabled(provider, entry.key.label, verdict.failure, None, path, None, h.disabled_reason)
                        )
            elif verdict.failure in (Failure.RATE_LIMITED, Failure.QUOTA_EXHAUSTED):
                limited = verdict.failure is Failure.RATE_LIMITED
                default = policy.rate_limit_cooldown if limited else policy.quota_cooldown
                told = verdict.retry_after is not None
                wait = verdict.retry_after if verdict.retry_after is not None else default
                scoped = None
                if verdict.per_model and self._cooldown_scope == "model":
                    scoped = verdict.model or model
                self._cool(entry, verdict.failure, wait, told, now, events, provider, path, scoped)
        shared = self._shared
        if shared.backend is not None:
            shared.flush()
            shared.backend.count(shared.name or "", entry.key.fingerprint, "requests")
            shared.backend.count(shared.name or "", entry.key.fingerprint, str(verdict.failure))

    def _record_error(self, entry: _Entry) -> None:
        """A connection error or timeout: counted, not blamed on the key (the SDK's retry loop decides)."""
        with self._lock:
            entry.health.timeouts += 1
            entry.health.record(self._clock(), None, timeout=True)
        backend = self._shared.backend
        if backend is not None:
            backend.count(self._shared.name or "", entry.key.fingerprint, "requests")
            backend.count(self._shared.name or "", entry.key.fingerprint, "timeouts")

    def _retry_hint(self, model: str | None = None) -> tuple[bool, float | None]:
        """(whether a retry can help, seconds until the first key is ready as the provider told it: None when the
        soonest key's cooldown is only our default, so the SDK's own backoff decides)."""
        now = self._clock()
        with self._lock:
            soonest: float | None = None
            told = False
            helpful = False
            for e in self._entries:
                h = e.health
                if h.disabled_reason is not None:
                    continue
                until, failure, by_provider = h.cooldown_until, h.cooldown_failure, h.cooldown_told
                if model is not None and self._cooldown_scope == "model" and h.models:
                    m = h.models.get(model)
                    if m is not None and m.cooldown_until > until:
                        until, failure, by_provider = m.cooldown_until, m.cooldown_failure, m.cooldown_told
                wait = max(until - now, 0.0)
                if wait == 0.0 or failure is not Failure.QUOTA_EXHAUSTED:
                    helpful = True
                if soonest is None or wait < soonest:
                    soonest, told = wait, by_provider or wait == 0.0
        if soonest is None or not told:
            return helpful, None
        return helpful, soonest

    # -- admission (used by the flow when no key has budget) ------------------------------------------------------
    def _admit(
        self, demand: Demand, model: str | None, deadline: float | None = None
    ) -> tuple[_Entry, float] | Reject | None:
        """No key is ready for ``demand``: reserve the unit that frees up first (on the key whose cooldown and
        budget end soonest) and say how long to wait for it (then ``_claim`` it), or ``Reject`` when that is past
        ``max_wait`` (or the ``fail`` mode). Reservations are charged at once, so each waiter gets its own unit,
        in arrival order, and no herd wakes at a reset. When the wait is not known (the soonest key cools for our
        default guess, or keys are only saturated) the key ready soonest is taken, as without admission, and the
        wait is -1. None when every key is disabled."""
        now = self._clock()
        budget_model = self._budget_model(demand)
        with self._lock:
            best: _Entry | None = None
            best_wait = math.inf
            known = False
            for e in self._entries:
                h = e.health
                if h.disabled_reason is not None:
                    continue
                cool, told = h.cooldown_until - now, h.cooldown_told or h.cooldown_failure is None
                if model is not None and self._cooldown_scope == "model" and h.models:
                    m = h.models.get(model)
                    if m is not None and m.cooldown_until - now > cool:
                        cool, told = m.cooldown_until - now, m.cooldown_told or m.cooldown_failure is None
                budget = self._budgets.wait(e.key, budget_model, demand, now)
                wait = max(cool, budget, 0.0)
                if wait < best_wait:
                    best, best_wait, known = e, wait, told if cool > budget else True
            if best is None:
                return None
            if best_wait <= 0 or not known:
                chosen = self._fallback(model, now)  # send, as without admission
                if chosen is None:
                    return None
                self._budgets.take(chosen.key, budget_model, demand, now)
                return self._take(chosen, now), -1.0
            limit = self._max_wait if deadline is None else max(deadline - now, 0.0)
            if self._on_exhausted == "fail" or best_wait > limit:
                self._capacity.rejected += 1
                return Reject(best_wait, "no key has budget" if known else "every key is cooling")
            self._budgets.take(best.key, budget_model, demand, now, reserve=True)
            self._capacity.waited += 1
            self._capacity.wait_seconds += best_wait
            return best, best_wait

    def _claim(self, entry: _Entry, demand: Demand) -> _Entry | None:
        """The wait for a reserved unit is over: take ``entry`` for the attempt (None, and the unit goes back, when
        the key was disabled, removed or rate-limited by the provider meanwhile: plan again)."""
        now = self._clock()
        with self._lock:
            h = entry.health
            lost = h.disabled_reason is not None or not self._current(entry)
            lost = lost or (h.cooldown_failure is not None and h.cooldown_until > now)
            self._budgets.settle(entry.key, self._budget_model(demand), demand, now, sent=not lost)
            return None if lost else self._take(entry, now)

    def _unreserve(self, entry: _Entry, demand: Demand) -> None:
        """A waiting request gave up (cancelled, closed): its reserved unit goes back."""
        now = self._clock()
        with self._lock:
            self._budgets.settle(entry.key, self._budget_model(demand), demand, now, sent=False)

    def _check_capacity(self, now: float, model: str | None, events: list[PoolEvent] | None, provider: str) -> None:
        """The share of keys spent (cooling, at budget or disabled, for ``model`` too), and the alerts it raises."""
        entries = self._entries
        if not entries:
            return
        spent = 0
        for e in entries:
            h = e.health
            if h.disabled_reason is not None or h.cooldown_until > now:
                spent += 1
                continue
            m = h.models.get(model) if model is not None and h.models else None
            if m is not None and m.cooldown_until > now:
                spent += 1
        monitor = self._capacity
        share = spent / len(entries)
        change = monitor.update(share, now)
        if change is None:
            return
        from ..events import PoolCapacityLow, PoolCapacityRestored

        event: PoolEvent
        if change == "low":
            log.warning(
                "%s: pool capacity low: %d of %d keys cooling or at budget for %.0f s (threshold %.0f%%)",
                provider or self._scope or "pool",
                spent,
                len(entries),
                monitor.window,
                monitor.threshold * 100,
            )
            event = PoolCapacityLow(provider, share, monitor.threshold, monitor.window)
        else:
            log.warning(
                "%s: pool capacity restored: %d of %d keys ready",
                provider or "pool",
                len(entries) - spent,
                len(entries),
            )
            event = PoolCapacityRestored(provider, share, monitor.threshold, monitor.window)
        if events is not None:
            events.append(event)

    def _count_disabled(self) -> None:
        """After ``_disabled_count`` changed: whether every key is now disabled (read on every request)."""
        self._none_enabled = bool(self._entries) and self._disabled_count >= len(self._entries)

    def _disabled(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(e.key.label, e.health.disabled_reason or "") for e in self._entries]


def keep_health(entries: Iterable[_Entry]) -> dict[Key, Health]:
    """The health records of ``entries`` by key, for a reload that keeps them."""
    return {e.key: e.health for e in entries}


def _status(entry: _Entry, now: float) -> KeyStatus:
    from ..stats import ErrorRates, KeyStatus

    h = entry.health
    cooling_for = max(h.cooldown_until - now, 0.0)
    state: Literal["ready", "cooling", "disabled"] = (
        "disabled" if h.disabled_reason is not None else ("cooling" if cooling_for else "ready")
    )
    total, limited, timeout = h.rates(now)
    models = {
        name: (m.cooldown_until - now, m.cooldown_failure or Failure.RATE_LIMITED)
        for name, m in h.cooling_models(now).items()
    }
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
        models_cooling=models,
    )
