"""Token-bucket rate limits for :class:`~byok_client.testing.MockProvider` and the providers' rate-limit headers."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ._behaviours import (
    ANTHROPIC,
    GEMINI,
    OPENAI,
    Behaviour,
    ErrorResponse,
    Headers,
    _anthropic_error,
    _gemini_error,
    _openai_error,
)
from ._common import load, tokens

__all__ = [
    "DEFAULT_OUTPUT_TOKENS",
    "Bucket",
    "BucketLimited",
    "Limits",
    "RateLimitRule",
    "Snapshot",
    "go_duration",
    "request_cost",
]

DEFAULT_OUTPUT_TOKENS: Final = 256
"""Output tokens a request is charged when it names no ``max_tokens`` / ``max_output_tokens``."""

DIMENSIONS: Final = ("requests", "tokens", "input_tokens", "output_tokens")


class Bucket:
    """A token bucket: holds up to ``capacity`` units, refills continuously at ``capacity / per`` units a second.

    Starts full. Times come from ``clock`` (monotonic seconds), so tests can drive it by hand.
    """

    __slots__ = ("capacity", "clock", "level", "rate", "updated")

    def __init__(self, capacity: float, per: float, clock: Callable[[], float]) -> None:
        if capacity <= 0 or per <= 0:
            raise ValueError("a rate limit needs a positive limit and a positive window")
        self.capacity = float(capacity)
        self.rate = self.capacity / per
        self.clock = clock
        self.level = self.capacity
        self.updated = clock()

    def refill(self) -> float:
        """Bring the level up to now; returns it."""
        now = self.clock()
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now
        return self.level

    def wait(self, units: float) -> float:
        """Seconds until ``units`` are available (0 when they are now; ``inf`` when more than the capacity)."""
        if units > self.capacity:
            return math.inf
        missing = units - self.refill()
        return 0.0 if missing <= 0 else missing / self.rate

    def take(self, units: float) -> None:
        self.refill()
        self.level -= units

    def until_full(self) -> float:
        """Seconds until the bucket is full again (what OpenAI's ``x-ratelimit-reset-*`` headers say)."""
        return (self.capacity - self.refill()) / self.rate


@dataclass(frozen=True, slots=True)
class RateLimitRule:
    """One :meth:`MockProvider.rate_limit` call: limits per window for a key (or every key) and a model (or all)."""

    key: str | None
    model: str | None
    per: float
    limits: dict[str, int]
    """dimension (``requests``, ``tokens``, ``input_tokens``, ``output_tokens``) -> units per window."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Rate-limit state reported on one answer: dimension -> (limit, remaining, seconds until full)."""

    values: dict[str, tuple[int, int, float]]


@dataclass(frozen=True, slots=True)
class BucketLimited(Behaviour):
    """Internal: the request is over a configured rate limit (answered with the provider's real 429)."""

    wait: float
    """Seconds until the request would be admitted (``inf``: it never will, it is larger than the limit)."""
    dimension: str
    limit: int
    per: float
    model: str | None
    snapshot: Snapshot


def request_cost(provider: str, body: bytes) -> dict[str, int]:
    """Units a request costs: 1 request, the input estimate (bytes / 4) and its output allowance."""
    req: dict[str, Any] = (load(body) or {}) if body[:1] == b"{" else {}
    output: Any = None
    if provider == GEMINI:
        config = req.get("generationConfig") or req.get("generation_config") or {}
        if isinstance(config, dict):
            output = config.get("maxOutputTokens")
    else:
        for name in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
            if req.get(name) is not None:
                output = req[name]
                break
    out = output if isinstance(output, int) and output >= 0 else DEFAULT_OUTPUT_TOKENS
    inp = tokens(body)
    return {"requests": 1, "tokens": inp + out, "input_tokens": inp, "output_tokens": out}


class Limits:
    """Every rule and its buckets (used under the MockProvider's lock)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.rules: list[RateLimitRule] = []
        self._buckets: dict[tuple[int, str, str], Bucket] = {}

    def add(self, rule: RateLimitRule) -> None:
        self.rules.append(rule)

    def clear(self) -> None:
        self.rules.clear()
        self._buckets.clear()

    def _applicable(self, key: str, model: str | None) -> list[tuple[RateLimitRule, str, Bucket]]:
        out = []
        for index, rule in enumerate(self.rules):
            if rule.key is not None and rule.key != key:
                continue
            if rule.model is not None and rule.model != model:
                continue
            for dimension, limit in rule.limits.items():
                bucket = self._buckets.get((index, key, dimension))
                if bucket is None:
                    bucket = self._buckets[(index, key, dimension)] = Bucket(limit, rule.per, self.clock)
                out.append((rule, dimension, bucket))
        return out

    def admit(self, key: str, model: str | None, cost: dict[str, int]) -> BucketLimited | Snapshot | None:
        """Take ``cost`` from every bucket that applies, or refuse (taking nothing); ``None`` when no rule applies."""
        buckets = self._applicable(key, model)
        if not buckets:
            return None
        worst: tuple[float, RateLimitRule, str] | None = None
        for rule, dimension, bucket in buckets:
            wait = bucket.wait(cost[dimension])
            if wait > 0 and (worst is None or wait > worst[0]):
                worst = (wait, rule, dimension)
        if worst is None:
            for _, dimension, bucket in buckets:
                bucket.take(cost[dimension])
        snapshot = _snapshot(buckets)
        if worst is None:
            return snapshot
        wait, rule, dimension = worst
        return BucketLimited(wait, dimension, rule.limits[dimension], rule.per, model, snapshot)


def _snapshot(buckets: list[tuple[RateLimitRule, str, Bucket]]) -> Snapshot:
    # per dimension, report the most restrictive bucket (the least remaining)
    values: dict[str, tuple[int, int, float]] = {}
    for _, dimension, bucket in buckets:
        remaining = max(0, math.floor(bucket.level + 1e-9))
        current = values.get(dimension)
        if current is None or remaining < current[1]:
            values[dimension] = (int(bucket.capacity), remaining, bucket.until_full())
    return Snapshot(values)


# --------------------------------------------------------------------------------------------------------------------
# Headers and 429 bodies
# --------------------------------------------------------------------------------------------------------------------


def go_duration(seconds: float) -> str:
    """``seconds`` as Go's ``time.Duration.String()`` at millisecond precision (rounded up), as OpenAI sends it:
    ``0s``, ``120ms``, ``1s``, ``1.5s``, ``6m0s``, ``1h0m0s``."""
    ms = math.ceil(round(seconds * 1000, 6))
    if ms <= 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest // 1000}.{rest % 1000:03d}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def rfc3339_after(seconds: float) -> str:
    """The wall-clock moment ``seconds`` from now in RFC 3339, rounded up to the second (as Anthropic sends it)."""
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.isoformat().replace("+00:00", "Z")


_OPENAI_NAMES: Final = {"requests": "requests", "tokens": "tokens"}
_ANTHROPIC_NAMES: Final = {
    "requests": "requests",
    "tokens": "tokens",
    "input_tokens": "input-tokens",
    "output_tokens": "output-tokens",
}


def snapshot_headers(provider: str, snapshot: Snapshot) -> Headers:
    """The rate-limit headers ``provider`` sends for this state (Gemini sends none)."""
    headers: Headers = []
    if provider == OPENAI:
        for dimension, name in _OPENAI_NAMES.items():
            if dimension in snapshot.values:
                limit, remaining, full = snapshot.values[dimension]
                headers += [
                    (f"x-ratelimit-limit-{name}", str(limit)),
                    (f"x-ratelimit-remaining-{name}", str(remaining)),
                    (f"x-ratelimit-reset-{name}", go_duration(full)),
                ]
    elif provider == ANTHROPIC:
        for dimension, name in _ANTHROPIC_NAMES.items():
            if dimension in snapshot.values:
                limit, remaining, full = snapshot.values[dimension]
                headers += [
                    (f"anthropic-ratelimit-{name}-limit", str(limit)),
                    (f"anthropic-ratelimit-{name}-remaining", str(remaining)),
                    (f"anthropic-ratelimit-{name}-reset", rfc3339_after(full)),
                ]
    return headers


def _per_text(per: float) -> str:
    return {1.0: "second", 60.0: "min", 3600.0: "hour", 86400.0: "day"}.get(per, f"{per:g}s")


def _openai_dimension(dimension: str) -> str:
    return "requests" if dimension == "requests" else "tokens"


def limited_error(provider: str, b: BucketLimited, requested: int) -> ErrorResponse:
    """The provider's real 429 for a request over a bucket, with the true wait until it would be admitted."""
    finite = math.isfinite(b.wait)
    wait = b.wait if finite else b.per
    ms = max(1, math.ceil(round(wait * 1000, 6)))
    seconds = max(1, math.ceil(ms / 1000))
    model = b.model or "the model"
    if provider == OPENAI:
        kind = _openai_dimension(b.dimension)
        abbrev = {"requests": "RPM", "tokens": "TPM"}[kind] if b.per == 60.0 else kind
        if finite:
            message = (
                f"Rate limit reached for {model} in organization org-mock on {kind} per {_per_text(b.per)} "
                f"({abbrev}): Limit {b.limit}, Used {b.limit - b.snapshot.values[b.dimension][1]}, Requested "
                f"{requested}. Please try again in {go_duration(wait)}. Visit "
                "https://platform.openai.com/account/rate-limits to learn more."
            )
        else:
            message = (
                f"Request too large for {model} in organization org-mock on {kind} per {_per_text(b.per)} "
                f"({abbrev}): Limit {b.limit}, Requested {requested}. The input or output tokens must be reduced "
                "in order to run successfully."
            )
        status, headers, body = _openai_error(429, message, kind, "rate_limit_exceeded")
        headers += [("retry-after-ms", str(ms)), ("retry-after", str(seconds))]
        return status, headers + snapshot_headers(OPENAI, b.snapshot), body
    if provider == ANTHROPIC:
        what = b.dimension.replace("_", " ")
        message = (
            f"This request would exceed the rate limit for your organization (org-mock) of {b.limit} {what} per "
            f"{_per_text(b.per)}. For details, refer to: https://docs.claude.com/en/api/rate-limits."
        )
        status, headers, body = _anthropic_error(429, "rate_limit_error", message)
        headers.append(("retry-after", str(seconds)))
        return status, headers + snapshot_headers(ANTHROPIC, b.snapshot), body
    metric, quota_id = {
        "requests": ("generate_content_requests", "GenerateRequestsPerMinutePerProjectPerModel"),
        "tokens": ("generate_content_input_token_count", "GenerateContentInputTokensPerModelPerMinute"),
        "input_tokens": ("generate_content_input_token_count", "GenerateContentInputTokensPerModelPerMinute"),
        "output_tokens": ("generate_content_output_token_count", "GenerateContentOutputTokensPerModelPerMinute"),
    }[b.dimension]
    violation = {
        "quotaMetric": f"generativelanguage.googleapis.com/{metric}",
        "quotaId": quota_id,
        "quotaDimensions": {"location": "global", "model": b.model or ""},
        "quotaValue": str(b.limit),
    }
    delay = f"{ms // 1000}.{ms % 1000:03d}".rstrip("0").rstrip(".") + "s"
    details: list[dict[str, Any]] = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
    ]
    message = (
        "You exceeded your current quota, please check your plan and billing details.\n"
        f"* Quota exceeded for metric: generativelanguage.googleapis.com/{metric}, limit: {b.limit}, "
        f"model: {b.model or ''}\nPlease retry in {wait:.6f}s."
    )
    return _gemini_error(429, "RESOURCE_EXHAUSTED", message, details)
