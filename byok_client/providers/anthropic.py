"""Anthropic: ``{"type": "error", "error": {"type", "message"}}`` bodies and ``anthropic-ratelimit-*`` headers."""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from ..core.policy import Failure, Verdict
from .base import TEXT_TYPES, Provider, json_body, json_top_level_string, object_field, rate_limit, text_field

__all__ = ["AnthropicProvider", "anthropic_reset", "regain_access_in"]

_LIMITS = ("requests", "tokens", "input-tokens", "output-tokens")
# Anthropic reports spend limits and empty credit balances as 400 invalid_request_error; only the message tells.
_CREDIT_LOW = "credit balance is too low"
_USAGE_LIMIT = "reached your specified api usage limits"
_REGAIN = re.compile(r"regain access on ([0-9]{4}-[0-9]{2}-[0-9]{2}) at ([0-9]{2}:[0-9]{2}) UTC", re.IGNORECASE)
_ORG_DISABLED = "this organization has been disabled"
_SPEND_CODES = frozenset({"enforced_spend_limit_reached"})


@functools.lru_cache(maxsize=1024)
def _moment(raw: str | bytes) -> float | None:
    """The POSIX time of an RFC 3339 moment (naive means UTC), or None if it cannot be read. Cached: every
    response carries two reset moments, and the same moment comes back on many responses in a row."""
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    except (ValueError, OverflowError):
        return None


def _reset_in(text: object) -> float | None:
    """Seconds until an RFC 3339 moment (``2025-06-02T15:15:48Z``; naive means UTC), as text or the transports'
    bytes: 0 if it is past, None if it cannot be read. Never raises."""
    if not text or not isinstance(text, TEXT_TYPES) or len(text) > 64:  # no RFC 3339 moment is longer
        return None
    at = _moment(text)
    return None if at is None else max(at - time.time(), 0.0)


def regain_access_in(message: str) -> float | None:
    """Seconds until the "regain access on 2026-04-01 at 00:00 UTC" moment of a usage-limit message: 0 if it is
    past, None if the message names no date or an impossible one (2026-13-45). Never raises."""
    match = _REGAIN.search(message)
    if match is None:
        return None
    return _reset_in(f"{match.group(1)}T{match.group(2)}:00+00:00")


class AnthropicProvider(Provider):
    """Anthropic's Messages API."""

    name = "anthropic"
    # requests and tokens first (read on every response); input and output tokens also count for a 429's reset
    limits = tuple((f"anthropic-ratelimit-{kind}-remaining", f"anthropic-ratelimit-{kind}-reset") for kind in _LIMITS)
    limit_totals = ("anthropic-ratelimit-requests-limit", "anthropic-ratelimit-tokens-limit")
    limit_headers = frozenset(name.encode() for pair in (*limits[:2], limit_totals) for name in pair)

    def rejection(self, message: str) -> bytes:
        return json.dumps({"type": "error", "error": {"type": "rate_limit_error", "message": message}}).encode()

    def parse_reset(self, text: str) -> float | None:
        return _reset_in(text)

    _parse_raw = staticmethod(_reset_in)  # the transports' bytes are read as they are (no decoding per response)

    env_list = ("ANTHROPIC_API_KEYS",)
    env_numbered = ("ANTHROPIC_API_KEY_",)

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        """Anthropic's error classes (see ``Provider.classify``; never raises). Rate limits are per model (the
        request's); billing, credit and usage-limit errors bind the whole key."""
        error = object_field(json_body(body), "error")
        kind = (text_field(error, "type") or text_field(error, "code")).lower()
        message = text_field(error, "message")
        lowered = message.lower()
        detail_code = text_field(object_field(error, "details"), "error_code").lower()
        if status == 402 or kind == "billing_error" or detail_code in _SPEND_CODES:
            return Verdict(Failure.QUOTA_EXHAUSTED, None, kind or "billing")
        if status == 400 and _CREDIT_LOW in lowered:
            return Verdict(Failure.QUOTA_EXHAUSTED, None, "credit balance too low")
        if status == 400 and _USAGE_LIMIT in lowered:
            return Verdict(Failure.QUOTA_EXHAUSTED, regain_access_in(message), "API usage limit reached")
        if status == 400 and _ORG_DISABLED in lowered:
            return Verdict(Failure.INVALID_KEY, None, "organization disabled")
        if status == 429:
            # Anthropic's limits are set per model class; the organisation-wide ones are the spend limits above.
            return rate_limit(self.limit_reset(headers), per_model=True)
        if status in (401, 403) or kind in ("authentication_error", "permission_error"):
            return Verdict(Failure.INVALID_KEY, None, kind or f"HTTP {status}")
        if status >= 500:
            return Verdict(Failure.SERVER_ERROR, None, kind or f"HTTP {status}")
        return Verdict(Failure.CLIENT_ERROR, None, kind or f"HTTP {status}")

    def request_model(self, path: str, body: bytes) -> str | None:
        """The top-level ``"model"`` of the JSON body (see ``json_top_level_string``)."""
        return json_top_level_string(body, "model")


def anthropic_reset(headers: Mapping[str, str]) -> float | None:
    """When a rate-limited Anthropic key is usable again (see ``Provider.limit_reset``)."""
    return _ANTHROPIC.limit_reset(headers)


_ANTHROPIC = AnthropicProvider()
