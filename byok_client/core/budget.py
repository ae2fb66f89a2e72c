"""Capacity: per-key budgets learned from rate-limit readings (or configured), admission when every key is spent,
and the capacity monitor behind the ``PoolCapacityLow`` / ``PoolCapacityRestored`` alerts. Pure: no I/O.

**Buckets.** Providers limit a key with continuously refilling token buckets. A bucket holds up to ``capacity``
units and refills at ``rate`` units a second; the next request is allowed as soon as *one* unit has refilled (for
tokens: as many as the request is estimated to cost), not when the bucket is full again.

**Learning a bucket from a reading.** A response says, per limit, what remains (``R``) and the seconds until the
bucket is *full* again (``T``: OpenAI's ``x-ratelimit-reset-*``, Anthropic's ``*-reset`` moment). With the limit
``L`` (``x-ratelimit-limit-*``, ``anthropic-ratelimit-*-limit``) the refill rate is ``(L - R) / T``; since ``R``
is rounded down, the estimate uses the lower bound ``(L - R - 1) / T`` and keeps the highest bound of recent
readings (decaying by 0.1 % a reading, so a lowered limit is followed), which approaches the true rate from
below. When the response names no limit, ``L`` is estimated as the largest remaining count seen plus one (a
key's first response after a quiet spell shows ``L - 1``), and no bucket is kept: a reading of 0 remaining cools
the key for ``T / (L - 1)`` (an estimate of ``L`` that is too low only makes the wait longer, never shorter),
after which the level is unknown again. Reset times are rounded up by the providers (OpenAI to the millisecond,
Anthropic to the second), which can only understate the rate.

**The mirror.** Between readings the pool keeps the bucket itself: each request it sends takes its cost, time
refills it. A reading resynchronises the level, clamped between ``R`` (what the provider counted) and ``R`` minus
the key's other requests in flight (which it may not have counted yet); units reserved for waiting requests are
subtracted from both, so a reading never lets a newcomer overtake them.

**Configured ceilings.** ``Key(rpm=, tpm=, rpd=)`` add buckets of that many requests a minute, tokens a minute and
requests a day (starting full), which apply together with the learned ones (all must have budget).

**Token cost of a request**, estimated without parsing the body: its size in bytes / 4 (about 4 bytes a token of
English JSON) plus its output allowance, the first ``max_tokens`` / ``max_completion_tokens`` /
``max_output_tokens`` / ``maxOutputTokens`` number in the body (``DEFAULT_OUTPUT_TOKENS`` when it names none),
which is how OpenAI counts a request against its tokens-per-minute limit before it runs.
"""

from __future__ import annotations

import math
import re
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .keys import Key
    from .registry import Scope

__all__ = [
    "DEFAULT_OUTPUT_TOKENS",
    "Budgets",
    "CapacityMonitor",
    "Demand",
    "OnExhausted",
    "Reject",
    "Wait",
    "budgets_for",
    "estimate_tokens",
]

OnExhausted = Literal["wait", "fail", "send"]
ON_EXHAUSTED: tuple[str, ...] = ("wait", "fail", "send")

DEFAULT_OUTPUT_TOKENS = 256
"""Output tokens a request is assumed to ask for when its body names no maximum."""

_OUTPUT = re.compile(rb'"(?:max_tokens|max_completion_tokens|max_output_tokens|maxOutputTokens)"\s*:\s*([0-9]{1,9})')
_SCAN_LIMIT = 1 << 16  # the output allowance sits near the top of the body; never scan megabytes for it
_RATE_DECAY = 0.999  # per reading: a lowered limit is followed within a few hundred readings


FAR_REQUESTS = 32
"""A success's reading with at least this many requests left (plus two per request in flight) is far from the
limit: it can change no decision (nothing cools, no bucket is due to be learned yet), so the pool keeps it key-wide
and skips the per-model reading and the budget arithmetic (``PoolState._record_success``)."""
FAR_TOKENS = 64 * DEFAULT_OUTPUT_TOKENS
"""Likewise for tokens (plus two output allowances per request in flight)."""


def estimate_tokens(body: bytes) -> int:
    """The token cost of a request body: bytes / 4 plus its output allowance (see the module docstring)."""
    match = _OUTPUT.search(body, 0, _SCAN_LIMIT) if body else None
    output = int(match.group(1)) if match is not None else DEFAULT_OUTPUT_TOKENS
    return len(body) // 4 + output


class Demand:
    """What one request asks of a budget: one request and (read lazily, only when a token bucket applies) its
    estimated tokens; ``model`` is the request's model where limits are per model, else None."""

    __slots__ = ("_body", "_model", "_tokens")

    def __init__(self, body: bytes = b"") -> None:
        self._body = body
        self._model: str | bool | None = False  # False: not read yet
        self._tokens = -1

    @property
    def model(self) -> str | None:
        model = self._model
        if model is False:
            model = self._model = self._find_model()
        return model if isinstance(model, str) else None

    def _find_model(self) -> str | None:
        """How the model is read (once): none here; ``core.flow.RequestFacts`` reads it from the request."""
        return None

    @property
    def tokens(self) -> int:
        if self._tokens < 0:
            self._tokens = estimate_tokens(self._body)
        return self._tokens

    def units(self, kind: str) -> float:
        return 1.0 if kind == "requests" else float(self.tokens)


class Wait:
    """A flow instruction: sleep ``seconds`` (sync: ``time.sleep``; async: ``await asyncio.sleep``), then
    ``flow.send(None)``."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __repr__(self) -> str:
        return f"Wait({self.seconds:.3f})"


class Reject:
    """A flow result: no key has budget soon enough; answer the SDK with a client-side 429 that says to retry
    after ``retry_after`` seconds (no request is sent)."""

    __slots__ = ("reason", "retry_after")

    def __init__(self, retry_after: float, reason: str) -> None:
        self.retry_after = retry_after
        self.reason = reason

    def __repr__(self) -> str:
        return f"Reject({self.retry_after:.3f}, {self.reason!r})"


class Bucket:
    """A continuously refilling bucket (level may go below zero: units reserved for waiting requests)."""

    __slots__ = ("capacity", "level", "rate", "reserved", "updated")

    def __init__(self, capacity: float, rate: float, level: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.level = level
        self.updated = now
        self.reserved = 0.0

    def refill(self, now: float) -> float:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now
        return self.level

    def wait(self, units: float, now: float) -> float:
        """Seconds until ``units`` (at most the capacity) are in the bucket."""
        missing = min(units, self.capacity) - self.refill(now)
        if missing <= 1e-9:
            return 0.0
        return missing / self.rate if self.rate > 0 else math.inf


# (key digest, model or None, "requests" | "tokens") -> learned bucket; (digest, "rpm" | "tpm" | "rpd") -> ceiling
_Learned = dict[tuple[str, str | None, str], Bucket]


class Budgets:
    """Every key's buckets in one scope (shared by its pools; used under the scope's lock)."""

    __slots__ = ("__weakref__", "_configured", "_learned", "_peaks", "active", "ceilings", "kept")

    def __init__(self) -> None:
        self._learned: _Learned = {}
        self.kept: set[str] = set()
        """Digests of the keys with a learned bucket (for any model)."""
        self._peaks: dict[tuple[str, str | None, str], int] = {}
        self._configured: dict[tuple[str, str], Bucket] = {}
        self.ceilings = False
        """Whether a key of the scope has a configured ceiling (``Key(rpm=, tpm=, rpd=)``; set by its pools)."""
        self.active = False
        """Whether any bucket applies (a learned one, or a ceiling). While False the pool charges and checks no
        budget at all: ``wait`` and ``take`` are only called when it is True (or on the rare admission paths)."""

    def add_ceilings(self, keys: Iterable[Key]) -> None:
        """Note the keys of a pool: one with a ceiling makes budgets apply from now on."""
        if any(k.rpm is not None or k.tpm is not None or k.rpd is not None for k in keys):
            self.ceilings = self.active = True

    # -- reading -----------------------------------------------------------------------------------------------
    def _buckets(self, key: Key, model: str | None, now: float) -> list[tuple[Bucket, str]]:
        found: list[tuple[Bucket, str]] = []
        digest = key._digest
        learned = self._learned
        if learned:
            for kind in ("requests", "tokens"):
                bucket = learned.get((digest, model, kind))
                if bucket is None and model is not None:
                    bucket = learned.get((digest, None, kind))
                if bucket is not None:
                    found.append((bucket, kind))
        if key.rpm is not None or key.tpm is not None or key.rpd is not None:
            for name, limit, per, kind in (
                ("rpm", key.rpm, 60.0, "requests"),
                ("tpm", key.tpm, 60.0, "tokens"),
                ("rpd", key.rpd, 86400.0, "requests"),
            ):
                if limit is None:
                    continue
                bucket = self._configured.get((digest, name))
                if bucket is None:
                    bucket = self._configured[(digest, name)] = Bucket(float(limit), limit / per, float(limit), now)
                found.append((bucket, kind))
        return found

    def wait(self, key: Key, model: str | None, demand: Demand | None, now: float) -> float:
        """Seconds until ``key`` has budget for ``demand`` (0: now)."""
        longest = 0.0
        for bucket, kind in self._buckets(key, model, now):
            units = demand.units(kind) if demand is not None else 1.0
            longest = max(longest, bucket.wait(units, now))
        return longest

    def take(self, key: Key, model: str | None, demand: Demand | None, now: float, reserve: bool = False) -> None:
        """Charge ``demand`` to ``key``'s buckets (``reserve``: for a request that will wait for it)."""
        for bucket, kind in self._buckets(key, model, now):
            units = demand.units(kind) if demand is not None else 1.0
            bucket.refill(now)
            bucket.level -= units
            if reserve:
                bucket.reserved += units

    def settle(self, key: Key, model: str | None, demand: Demand | None, now: float, sent: bool) -> None:
        """A reservation ends: the request is sent (``sent``) or abandoned (its units go back)."""
        for bucket, kind in self._buckets(key, model, now):
            units = demand.units(kind) if demand is not None else 1.0
            bucket.reserved = max(0.0, bucket.reserved - units)
            if not sent:
                bucket.level = min(bucket.capacity, bucket.level + units)

    # -- learning ------------------------------------------------------------------------------------------------
    def observe(
        self,
        key: Key,
        model: str | None,
        limits: tuple[int | None, int | None, float | None, float | None],
        caps: tuple[int | None, int | None] | None,
        others: int,
        now: float,
    ) -> float:
        """Learn from one response's reading (``others``: the key's other requests in flight). Returns the seconds
        until the key has one request (and one token) of budget again: 0 while it has some."""
        requests, tokens, requests_reset, tokens_reset = limits
        caps = caps or (None, None)
        wait = 0.0
        for kind, remaining, reset, cap in (
            ("requests", requests, requests_reset, caps[0]),
            ("tokens", tokens, tokens_reset, caps[1]),
        ):
            if remaining is None:
                continue
            slot = (key._digest, model, kind)
            bucket = self._learned.get(slot)
            peaks = self._peaks
            peak = max(remaining, peaks.get(slot, 0))
            if slot in peaks or len(peaks) < 65536:  # bounded: one per key, model and kind in practice
                peaks[slot] = peak
            known = cap is not None and cap >= remaining
            limit = float(cap) if cap is not None and known else float(peak + 1)
            if not known:
                # Without the limit's size no bucket is kept (its level after the next unit is unknown): a dry one
                # only cools the key until its next unit, at most reset / (limit - 1) away.
                if remaining == 0 and reset:
                    wait = max(wait, reset / max(limit - 1.0, 1.0))
                continue
            # The remaining count is rounded down, so the true deficit lies in (L - R - 1, L - R]: the lower
            # bound gives a rate that is never too high; the highest bound of recent readings comes closest.
            bound = (limit - remaining - 1) / reset if reset is not None and reset > 0 else 0.0
            if bucket is None:
                if bound <= 0:
                    if remaining == 0 and reset:
                        wait = max(wait, reset)  # a limit of 1: the next unit is the full bucket
                    continue  # a nearly full bucket says nothing of its refill rate yet
                bucket = self._learned[slot] = Bucket(limit, bound, float(remaining), now)
                self.kept.add(key._digest)
                self.active = True
            else:
                if limit != bucket.capacity:
                    bucket.capacity = limit
                    bucket.rate = bound if bound > 0 else bucket.rate
                elif bound > 0:
                    bucket.rate = max(bound, bucket.rate * _RATE_DECAY)
                bucket.refill(now)
            unit = 1.0 if kind == "requests" else float(DEFAULT_OUTPUT_TOKENS)
            high = remaining - bucket.reserved
            low = high - others * unit
            bucket.level = min(max(bucket.level, low), high)
            bucket.updated = now
            wait = max(wait, bucket.wait(1.0, now))
        return wait

    def forget(self) -> None:
        self._learned.clear()
        self.kept.clear()
        self._configured.clear()
        self._peaks.clear()
        self.active = self.ceilings


_BY_SCOPE: weakref.WeakKeyDictionary[Scope, Budgets] = weakref.WeakKeyDictionary()


def budgets_for(scope: Scope) -> Budgets:
    """The budgets of ``scope`` (created on first use), shared like its health. Call with the scope's lock held,
    or at construction."""
    found = _BY_SCOPE.get(scope)
    if found is None:
        found = _BY_SCOPE[scope] = Budgets()
    return found


class _Rate:
    """Events a second over the last ``span`` seconds, in one-second buckets."""

    __slots__ = ("_counts", "_epochs", "_span")

    def __init__(self, span: int = 10) -> None:
        self._span = span
        self._counts = [0] * span
        self._epochs = [-1] * span

    def add(self, now: float, n: int = 1) -> None:
        epoch = int(now)
        i = epoch % self._span
        if self._epochs[i] != epoch:
            self._epochs[i], self._counts[i] = epoch, 0
        self._counts[i] += n

    def per_second(self, now: float) -> float:
        epoch = int(now)
        oldest = epoch - self._span + 1
        total = sum(c for c, e in zip(self._counts, self._epochs, strict=True) if oldest <= e < epoch)
        return total / (self._span - 1)  # the current, partial second is left out


class CapacityMonitor:
    """Counters and the alert state of one pool: offered and served requests, waits, rejections, time with every
    key spent, and whether the share of spent keys (cooling, at budget or disabled) has stayed above
    ``threshold`` for longer than ``window`` seconds (one ``PoolCapacityLow`` per episode, one
    ``PoolCapacityRestored`` when it ends)."""

    __slots__ = (
        "_above_since",
        "_checked",
        "_counted",
        "_last_share",
        "_offered",
        "_served",
        "exhausted_seconds",
        "low",
        "low_since",
        "next_check",
        "offered",
        "rejected",
        "served",
        "threshold",
        "wait_seconds",
        "waited",
        "window",
    )

    CHECK_EVERY = 0.1
    """Seconds between two looks at the keys (an O(n) count), so the hot path stays O(1)."""

    def __init__(self, threshold: float = 0.75, window: float = 10.0) -> None:
        self.threshold = threshold
        self.window = window
        self.offered = 0
        """Requests offered (counted by the pool at each request's first pick)."""
        self.served = 0
        """Requests served (counted by the pool at each success)."""
        self.rejected = 0
        self.waited = 0
        self.wait_seconds = 0.0
        self.exhausted_seconds = 0.0
        self.low = False
        self.low_since: float | None = None
        self.next_check = -math.inf
        """When the pool looks at its keys next (``update`` moves it on by ``CHECK_EVERY``)."""
        self._above_since: float | None = None
        self._checked = -math.inf
        self._last_share = 0.0
        self._offered = _Rate()
        self._served = _Rate()
        self._counted = (0, 0)

    def _count(self, now: float) -> None:
        """Move what the counters gained since the last look into the per-second rates. The gains happened after
        that look, and the offers before the next was due, so they are dated at most ``CHECK_EVERY`` after it."""
        offered, served = self._counted
        if offered == self.offered and served == self.served:
            return
        when = min(now, self._checked + self.CHECK_EVERY) if self._checked > -math.inf else now
        self._offered.add(when, self.offered - offered)
        self._served.add(when, self.served - served)
        self._counted = (self.offered, self.served)

    def update(self, share: float, now: float) -> Literal["low", "restored"] | None:
        """Record the share of spent keys at ``now``; returns the alert transition, if any."""
        self._count(now)
        if self._last_share >= 1.0 and self._checked > -math.inf:
            self.exhausted_seconds += now - self._checked
        self._checked = now
        self.next_check = now + self.CHECK_EVERY
        self._last_share = share
        if share > self.threshold:
            if self._above_since is None:
                self._above_since = now
            if not self.low and now - self._above_since >= self.window:
                self.low, self.low_since = True, self._above_since
                return "low"
            return None
        self._above_since = None
        if self.low:
            self.low, self.low_since = False, None
            return "restored"
        return None

    @property
    def share(self) -> float:
        return self._last_share

    def rates(self, now: float) -> tuple[float, float]:
        """(offered, served) requests a second over the last ten seconds."""
        self._count(now)
        return self._offered.per_second(now), self._served.per_second(now)
