"""OpenAI and OpenAI-compatible APIs: Bearer auth, ``{"error": {...}}`` bodies, ``x-ratelimit-*`` headers."""

from __future__ import annotations

from collections.abc import Mapping

from .._policy import Failure, Verdict
from .base import Provider, json_body, parse_duration, parse_retry_after

__all__ = ["OpenAIProvider"]

QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"})
INVALID_KEY_CODES = frozenset({"invalid_api_key", "account_deactivated", "api_key_revoked", "invalid_authentication"})


def error_codes(body: bytes) -> frozenset[str]:
    """The ``code`` and ``type`` of an OpenAI-shaped error body (lower-case)."""
    data = json_body(body)
    error = data.get("error") if data else None
    if not isinstance(error, dict):
        return frozenset()
    return frozenset(str(error[f]).lower() for f in ("code", "type") if isinstance(error.get(f), str))


def openai_reset(headers: Mapping[str, str]) -> float | None:
    """When a rate-limited key is usable again: ``retry-after-ms``, ``retry-after``, then the
    ``x-ratelimit-reset-*`` of the exhausted limit (both present and neither at 0: the later one)."""
    explicit = parse_retry_after(headers)
    if explicit is not None:
        return explicit
    resets: list[float] = []
    exhausted: list[float] = []
    for kind in ("requests", "tokens"):
        raw = headers.get(f"x-ratelimit-reset-{kind}")
        reset = parse_duration(raw) if raw else None
        if reset is None:
            continue
        resets.append(reset)
        if headers.get(f"x-ratelimit-remaining-{kind}", "").strip() == "0":
            exhausted.append(reset)
    if exhausted:
        return max(exhausted)
    return max(resets) if resets else None


class OpenAIProvider(Provider):
    """OpenAI's API and the many that copy its shapes (Groq, DeepSeek, Mistral, Together, OpenRouter, vLLM)."""

    name = "openai"
    env_list = ("OPENAI_API_KEYS",)
    env_numbered = ("OPENAI_API_KEY_",)

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        codes = error_codes(body)
        if status == 402 or (status in (400, 403, 429) and codes & QUOTA_CODES):
            return Verdict(Failure.QUOTA_EXHAUSTED, None, "quota exhausted")
        if status == 429:
            return Verdict(Failure.RATE_LIMITED, openai_reset(headers), "rate limited")
        if status == 401 or (status == 403 and codes & INVALID_KEY_CODES):
            return Verdict(Failure.INVALID_KEY, None, f"HTTP {status} {'/'.join(sorted(codes)) or 'unauthorized'}")
        if status >= 500:
            return Verdict(Failure.SERVER_ERROR, None, f"HTTP {status}")
        return Verdict(Failure.CLIENT_ERROR, None, f"HTTP {status}")
