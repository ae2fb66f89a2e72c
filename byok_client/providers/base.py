"""What every provider module supplies: where the key goes, where keys come from, how errors read."""

from __future__ import annotations

import email.utils
import functools
import json
import math
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
    "finite_seconds",
    "json_body",
    "json_top_level_string",
    "object_field",
    "parse_duration",
    "parse_http_date",
    "parse_retry_after",
    "parse_seconds",
    "text_field",
    "rate_limit",
]

# Every header an SDK may carry a key in. We replace the one the SDK used and drop the others.
CREDENTIAL_HEADERS: tuple[str, ...] = ("authorization", "x-api-key", "x-goog-api-key", "api-key")

# Handed to an SDK as its api_key when managed keys exist, so its constructor does not demand one.
# The transport always replaces it; it is stripped from requests to other origins.
PLACEHOLDER_KEY = "byok-managed-key"

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_DURATION_SCALE = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
# Longer texts are parsed but not cached, so a hostile header cannot pin megabytes in the cache.
_CACHED_DURATION_LENGTH = 64
# No provider sends a duration or date this long; reading one would only cost time.
_MAX_TIME_TEXT = 256
# For the per-request checks: a tuple is checked in C at once; ``str | bytes`` builds a union object each time.
TEXT_TYPES = (str, bytes)

# The parsers below read text the provider (or anything between it and us) sent. They never raise: a value that
# cannot be read, or is negative, NaN or infinite, gives None ("no usable time"); a huge finite value is returned
# as it is (capping cooldowns is the pool's policy, not the parser's).


def finite_seconds(value: float) -> float | None:
    """``value`` if it is a finite number >= 0, else None."""
    return value if 0.0 <= value < math.inf else None


def parse_seconds(text: object) -> float | None:
    """A number of seconds (``"20"``, ``"1.5"``, ``"1e3"``), or None: not a number, negative, NaN or infinite.
    Never raises."""
    number = _number(text)
    return None if number is None else finite_seconds(number)


def _number(text: object) -> float | None:
    """``text`` as a float (None if it is not a number at all); accepts str or bytes."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    if not isinstance(text, str):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_duration(text: object) -> float | None:
    """Seconds in a Go-style duration as OpenAI's ``x-ratelimit-reset-*`` headers send it (``6m0s``, ``12ms``,
    ``1h2m3.5s``, ``0.5s``); a bare number is seconds.

    Never raises: returns None for anything unreadable (not str/bytes, garbage, negative, NaN, infinite, or a sum
    that overflows, or longer than 256 characters); huge finite values are returned as they are."""
    if not isinstance(text, TEXT_TYPES):
        return None
    size = len(text)
    if size > _CACHED_DURATION_LENGTH:
        return _parse_duration(text) if size <= _MAX_TIME_TEXT else None
    return _cached_duration(text)


def _parse_duration(text: str | bytes) -> float | None:
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    text = text.strip()
    number = _number(text)
    if number is not None:
        return finite_seconds(number)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return finite_seconds(sum(float(n) * _DURATION_SCALE[u] for n, u in parts))


_cached_duration = functools.lru_cache(maxsize=4096)(_parse_duration)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date, for any year (``datetime`` stops at 9999)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def parse_http_date(text: object) -> float | None:
    """Seconds from now until an HTTP date (``Wed, 21 Oct 2015 07:28:00 GMT``): 0 for a date in the past, None if
    unreadable (or longer than 256 characters) or too far away to be a float. Never raises."""
    if not isinstance(text, str) or len(text) > _MAX_TIME_TEXT:
        return None
    try:
        parsed = email.utils.parsedate_tz(text)
        if parsed is None:
            return None
        year, month, day, hour, minute, second = parsed[:6]
        offset = parsed[9] or 0
        stamp = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
        return finite_seconds(max(stamp - time.time(), 0.0))
    except (ValueError, OverflowError, TypeError, IndexError):  # the stdlib parser trips on some garbage
        return None


def parse_retry_after(headers: Mapping[Any, Any]) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), or None if absent or unusable.

    ``headers`` may be str-keyed or the transports' ``{bytes: bytes}`` view. Never raises: a ``retry-after-ms``
    that is unusable falls back to ``retry-after``; negative, NaN, infinite and unreadable values give None, a
    date in the past gives 0, huge finite values are returned as they are."""
    milliseconds = parse_seconds(str_header(headers, "retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000.0
    value = str_header(headers, "retry-after")
    if value is None:
        return None
    if _number(value) is not None:  # a number, usable or not: never read as a date
        return parse_seconds(value)
    return parse_http_date(value)


def _lookup(headers: Mapping[Any, Any], name: str) -> Any:
    try:
        if type(headers) is dict:  # the transports' {bytes: bytes} view, or a plain dict in tests
            found = headers.get(name.encode())
            return found if found is not None else headers.get(name)
        return headers.get(name)
    except (TypeError, AttributeError):  # not a mapping at all
        return None


def _to_int(raw: object) -> int | None:
    """A non-negative integer from str or bytes, else None."""
    if not isinstance(raw, TEXT_TYPES):
        return None
    try:
        value = int(raw)
    except ValueError:  # includes integers too long to convert
        return None
    return value if value >= 0 else None


def header_value(header: str, key: Key) -> str:
    """How a key is written in a credential header: ``Bearer <key>`` in ``authorization``, the bare key elsewhere."""
    value = key.get_secret_value()
    return "Bearer " + value if header == "authorization" else value


def int_header(headers: Mapping[Any, Any], name: str) -> int | None:
    """An integer header's value, or None if absent, not an integer or negative. ``headers`` may be str-keyed (a
    Headers object) or the transports' ``{bytes: bytes}`` view of the rate-limit headers. Never raises."""
    return _to_int(_lookup(headers, name))


def str_header(headers: Mapping[Any, Any], name: str) -> str | None:
    """A header's value as text, from a str-keyed mapping or a ``{bytes: bytes}`` view."""
    raw = _lookup(headers, name)
    if isinstance(raw, bytes):
        return raw.decode("latin-1")
    return raw if isinstance(raw, str) else None


def json_body(body: object) -> dict[str, Any] | None:
    """The error body as a JSON object, or None: empty, not JSON, not UTF-8, nested too deeply to parse, or not
    an object. Never raises."""
    if not body or not isinstance(body, bytes | bytearray | str):
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return data if isinstance(data, dict) else None


def text_field(data: Mapping[str, Any] | None, name: str) -> str:
    """A JSON field as text: a string as is, an integer in decimal, anything else (lists, objects, floats, null)
    "". Never ``str()`` of a nested value: that could recurse as deep as the body nests."""
    if not isinstance(data, dict):
        return ""
    value = data.get(name)
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return str(value)
        except ValueError:  # too many digits to print
            return ""
    return ""


def object_field(data: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    """A JSON field that should be an object: it, or {} when it is absent or anything else."""
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


# The JSON scan below runs its loops in the regex engine, in C: one Python step per bracket in nested values and
# per token at the top level. Possessive quantifiers keep it linear on any input.
_JSON_STRING = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_JSON_NESTED = re.compile(rb'(?:[^"{}\[\]]++|' + _JSON_STRING + rb")*+", re.DOTALL)  # up to the next bracket
_JSON_STRING_AT = re.compile(_JSON_STRING, re.DOTALL)
_JSON_TOP = re.compile(_JSON_STRING + rb"|[{}\[\]\"]", re.DOTALL)  # a string literal or a bracket
_JSON_SPACE = b" \t\n\r"
_CONTROL = re.compile(rb"[\x00-\x1f]")  # not allowed raw in a JSON string


_MAX_CANDIDATES = 8  # more occurrences of the key than this: one linear scan instead of one check each


def json_top_level_string(body: object, name: str) -> str | None:
    """The string value of the top-level key ``name`` of a JSON object body, read without parsing the body.

    The key's occurrences are found with ``bytes.find``; inside a JSON string a quote is always escaped, so an
    occurrence opened by an unescaped quote and followed by ``:`` is a key, and the brackets between it and the
    nearer end of the body tell its depth. A ``"model"`` in message text or in nested objects is never taken for
    the top-level one; with duplicate top-level keys the last wins, as with ``json.loads``. A key spelled with
    ``\\u`` escapes is found by a full scan when no plain one is.

    Returns None when the body is not a JSON object (empty, multipart, an array), has no such key at the top, or
    its value is not a string; for malformed JSON the answer is None or a best guess. Never raises."""
    if not isinstance(body, bytes | bytearray) or not body or not isinstance(name, str):
        return None
    data = bytes(body)
    size = len(data)
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0  # a UTF-8 byte-order mark
    while start < size and data[start] in _JSON_SPACE:
        start += 1
    if not data.startswith(b"{", start):
        return None
    end = size
    while end > start and data[end - 1] in _JSON_SPACE:
        end -= 1
    wanted = json.dumps(name).encode()
    candidates: list[int] = []
    at = data.find(wanted, start)
    while at != -1 and len(candidates) <= _MAX_CANDIDATES:
        if _unescaped(data, at) and _after_colon(data, at + len(wanted)) is not None:
            candidates.append(at)
        at = data.find(wanted, at + 1)
    if len(candidates) > _MAX_CANDIDATES:
        return _scan_top_level(data, start + 1, wanted, name)
    for at in reversed(candidates):
        # the brackets between the key and the nearer end of the body tell its depth
        nearer_start = at - start <= end - at
        if (_depth_change(data, start, at) == 1) if nearer_start else (_depth_change(data, at, end) == -1):
            value_at = _after_colon(data, at + len(wanted))
            return _string_at(data, value_at) if value_at is not None else None
    if b"\\u00" in data:  # perhaps the key is spelled with escapes
        return _scan_top_level(data, start + 1, wanted, name)
    return None


def _unescaped(data: bytes, at: int) -> bool:
    """Whether the quote at ``at`` is a real one (preceded by an even number of backslashes)."""
    before = at
    while before > 0 and data[before - 1] == 0x5C:
        before -= 1
    return (at - before) % 2 == 0


def _after_colon(data: bytes, pos: int) -> int | None:
    """Where the value starts if a ``:`` (after optional whitespace) follows ``pos``, else None."""
    size = len(data)
    while pos < size and data[pos] in _JSON_SPACE:
        pos += 1
    if not data.startswith(b":", pos):
        return None
    pos += 1
    while pos < size and data[pos] in _JSON_SPACE:
        pos += 1
    return pos


def _string_at(data: bytes, pos: int) -> str | None:
    """The JSON string literal starting at ``pos``, decoded; None if there is none."""
    if not data.startswith(b'"', pos):
        return None
    literal = _JSON_STRING_AT.match(data, pos)
    if literal is None:
        return None
    text = literal.group()
    if b"\\" not in text and _CONTROL.search(text) is None:  # no escapes: the UTF-8 between the quotes is it
        try:
            return text[1:-1].decode()
        except UnicodeDecodeError:
            return None
    return _json_string(text)


def _depth_change(data: bytes, start: int, stop: int) -> int | None:
    """Opening minus closing brackets outside strings in ``data[start:stop]`` (``start`` outside any string);
    None if a string there never ends."""
    change = 0
    pos = start
    while True:
        skipped = _JSON_NESTED.match(data, pos, stop)
        pos = skipped.end() if skipped is not None else pos
        if pos >= stop:
            return change
        if data[pos] == 0x22:
            return None
        change += 1 if data[pos] in b"{[" else -1
        pos += 1


def _scan_top_level(data: bytes, pos: int, wanted: bytes, name: str) -> str | None:
    """The full scan: every token at depth 1, brackets only below. Linear, used when the quick path cannot
    decide. ``pos`` is just after the top-level ``{``."""
    size = len(data)
    found: str | None = None
    depth = 1
    while True:
        if depth > 1:
            skipped = _JSON_NESTED.match(data, pos)
            pos = skipped.end() if skipped is not None else pos
            if pos >= size or data[pos] == 0x22:  # truncated, or a string that never ends
                return found
            depth += 1 if data[pos] in b"{[" else -1
            pos += 1
            continue
        token = _JSON_TOP.search(data, pos)
        if token is None:
            return found
        pos = token.end()
        first = data[token.start()]
        if first == 0x22:
            if pos == token.start() + 1:  # a lone quote: a string that never ends
                return found
            value_at = _after_colon(data, pos)
            if value_at is None:
                continue  # a value, not a key
            literal = token.group()
            if literal == wanted or (b"\\" in literal and _json_string(literal) == name):
                found = _string_at(data, value_at)
        elif first in b"{[":
            depth += 1
        else:
            return found  # the end of the top-level object (or a stray bracket)


def _json_string(literal: bytes) -> str | None:
    try:
        value = json.loads(literal)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, str) else None


QUOTA_AFTER = 3600.0
"""A rate limit that resets this far away is a quota: retrying soon cannot help (Azure's "retry after 86400")."""


def rate_limit(
    retry_after: float | None, reason: str = "rate limited", *, per_model: bool = False, model: str | None = None
) -> Verdict:
    """A rate-limit verdict, or a quota verdict when the reset is an hour or more away, with the limit's scope:
    ``per_model`` (the request's model, or ``model`` when the provider named one) or the whole key. A
    ``retry_after`` that is negative, NaN or infinite is dropped (None: the policy's default applies)."""
    if retry_after is not None:
        retry_after = finite_seconds(retry_after)
    if retry_after is not None and retry_after >= QUOTA_AFTER:
        return Verdict(
            Failure.QUOTA_EXHAUSTED, retry_after, f"{reason} for {retry_after:.0f} s", per_model=per_model, model=model
        )
    return Verdict(Failure.RATE_LIMITED, retry_after, reason, per_model=per_model, model=model)


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
    """The lower-case names of the headers ``read_limits`` reads; when set, the transports hand it a
    ``{bytes: bytes}`` view of the response's headers (built in C) instead of the headers object."""
    pins_sessions: bool = False
    """Whether some requests must go out with the key an earlier request used (resumable uploads)."""
    hears_success: bool = False
    """Whether ``on_success`` does anything (set for each subclass: True when it overrides ``on_success``), so
    the request path calls it only then."""

    _byte_names: tuple[tuple[bytes, bytes], tuple[bytes, bytes]] | None = None
    """The first two ``limits`` as bytes (requests, tokens), for the transports' ``{bytes: bytes}`` view."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.hears_success = cls.on_success is not Provider.on_success
        if len(cls.limits) >= 2:
            (a, b), (c, d) = cls.limits[0], cls.limits[1]
            cls._byte_names = ((a.encode(), b.encode()), (c.encode(), d.encode()))
        if "parse_reset" in cls.__dict__ and "_parse_raw" not in cls.__dict__:  # else the parent's pair holds
            cls._parse_raw = Provider._parse_text  # type: ignore[assignment]

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        """Read a failed response (status >= 400). ``headers`` must answer lower-case names.

        Never raises, whatever the status, headers and body (binary, huge, deeply nested or oddly typed JSON): a
        body that cannot be read counts as no body. The verdict's ``per_model`` / ``model`` say whether the
        failure binds the key for one model only."""
        raise NotImplementedError

    def request_model(self, path: str, body: bytes) -> str | None:
        """The model a request asks for, read cheaply from its URL path or JSON body; None when it names none
        (or is not JSON: a multipart upload). Never raises."""
        return None

    limits: tuple[tuple[str, str], ...] = ()
    """(remaining header, reset header) per limit the provider reports, requests first, then tokens."""

    limit_totals: tuple[str, ...] = ()
    """The headers naming each limit's size (requests, tokens): what lets the pool learn a refill rate."""

    def read_caps(self, headers: Mapping[Any, Any]) -> tuple[int | None, int | None] | None:
        """The sizes of the request and token limits a response names (``x-ratelimit-limit-*``), or None. Never
        raises; like ``read_limits`` it reads either a Headers object or the transports' ``{bytes: bytes}`` view."""
        if not self.limit_totals:
            return None
        requests, tokens = (int_header(headers, name) for name in self.limit_totals)
        return None if requests is None and tokens is None else (requests, tokens)

    def rejection(self, message: str) -> bytes:
        """The body of the 429 the pool answers itself when no key has budget (shaped so the SDK reads
        ``message``)."""
        return json.dumps(
            {"error": {"message": message, "type": "rate_limit_error", "code": "rate_limit_exceeded"}}
        ).encode()

    def parse_reset(self, text: str) -> float | None:
        """Seconds until a reset, from a reset header's text (Go durations by default). Never raises: None when
        unreadable, negative, NaN or infinite."""
        return parse_duration(text)

    def read_limits(
        self, headers: Mapping[str, str]
    ) -> tuple[int | None, int | None, float | None, float | None] | None:
        """What a response says of the key's limits: (remaining requests, remaining tokens, seconds until each
        resets), or None when it says nothing usable. Called on every response, so it must be cheap: for a provider
        with ``limit_headers`` the transports pass a ``{bytes: bytes}`` view of the response's headers (lower-case
        names). Never raises: a count that is not a non-negative integer, or a reset that is unreadable, negative,
        NaN or infinite, is None."""
        view = self._byte_names
        if view is None:
            return None  # fewer than two limits: nothing to read
        if type(headers) is dict:
            (requests_b, requests_reset_b), (tokens_b, tokens_reset_b) = view
            raw_requests, raw_tokens = headers.get(requests_b), headers.get(tokens_b)
            if raw_requests is not None or raw_tokens is not None:
                requests_left, tokens_left = _to_int(raw_requests), _to_int(raw_tokens)
                if requests_left is None and tokens_left is None:
                    return None
                return (
                    requests_left,
                    tokens_left,
                    self._parse_raw(headers.get(requests_reset_b)),
                    self._parse_raw(headers.get(tokens_reset_b)),
                )
        (requests_name, requests_reset), (tokens_name, tokens_reset) = self.limits[0], self.limits[1]
        requests = int_header(headers, requests_name)
        tokens = int_header(headers, tokens_name)
        if requests is None and tokens is None:
            return None
        return requests, tokens, self._reset(headers, requests_reset), self._reset(headers, tokens_reset)

    _parse_raw = staticmethod(parse_duration)
    """A reset header's value (str, bytes or None) in seconds: ``parse_duration`` itself while ``parse_reset`` is
    the default (cached, no decoding); a class that defines ``parse_reset`` gets ``_parse_text`` (its
    ``parse_reset`` on the decoded text) unless it defines a ``_parse_raw`` of its own, as Anthropic's does."""

    def _parse_text(self, raw: object) -> float | None:
        if isinstance(raw, bytes):
            raw = raw.decode("latin-1")
        elif not isinstance(raw, str):
            return None
        return self.parse_reset(raw) if raw else None

    def _reset(self, headers: Mapping[str, str], name: str) -> float | None:
        text = str_header(headers, name)
        return self.parse_reset(text) if text else None

    def limit_reset(self, headers: Mapping[str, str]) -> float | None:
        """When a rate-limited key is usable again: ``retry-after-ms`` / ``retry-after``, else the reset of each
        exhausted limit (remaining 0), else the latest reset given; None if the headers say nothing usable.
        Never raises (see ``parse_retry_after`` and ``read_limits``)."""
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
        """Called with each successful response's headers and the key that got it (only for a subclass that
        overrides it: see ``hears_success``)."""

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
