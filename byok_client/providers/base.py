"""What every provider module supplies: where the key goes, where keys come from, how errors read."""

from __future__ import annotations

import email.utils
import functools
import json
import re
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

from ..core.keys import Key
from ..core.policy import Failure, Verdict

__all__ = [
    "CREDENTIAL_HEADERS",
    "PLACEHOLDER_KEY",
    "QUOTA_AFTER",
    "Provider",
    "header_value",
    "int_header",
    "str_header",
    "json_body",
    "parse_duration",
    "parse_retry_after",
    "rate_limit",
]

# Every header an SDK may carry a key in. We replace the one the SDK used and drop the others.
CREDENTIAL_HEADERS: tuple[str, ...] = ("authorization", "x-api-key", "x-goog-api-key", "api-key")

# Handed to an SDK as its api_key when managed keys exist, so its constructor does not demand one.
# The transport always replaces it; it is stripped from requests to other origins.
PLACEHOLDER_KEY = "byok-managed-key"

_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)(ms|h|m|s))")


@functools.lru_cache(maxsize=4096)
def parse_duration(text: str) -> float | None:
    """Seconds in a Go-style duration as OpenAI's ``x-ratelimit-reset-*`` headers send it (``6m0s``, ``12ms``,
    ``1h2m3.5s``, ``0.5s``); a bare number is seconds. None if unreadable."""
    text = text.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * scale[u] for n, u in parts)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date). None if absent or bad."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(float(value) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(email.utils.mktime_tz(parsed) - time.time(), 0.0)


def _lookup(headers: Mapping[Any, Any], name: str) -> Any:
    if type(headers) is dict:  # the transports' {bytes: bytes} view, or a plain dict in tests
        found = headers.get(name.encode())
        return found if found is not None else headers.get(name)
    return headers.get(name)


def _to_int(raw: bytes | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def header_value(header: str, key: Key) -> str:
    """How a key is written in a credential header: ``Bearer <key>`` in ``authorization``, the bare key elsewhere."""
    value = key.get_secret_value()
    return "Bearer " + value if header == "authorization" else value


def int_header(headers: Mapping[Any, Any], name: str) -> int | None:
    """An integer header's value, or None if absent or not an integer. ``headers`` may be str-keyed (a Headers
    object) or the transports' ``{bytes: bytes}`` view of the rate-limit headers."""
    raw = _lookup(headers, name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def str_header(headers: Mapping[Any, Any], name: str) -> str | None:
    """A header's value as text, from a str-keyed mapping or a ``{bytes: bytes}`` view."""
    raw = _lookup(headers, name)
    if isinstance(raw, bytes):
        return raw.decode("latin-1")
    return raw if isinstance(raw, str) else None


def json_body(body: bytes) -> dict[str, Any] | None:
    """The error body as a JSON object, or None (not JSON, or not an object)."""
    if not body:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


QUOTA_AFTER = 3600.0
"""A rate limit that resets this far away is a quota: retrying soon cannot help (Azure's "retry after 86400")."""


def rate_limit(retry_after: float | None, reason: str = "rate limited") -> Verdict:
    """A rate-limit verdict, or a quota verdict when the reset is an hour or more away."""
    if retry_after is not None and retry_after >= QUOTA_AFTER:
        return Verdict(Failure.QUOTA_EXHAUSTED, retry_after, f"{reason} for {retry_after:.0f} s")
    return Verdict(Failure.RATE_LIMITED, retry_after, reason)


class Provider:
    """A provider's specifics. Subclasses set the attributes and implement ``classify``."""

    name: str = ""
    env_list: tuple[str, ...] = ()
    """Env vars holding a comma- or newline-separated key list, in precedence order."""
    env_numbered: tuple[str, ...] = ()
    """Prefixes of numbered env vars (``OPENAI_API_KEY_`` → ``OPENAI_API_KEY_1``, ``_2``, ...)."""
    default_header: str = "authorization"
    """Where the key goes when the SDK put no credential header on the request."""
    exclusive_header: bool = False
    """Always use ``default_header``, moving the SDK's credential there (Azure's ``api-key``)."""

    limit_headers: frozenset[bytes] | None = None
    """The lower-case names of the headers ``read_limits`` reads (lets transports pass just those)."""
    pins_sessions: bool = False
    """Whether some requests must go out with the key an earlier request used (resumable uploads)."""

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        """Read a failed response (status >= 400). ``headers`` must answer lower-case names."""
        raise NotImplementedError

    limits: tuple[tuple[str, str], ...] = ()
    """(remaining header, reset header) per limit the provider reports, requests first, then tokens."""

    def parse_reset(self, text: str) -> float | None:
        """Seconds until a reset, from a reset header's text (Go durations by default)."""
        return parse_duration(text)

    def read_limits(
        self, headers: Mapping[str, str]
    ) -> tuple[int | None, int | None, float | None, float | None] | None:
        """What a response says of the key's limits: (remaining requests, remaining tokens, seconds until each
        resets), or None when it says nothing. Called on every response, so it must be cheap: the transports pass
        a ``{bytes: bytes}`` view holding just ``limit_headers``."""
        if len(self.limits) < 2:
            return None
        if type(headers) is dict and (view := self._byte_names) is not None:
            (requests_b, requests_reset_b), (tokens_b, tokens_reset_b) = view
            raw_requests, raw_tokens = headers.get(requests_b), headers.get(tokens_b)
            if raw_requests is not None or raw_tokens is not None:
                return (
                    _to_int(raw_requests),
                    _to_int(raw_tokens),
                    self._parse_raw(headers.get(requests_reset_b)),
                    self._parse_raw(headers.get(tokens_reset_b)),
                )
        (requests_name, requests_reset), (tokens_name, tokens_reset) = self.limits[0], self.limits[1]
        requests = int_header(headers, requests_name)
        tokens = int_header(headers, tokens_name)
        if requests is None and tokens is None:
            return None
        return requests, tokens, self._reset(headers, requests_reset), self._reset(headers, tokens_reset)

    @property
    def _byte_names(self) -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]] | None:
        names = self.__dict__.get("_byte_names_cache")
        if names is None and len(self.limits) >= 2:
            (a, b), (c, d) = self.limits[0], self.limits[1]
            names = ((a.encode(), b.encode()), (c.encode(), d.encode()))
            self.__dict__["_byte_names_cache"] = names
        return names

    def _parse_raw(self, raw: bytes | None) -> float | None:
        return self.parse_reset(raw.decode("latin-1")) if raw else None

    def _reset(self, headers: Mapping[str, str], name: str) -> float | None:
        text = str_header(headers, name)
        return self.parse_reset(text) if text else None

    def limit_reset(self, headers: Mapping[str, str]) -> float | None:
        """When a rate-limited key is usable again: ``retry-after-ms`` / ``retry-after``, else the reset of each
        exhausted limit (remaining 0), else the latest reset given; None if the headers say nothing."""
        explicit = parse_retry_after(headers)
        if explicit is not None:
            return explicit
        resets: list[float] = []
        exhausted: list[float] = []
        for remaining_name, reset_name in self.limits:
            wait = self._reset(headers, reset_name)
            if wait is None:
                continue
            resets.append(wait)
            if int_header(headers, remaining_name) == 0:
                exhausted.append(wait)
        if exhausted:
            return max(exhausted)
        return max(resets) if resets else None

    def pinned_key(self, url: str) -> Key | None:
        """The key a request to ``url`` must use, without failover (only when ``pins_sessions``)."""
        return None

    def on_success(self, headers: Mapping[str, str], key: Key) -> None:
        """Called with each successful response's headers and the key that got it."""

    def inject(self, headers: MutableMapping[str, str], key: Key) -> None:
        """Put ``key`` where the SDK put its own credential (the header holding our placeholder, else the first
        credential header present), and make sure no second credential goes out."""
        used = [name for name in CREDENTIAL_HEADERS if name in headers]
        if self.exclusive_header or not used:
            target = self.default_header
        else:
            target = next((n for n in used if headers[n].removeprefix("Bearer ").startswith(PLACEHOLDER_KEY)), used[0])
        for name in used:
            if name != target:
                del headers[name]
        headers[target] = header_value(target, key)

    def strip_placeholder(self, headers: MutableMapping[str, str]) -> None:
        """Remove our placeholder credential from a request that goes out without a managed key."""
        for name in CREDENTIAL_HEADERS:
            value = headers.get(name)
            if value is not None and value.removeprefix("Bearer ").startswith(PLACEHOLDER_KEY):
                del headers[name]

    def __repr__(self) -> str:
        return f"<provider {self.name}>"
