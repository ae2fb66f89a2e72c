"""Scripted behaviours for :class:`~byok_client.testing.MockProvider` and the provider-shaped error bodies."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import Any, Final

__all__ = [
    "BadRequest",
    "Behaviour",
    "ConnectionReset",
    "Delay",
    "InvalidKey",
    "Ok",
    "QuotaExhausted",
    "RateLimited",
    "ResetMidBody",
    "ServerError",
    "Stall",
    "TruncatedStream",
    "bad_request",
    "connection_reset",
    "delay",
    "invalid_key",
    "ok",
    "quota_exhausted",
    "rate_limited",
    "reset_mid_body",
    "server_error",
    "stall",
    "truncated_stream",
]

Headers = list[tuple[str, str]]
"""Response headers as ``(lower-case name, value)`` pairs."""

ErrorResponse = tuple[int, Headers, bytes]
"""``(status, headers, body)`` of an error answer."""

OPENAI: Final = "openai"
ANTHROPIC: Final = "anthropic"
GEMINI: Final = "gemini"


# --------------------------------------------------------------------------------------------------------------------
# Behaviours
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Behaviour:
    """Base type of everything a key can be scripted to do for one request."""


@dataclass(frozen=True, slots=True)
class Ok(Behaviour):
    """Answer normally (see :func:`ok`)."""


@dataclass(frozen=True, slots=True)
class RateLimited(Behaviour):
    """Answer 429 rate limited (see :func:`rate_limited`)."""

    retry_after: float | None = None
    retry_after_ms: float | None = None
    reset_requests: str | None = None
    reset_tokens: str | None = None
    retry_date: bool = False


@dataclass(frozen=True, slots=True)
class QuotaExhausted(Behaviour):
    """Answer with the provider's out-of-quota / out-of-credit error (see :func:`quota_exhausted`)."""

    per_day: bool = True


@dataclass(frozen=True, slots=True)
class InvalidKey(Behaviour):
    """Answer with the provider's invalid-API-key error (see :func:`invalid_key`)."""


@dataclass(frozen=True, slots=True)
class ServerError(Behaviour):
    """Answer with a 5xx server error (see :func:`server_error`)."""

    status: int = 500


@dataclass(frozen=True, slots=True)
class BadRequest(Behaviour):
    """Answer 400 with the provider's ordinary invalid-request error (see :func:`bad_request`)."""


@dataclass(frozen=True, slots=True)
class Delay(Behaviour):
    """Wait ``seconds`` (without blocking the server), then behave as ``then`` (see :func:`delay`)."""

    seconds: float
    then: Behaviour = field(default_factory=Ok)


@dataclass(frozen=True, slots=True)
class ConnectionReset(Behaviour):
    """Reset the TCP connection before any byte of the answer (see :func:`connection_reset`)."""


@dataclass(frozen=True, slots=True)
class ResetMidBody(Behaviour):
    """Send the status line and headers of the answer ``status`` would give, part of its body, then reset
    (see :func:`reset_mid_body`)."""

    status: int = 200


@dataclass(frozen=True, slots=True)
class Stall(Behaviour):
    """Send the status line and headers, then no body byte for ``seconds``, then reset (see :func:`stall`)."""

    seconds: float
    status: int = 200


@dataclass(frozen=True, slots=True)
class TruncatedStream(Behaviour):
    """Send the first ``events`` events of a streamed answer, then close without the rest (see
    :func:`truncated_stream`)."""

    events: int | None = None


_OK: Final = Ok()


def ok() -> Ok:
    """A normal, successful answer ("served by <label>")."""
    return _OK


def rate_limited(
    retry_after: float | None = None,
    retry_after_ms: float | None = None,
    reset_requests: str | None = None,
    reset_tokens: str | None = None,
    retry_date: bool = False,
) -> RateLimited:
    """A 429 rate-limit answer.

    Only the hints given are sent: ``retry-after`` (seconds, or an HTTP date when ``retry_date``), ``retry-after-ms``,
    and for OpenAI ``x-ratelimit-reset-requests`` / ``x-ratelimit-reset-tokens`` (e.g. ``"6m0s"``). Anthropic also
    gets ``anthropic-ratelimit-requests-reset`` (RFC 3339) and Gemini a ``RetryInfo`` detail when a delay is given.
    """
    return RateLimited(retry_after, retry_after_ms, reset_requests, reset_tokens, retry_date)


def quota_exhausted(per_day: bool = True) -> QuotaExhausted:
    """The provider's "out of quota / credit" answer: OpenAI 429 ``insufficient_quota``, Anthropic 400 "credit
    balance is too low", Gemini 429 ``RESOURCE_EXHAUSTED`` with a per-day ``QuotaFailure`` violation, or, when not
    ``per_day``, a zero-limit violation ("limit: 0": the model is not available on the key's tier).
    """
    return QuotaExhausted(per_day)


def invalid_key() -> InvalidKey:
    """The provider's invalid-API-key answer (401 OpenAI/Anthropic, 400 ``API_KEY_INVALID`` Gemini)."""
    return InvalidKey()


def server_error(status: int = 500) -> ServerError:
    """A 5xx answer; Anthropic uses ``overloaded_error`` for 529, Gemini ``UNAVAILABLE`` for 503."""
    if not 500 <= status <= 599:
        raise ValueError(f"server_error status must be 5xx, got {status}")
    return ServerError(status)


def bad_request() -> BadRequest:
    """A 400 invalid-request answer that is not about the key."""
    return BadRequest()


def delay(seconds: float, then: Behaviour | None = None) -> Delay:
    """Wait ``seconds`` (an ``asyncio.sleep`` inside the server), then behave as ``then`` (default :func:`ok`)."""
    if seconds < 0:
        raise ValueError("delay seconds must be >= 0")
    return Delay(float(seconds), _OK if then is None else then)


def connection_reset() -> ConnectionReset:
    """Reset the connection (TCP RST) before sending any response byte: SDKs raise their connection error."""
    return ConnectionReset()


def _check_status(status: int) -> int:
    if status != 200 and status not in (429, 401) and not 500 <= status <= 599:
        raise ValueError(f"status must be 200, 401, 429 or 5xx, got {status}")
    return status


def reset_mid_body(status: int = 200) -> ResetMidBody:
    """Send the head of the answer (200: the normal one; 429, 401, 5xx: that error's shape), half its body, then
    reset the connection."""
    return ResetMidBody(_check_status(status))


def stall(seconds: float, status: int = 200) -> Stall:
    """Send the head of the answer (as :func:`reset_mid_body`), then nothing for ``seconds`` (choose it longer than
    the client's read timeout), then reset the connection."""
    if seconds < 0:
        raise ValueError("stall seconds must be >= 0")
    return Stall(float(seconds), _check_status(status))


def truncated_stream(events: int | None = None) -> TruncatedStream:
    """Send the first ``events`` chunks of a streamed answer (default: half), then close the connection cleanly
    without the final event or the terminating chunk. A non-streamed answer is cut after half its body."""
    if events is not None and events < 0:
        raise ValueError("truncated_stream events must be >= 0")
    return TruncatedStream(events)


def fault_name(behaviour: Behaviour) -> str | None:
    """The fault kind a behaviour applies, as recorded in :attr:`RecordedRequest.fault` (``None`` for an answer)."""
    while isinstance(behaviour, Delay):
        behaviour = behaviour.then
    if isinstance(behaviour, RateLimited):
        return "429"
    if isinstance(behaviour, ServerError):
        return str(behaviour.status)
    if isinstance(behaviour, InvalidKey):
        return "401"
    if isinstance(behaviour, QuotaExhausted):
        return "quota"
    if isinstance(behaviour, BadRequest):
        return "400"
    if isinstance(behaviour, ConnectionReset):
        return "reset"
    if isinstance(behaviour, ResetMidBody):
        return "reset_mid_body"
    if isinstance(behaviour, Stall):
        return "stall"
    if isinstance(behaviour, TruncatedStream):
        return "truncated_stream"
    return None


# --------------------------------------------------------------------------------------------------------------------
# Provider-shaped error answers
# --------------------------------------------------------------------------------------------------------------------

_JSON: Final = ("content-type", "application/json")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _num(value: float) -> str:
    """Render a number of seconds the way servers do: ``30`` rather than ``30.0``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def request_id(provider: str) -> tuple[str, str]:
    """The request-id header a provider sends with every answer."""
    if provider == ANTHROPIC:
        return ("request-id", "req_" + secrets.token_hex(12))
    return ("x-request-id", "req_" + secrets.token_hex(16))


def mask_key(key: str) -> str:
    """Mask a key the way OpenAI does in its error messages; never returns the whole key."""
    if len(key) < 12:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


def _openai_error(status: int, message: str, type_: str, code: str | None, param: str | None = None) -> ErrorResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return status, [_JSON, request_id(OPENAI)], _dumps(body)


def _anthropic_error(status: int, type_: str, message: str) -> ErrorResponse:
    rid = request_id(ANTHROPIC)
    body = {"type": "error", "error": {"type": type_, "message": message}, "request_id": rid[1]}
    headers: Headers = [_JSON, rid]
    if status in (429, 529):
        headers.append(("x-should-retry", "true"))
    return status, headers, _dumps(body)


def _gemini_error(
    status: int, grpc_status: str, message: str, details: list[dict[str, Any]] | None = None
) -> ErrorResponse:
    error: dict[str, Any] = {"code": status, "message": message, "status": grpc_status}
    if details:
        error["details"] = details
    return status, [_JSON], _dumps({"error": error})


def _quota_failure(quota_id: str, metric: str = "generate_content_free_tier_requests", **extra: Any) -> dict[str, Any]:
    violation = {"quotaMetric": f"generativelanguage.googleapis.com/{metric}", "quotaId": quota_id, **extra}
    return {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]}


_GEMINI_HELP: Final = {
    "@type": "type.googleapis.com/google.rpc.Help",
    "links": [
        {
            "description": "Learn more about Gemini API quotas",
            "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
        }
    ],
}


def _retry_seconds(b: RateLimited) -> float | None:
    if b.retry_after is not None:
        return b.retry_after
    if b.retry_after_ms is not None:
        return b.retry_after_ms / 1000.0
    return None


def _retry_after_headers(b: RateLimited) -> Headers:
    headers: Headers = []
    if b.retry_after is not None:
        if b.retry_date:
            headers.append(("retry-after", formatdate(time.time() + b.retry_after, usegmt=True)))
        else:
            headers.append(("retry-after", _num(b.retry_after)))
    if b.retry_after_ms is not None:
        headers.append(("retry-after-ms", _num(b.retry_after_ms)))
    return headers


def _rfc3339(seconds_from_now: float) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds_from_now)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


_OPENAI_RATE_MSG: Final = (
    "Rate limit reached for requests in organization org-mock on requests per min (RPM): Limit 3, Used 3, "
    "Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more."
)
_OPENAI_QUOTA_MSG: Final = (
    "You exceeded your current quota, please check your plan and billing details. For more information on this "
    "error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
)
_ANTHROPIC_CREDIT_MSG: Final = (
    "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or "
    "purchase credits."
)
_GEMINI_QUOTA_MSG: Final = (
    "You exceeded your current quota, please check your plan and billing details. For more information on this "
    "error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)


def behaviour_error(behaviour: Behaviour, provider: str, key: str) -> ErrorResponse | None:
    """The error answer ``behaviour`` gives on ``provider`` (``None`` for :class:`Ok`; ``Delay`` is unwrapped)."""
    while isinstance(behaviour, Delay):
        behaviour = behaviour.then
    if isinstance(behaviour, Ok):
        return None
    if isinstance(behaviour, RateLimited):
        return _rate_limited(behaviour, provider)
    if isinstance(behaviour, QuotaExhausted):
        return _quota_exhausted(behaviour, provider)
    if isinstance(behaviour, InvalidKey):
        return invalid_key_error(provider, key)
    if isinstance(behaviour, ServerError):
        return _server_error(behaviour.status, provider)
    if isinstance(behaviour, BadRequest):
        return _bad_request(provider)
    raise TypeError(f"unknown behaviour {behaviour!r}")


def _rate_limited(b: RateLimited, provider: str) -> ErrorResponse:
    if provider == OPENAI:
        status, headers, body = _openai_error(429, _OPENAI_RATE_MSG, "requests", "rate_limit_exceeded")
        headers += _retry_after_headers(b)
        if b.reset_requests is not None:
            headers.append(("x-ratelimit-reset-requests", b.reset_requests))
        if b.reset_tokens is not None:
            headers.append(("x-ratelimit-reset-tokens", b.reset_tokens))
        return status, headers, body
    if provider == ANTHROPIC:
        status, headers, body = _anthropic_error(
            429,
            "rate_limit_error",
            "This request would exceed the rate limit for your organization of 50 requests per minute. "
            "For details, refer to: https://docs.claude.com/en/api/rate-limits.",
        )
        headers += _retry_after_headers(b)
        seconds = _retry_seconds(b)
        if seconds is not None:
            headers.append(("anthropic-ratelimit-requests-reset", _rfc3339(seconds)))
        return status, headers, body
    details: list[dict[str, Any]] = [
        _quota_failure("GenerateRequestsPerMinutePerProjectPerModel-FreeTier"),
        _GEMINI_HELP,
    ]
    seconds = _retry_seconds(b)
    if seconds is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": _num(seconds) + "s"})
    return _gemini_error(429, "RESOURCE_EXHAUSTED", _GEMINI_QUOTA_MSG, details)


def _quota_exhausted(b: QuotaExhausted, provider: str) -> ErrorResponse:
    if provider == OPENAI:
        return _openai_error(429, _OPENAI_QUOTA_MSG, "insufficient_quota", "insufficient_quota")
    if provider == ANTHROPIC:
        return _anthropic_error(400, "invalid_request_error", _ANTHROPIC_CREDIT_MSG)
    dimensions = {"location": "global", "model": "gemini-2.5-flash"}
    if b.per_day:
        # as seen in the wild: the per-day violation, and a RetryInfo that is misleading (the quota resets tomorrow)
        quota = _quota_failure(
            "GenerateRequestsPerDayPerProjectPerModel-FreeTier", quotaDimensions=dimensions, quotaValue="250"
        )
        retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "47s"}
        return _gemini_error(429, "RESOURCE_EXHAUSTED", _GEMINI_QUOTA_MSG, [_GEMINI_HELP, quota, retry])
    # a zero limit: the model is not available on this key's tier at all
    quota = _quota_failure(
        "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", quotaDimensions=dimensions, quotaValue="0"
    )
    message = (
        _GEMINI_QUOTA_MSG + "\n* Quota exceeded for metric: generativelanguage.googleapis.com/"
        "generate_content_free_tier_requests, limit: 0, model: gemini-2.5-flash"
    )
    return _gemini_error(429, "RESOURCE_EXHAUSTED", message, [_GEMINI_HELP, quota])


def invalid_key_error(provider: str, key: str) -> ErrorResponse:
    """The provider's answer to an API key it does not accept (the key is masked, never echoed)."""
    if provider == OPENAI:
        message = (
            f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )
        return _openai_error(401, message, "invalid_request_error", "invalid_api_key")
    if provider == ANTHROPIC:
        return _anthropic_error(401, "authentication_error", "invalid x-api-key")
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        },
        {
            "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
            "locale": "en-US",
            "message": "API key not valid. Please pass a valid API key.",
        },
    ]
    return _gemini_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", details)


def missing_key_error(provider: str) -> ErrorResponse:
    """The provider's answer to a request that carries no credential."""
    if provider == OPENAI:
        message = (
            "You didn't provide an API key. You need to provide your API key in an Authorization header using "
            "Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if "
            "you're accessing the API from your browser and are prompted for a username. You can obtain an API key "
            "from https://platform.openai.com/account/api-keys."
        )
        return _openai_error(401, message, "invalid_request_error", None)
    if provider == ANTHROPIC:
        return _anthropic_error(401, "authentication_error", "x-api-key header is required")
    return _gemini_error(
        403,
        "PERMISSION_DENIED",
        "Method doesn't allow unregistered callers (callers without established identity). "
        "Please use API Key or other form of API consumer identity to call this API.",
    )


MULTIPLE_CREDENTIALS_BODY: Final = _dumps(
    {"error": {"message": "multiple credential headers", "type": "invalid_request_error"}}
)


def multiple_credentials_error(provider: str) -> ErrorResponse:
    """The (mock-specific) 400 for a request that carries more than one credential header."""
    headers: Headers = [_JSON] if provider == GEMINI else [_JSON, request_id(provider)]
    return 400, headers, MULTIPLE_CREDENTIALS_BODY


def _server_error(status: int, provider: str) -> ErrorResponse:
    if provider == OPENAI:
        return _openai_error(status, "The server had an error while processing your request.", "server_error", None)
    if provider == ANTHROPIC:
        if status == 529:
            return _anthropic_error(529, "overloaded_error", "Overloaded")
        return _anthropic_error(status, "api_error", "Internal server error")
    if status == 503:
        return _gemini_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
    if status == 504:
        return _gemini_error(504, "DEADLINE_EXCEEDED", "The request timed out. Please try again.")
    return _gemini_error(
        status,
        "INTERNAL",
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
    )


def _bad_request(provider: str) -> ErrorResponse:
    if provider == OPENAI:
        return _openai_error(
            400,
            "Invalid 'messages[0].role': expected one of 'system', 'assistant', 'user', 'tool', or 'developer'.",
            "invalid_request_error",
            None,
            param="messages",
        )
    if provider == ANTHROPIC:
        return _anthropic_error(
            400, "invalid_request_error", 'messages: roles must alternate between "user" and "assistant"'
        )
    return _gemini_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")


def not_found_error(provider: str, method: str, path: str) -> ErrorResponse:
    """The provider's 404 for a path the mock does not serve."""
    if provider == OPENAI:
        return _openai_error(404, f"Invalid URL ({method} {path})", "invalid_request_error", None)
    if provider == ANTHROPIC:
        return _anthropic_error(404, "not_found_error", "Not found")
    return _gemini_error(404, "NOT_FOUND", f"Requested entity was not found: {method} {path}")
