"""Key selection strategies. Each keeps its own view of which keys are ready, updated on transitions, so a pick
costs O(log n) (ordered, weighted, random, least_loaded) or O(1) amortised (round_robin), however many keys cool.

Readiness can go stale (another pool sharing a key's health cooled it): ``pick`` asks ``usable(i)`` and drops keys
that fail it, which the pool then tracks as cooling until they are back.
"""

from __future__ import annotations

import heapq
import random as _random
from collections import deque
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALL",
    "FilterSelector",
    "KeyView",
    "Selector",
    "make_selector",
]

Usable = Callable[[int], bool]
"""usable(i): True if key i may be picked now; False drops it from the ready set (it is cooling or disabled)."""


@dataclass(frozen=True, slots=True)
class KeyView:
    """What a user strategy or filter sees of a key (never its value)."""

    index: int
    label: str
    weight: float
    in_flight: int
    remaining_requests: int | None
    remaining_tokens: int | None
    error_rate_total: float
    error_rate_rate_limit: float
    error_rate_timeout: float
    requests: int
    model: str | None = None
    """The model of the request being placed (None when unknown), so a strategy can choose per model."""

    @property
    def error_rate(self) -> Any:
        """``k.error_rate.total`` / ``.rate_limit`` / ``.timeout``, as in the gateway's selection variables."""
        return _Rates(self.error_rate_total, self.error_rate_rate_limit, self.error_rate_timeout)


@dataclass(frozen=True, slots=True)
class _Rates:
    total: float
    rate_limit: float
    timeout: float


class _All:
    """The filter that keeps every key: the usual last entry of a filter list."""

    def __call__(self, key: KeyView) -> bool:
        return True

    def __repr__(self) -> str:
        return "ALL"


ALL = _All()


class Selector:
    """Tracks the ready keys and picks one. ``add``/``remove`` are called (under the pool's lock) as keys become
    ready or stop being ready; ``touch`` when a key's load or reported limits changed."""

    name = ""
    wants_touch = False
    """Whether ``touch`` matters (load-aware selectors); the pool skips the call otherwise."""

    def reset(self, weights: Sequence[float]) -> None:
        raise NotImplementedError

    def add(self, i: int) -> None:
        raise NotImplementedError

    def remove(self, i: int) -> None:
        """Optional eager removal; lazy selectors rely on ``usable`` in ``pick``."""

    def disable(self, i: int) -> None:
        """Key i is disabled until a reload (not merely cooling)."""
        self.remove(i)

    def touch(self, i: int) -> None:
        """Key i's in-flight count or remaining quota changed."""

    def pick(self, skip: set[int], usable: Usable, cooling: Set[int] = frozenset()) -> int | None:
        raise NotImplementedError


class OrderedSelector(Selector):
    """The first ready key in pool order (the gateway's semantics; keeps prompt caches warm). While the primary key
    (the first one not disabled) cools, requests spread round-robin over the ready keys instead of all stampeding
    the next one; a disabled key simply hands the primary role to the next."""

    name = "ordered"

    def reset(self, weights: Sequence[float]) -> None:
        n = len(weights)
        self._heap = list(range(n))
        self._queued = [True] * n
        self._disabled = [False] * n
        self._primary = 0
        self._spread = RoundRobinSelector()
        self._spread.reset(weights)

    def add(self, i: int) -> None:
        if self._disabled[i]:
            self._disabled[i] = False
            self._primary = min(self._primary, i)
        if not self._queued[i]:
            self._queued[i] = True
            heapq.heappush(self._heap, i)
        self._spread.add(i)

    def disable(self, i: int) -> None:
        self._disabled[i] = True
        while self._primary < len(self._disabled) and self._disabled[self._primary]:
            self._primary += 1

    def pick(self, skip: set[int], usable: Usable, cooling: Set[int] = frozenset()) -> int | None:
        heap, queued = self._heap, self._queued
        while heap and not usable(heap[0]):
            queued[heapq.heappop(heap)] = False
        if not heap:
            return None
        if heap[0] != self._primary or self._primary in cooling:
            return self._spread.pick(skip, usable)  # the primary cools (for every model, or this one): spread
        if self._primary not in skip:
            return self._primary
        popped = []  # the primary failed this request in a way that did not cool it (5xx): next in order
        chosen = None
        while heap:
            i = heap[0]
            if not usable(i):
                queued[heapq.heappop(heap)] = False
            elif i in skip:
                popped.append(heapq.heappop(heap))
            else:
                chosen = i
                break
        for i in popped:
            heapq.heappush(heap, i)
        return chosen


class RoundRobinSelector(Selector):
    """Each ready key in turn."""

    name = "round_robin"

    def reset(self, weights: Sequence[float]) -> None:
        n = len(weights)
        self._ring: deque[int] = deque(range(n))
        self._in_ring = [True] * n

    def add(self, i: int) -> None:
        if not self._in_ring[i]:
            self._in_ring[i] = True
            self._ring.append(i)

    def pick(self, skip: set[int], usable: Usable, cooling: Set[int] = frozenset()) -> int | None:
        ring, in_ring = self._ring, self._in_ring
        for _ in range(len(ring)):
            i = ring.popleft()
            if not usable(i):
                in_ring[i] = False
                continue
            ring.append(i)
            if i not in skip:
                return i
        return None


class WeightedSelector(Selector):
    """A ready key at random, in proportion to its ``weight`` (a Fenwick tree: O(log n) per pick and update)."""

    name = "weighted"

    def __init__(self, rng: _random.Random | None = None, uniform: bool = False) -> None:
        self._rng = rng or _random.Random()
        self._uniform = uniform
        if uniform:
            self.name = "random"

    def reset(self, weights: Sequence[float]) -> None:
        self._weights = [1.0 if self._uniform else float(w) for w in weights]
        self._active = [True] * len(weights)
        self._n = len(weights)
        self._tree = [0.0] * (self._n + 1)
        for i, w in enumerate(self._weights):
            self._update(i, w)

    def _update(self, i: int, delta: float) -> None:
        j = i + 1
        tree = self._tree
        while j <= self._n:
            tree[j] += delta
            j += j & -j

    def _total(self) -> float:
        total, j, tree = 0.0, self._n, self._tree
        while j > 0:
            total += tree[j]
            j -= j & -j
        return total

    def _find(self, target: float) -> int:
        pos, step, tree = 0, 1 << self._n.bit_length(), self._tree
        while step:
            nxt = pos + step
            if nxt <= self._n and tree[nxt] <= target:
                pos = nxt
                target -= tree[nxt]
            step >>= 1
        return min(pos, self._n - 1)

    def _set_active(self, i: int, active: bool) -> None:
        if self._active[i] != active:
            self._active[i] = active
            self._update(i, self._weights[i] if active else -self._weights[i])

    def add(self, i: int) -> None:
        self._set_active(i, True)

    def remove(self, i: int) -> None:
        self._set_active(i, False)

    def pick(self, skip: set[int], usable: Usable, cooling: Set[int] = frozenset()) -> int | None:
        hidden = [i for i in skip if self._active[i]]
        for i in hidden:
            self._set_active(i, False)
        try:
            while True:
                total = self._total()
                if total <= 1e-12:
                    return None
                i = self._find(self._rng.random() * total)
                if not self._active[i]:  # float dust at a boundary: take the next active key
                    continue
                if usable(i):
                    return i
                self._set_active(i, False)
        finally:
            for i in hidden:
                self._set_active(i, True)


class LeastLoadedSelector(Selector):
    """The ready key with the most remaining requests (then tokens) the provider reported, then the fewest
    requests in flight; keys with no report yet count as having plenty. A lazy heap: O(log n) per change."""

    name = "least_loaded"
    wants_touch = True

    def __init__(self, load: Callable[[int], tuple[float, float, int]]) -> None:
        self._load = load  # (remaining requests, remaining tokens, in flight) of key i

    def reset(self, weights: Sequence[float]) -> None:
        n = len(weights)
        self._version = [0] * n
        self._active = [True] * n
        self._heap: list[tuple[float, float, int, int, int]] = []
        for i in range(n):
            self._push(i)

    def _push(self, i: int) -> None:
        requests, tokens, in_flight = self._load(i)
        heapq.heappush(self._heap, (-requests, -tokens, in_flight, i, self._version[i]))
        if len(self._heap) > 4 * len(self._active) + 64:
            self._compact()

    def _compact(self) -> None:
        self._heap = [e for e in self._heap if self._active[e[3]] and e[4] == self._version[e[3]]]
        heapq.heapify(self._heap)

    def add(self, i: int) -> None:
        if not self._active[i]:
            self._active[i] = True
            self._version[i] += 1
            self._push(i)

    def remove(self, i: int) -> None:
        self._active[i] = False

    def touch(self, i: int) -> None:
        if self._active[i]:
            self._version[i] += 1
            self._push(i)

    def pick(self, skip: set[int], usable: Usable, cooling: Set[int] = frozenset()) -> int | None:
        heap, popped, chosen = self._heap, [], None
        while heap:
            *_, i, version = heap[0]
            if not self._active[i] or version != self._version[i]:
                heapq.heappop(heap)
                continue
            if not usable(i):
                heapq.heappop(heap)
                self._active[i] = False
                continue
            if i in skip:
                popped.append(heapq.heappop(heap))
                continue
            chosen = i
            break
        for entry in popped:
            heapq.heappush(heap, entry)
        return chosen


Filter = Callable[[KeyView], bool]


class FilterSelector(Selector):
    """A user strategy: a list of filters tried in order until one leaves at least one key (then the first of
    those in pool order), or a callable given every usable key that returns its choice. O(n) per pick. The pool
    calls ``choose`` with no lock held: it is user code."""

    name = "custom"

    def __init__(self, strategy: Any) -> None:
        self._strategy = strategy

    def reset(self, weights: Sequence[float]) -> None:
        pass

    def add(self, i: int) -> None:
        pass

    def pick(self, skip: set[int], usable: Usable, cooling: Set[int] = frozenset()) -> int | None:
        raise TypeError("a user strategy is run by the pool through choose(), off its lock")

    def choose(self, views: list[KeyView]) -> int | None:
        """The index of the key the user strategy picks among ``views`` (None: none of them)."""
        strategy = self._strategy
        if callable(strategy):
            chosen = strategy(views)
            if isinstance(chosen, list | tuple):
                chosen = chosen[0] if chosen else None
            return chosen.index if isinstance(chosen, KeyView) else None
        for keep in strategy:
            left = [v for v in views if keep(v)]
            if left:
                return left[0].index
        return None


def make_selector(
    strategy: Any,
    load: Callable[[int], tuple[float, float, int]],
    rng: _random.Random | None = None,
) -> Selector:
    """The selector for a ``strategy=`` value: a name, a callable, or a list of filters (raises ``ValueError``)."""
    if isinstance(strategy, Selector):
        return strategy
    if isinstance(strategy, str):
        named: dict[str, Callable[[], Selector]] = {
            "ordered": OrderedSelector,
            "round_robin": RoundRobinSelector,
            "weighted": lambda: WeightedSelector(rng),
            "random": lambda: WeightedSelector(rng, uniform=True),
            "least_loaded": lambda: LeastLoadedSelector(load),
        }
        if strategy not in named:
            raise ValueError(f"unknown strategy {strategy!r}; one of {', '.join(named)}, a callable or a filter list")
        return named[strategy]()
    if callable(strategy):
        return FilterSelector(strategy)
    if isinstance(strategy, list | tuple) and strategy and all(callable(f) for f in strategy):
        return FilterSelector(tuple(strategy))
    raise ValueError("strategy must be a name, a callable, or a non-empty list of filters")
