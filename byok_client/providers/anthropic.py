"""Anthropic: ``{"type": "error", "error": {"type", "message"}}`` bodies and ``anthropic-ratelimit-*`` headers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from ..core.policy import Failure, Verdict
from .base import Provider, json_body, rate_limit

__all__ = ["AnthropicProvider", "anthropic_reset"]

_LIMITS = ("requests", "tokens", "input-tokens", "output-tokens")
# Anthropic reports spend limits and empty credit balances as 400 invalid_request_error; only the message tells.
_CREDIT_LOW = "credit balance is too low"
_USAGE_LIMIT = "reached your specified api usage limits"
_REGAIN = re.compile(r"regain access on (\d{4}-\d{2}-\d{2}) at (\d{2}:\d{2}) UTC", re.IGNORECASE)
_ORG_DISABLED = "this organization has been disabled"
_SPEND_CODES = frozenset({"enforced_spend_limit_reached"})


def _seconds_until(moment: datetime) -> float:
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


def _reset_in(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _seconds_until(moment)


class AnthropicProvider(Provider):
    """Anthropic's Messages API."""

    name = "anthropic"
    # requests and tokens first (read on every response); input and output tokens also count for a 429's reset
    limits = tuple((f"anthropic-ratelimit-{kind}-remaining", f"anthropic-ratelimit-{kind}-reset") for kind in _LIMITS)
    limit_headers = frozenset(name.encode() for pair in limits[:2] for name in pair)

    def parse_reset(self, text: str) -> float | None:
        return _reset_in(text)

    env_list = ("ANTHROPIC_API_KEYS",)
    env_numbered = ("ANTHROPIC_API_KEY_",)

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        data = json_body(body) or {}
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        assert isinstance(error, dict)
        kind = str(error.get("type") or error.get("code") or "").lower()
        message = str(error.get("message") or "")
        lowered = message.lower()
        details = error.get("details")
        detail_code = str(details.get("error_code", "")).lower() if isinstance(details, dict) else ""
        if status == 402 or kind == "billing_error" or detail_code in _SPEND_CODES:
            return Verdict(Failure.QUOTA_EXHAUSTED, None, kind or "billing")
        if status == 400 and _CREDIT_LOW in lowered:
            return Verdict(Failure.QUOTA_EXHAUSTED, None, "credit balance too low")
        if status == 400 and _USAGE_LIMIT in lowered:
            match = _REGAIN.search(message)
            until = None
            if match:
                moment = datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}:00+00:00")
                until = _seconds_until(moment)
            return Verdict(Failure.QUOTA_EXHAUSTED, until, "API usage limit reached")
        if status == 400 and _ORG_DISABLED in lowered:
            return Verdict(Failure.INVALID_KEY, None, "organization disabled")
        if status == 429:
            return rate_limit(self.limit_reset(headers))
        if status in (401, 403) or kind in ("authentication_error", "permission_error"):
            return Verdict(Failure.INVALID_KEY, None, kind or f"HTTP {status}")
        if status >= 500:
            return Verdict(Failure.SERVER_ERROR, None, kind or f"HTTP {status}")
        return Verdict(Failure.CLIENT_ERROR, None, kind or f"HTTP {status}")


def anthropic_reset(headers: Mapping[str, str]) -> float | None:
    """When a rate-limited Anthropic key is usable again (see ``Provider.limit_reset``)."""
    return _ANTHROPIC.limit_reset(headers)


_ANTHROPIC = AnthropicProvider()
