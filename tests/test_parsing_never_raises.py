"""Every classifier and header parser returns a value for any input: property tests over arbitrary statuses,
headers and bodies, plus the known bad cases (impossible dates, huge and non-finite numbers, deep JSON)."""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from byok_client import Failure
from byok_client.core.policy import Verdict
from byok_client.providers.anthropic import AnthropicProvider, regain_access_in
from byok_client.providers.base import (
    Provider,
    json_body,
    parse_duration,
    parse_http_date,
    parse_retry_after,
    parse_seconds,
    rate_limit,
)
from byok_client.providers.gemini import GeminiProvider
from byok_client.providers.openai import AzureOpenAIProvider, OpenAIProvider

PROVIDERS: list[Provider] = [
    OpenAIProvider(),
    AzureOpenAIProvider(),
    OpenAIProvider("groq", "GROQ"),
    OpenAIProvider("openrouter", "OPENROUTER"),
    AnthropicProvider(),
    GeminiProvider(),
]
IDS = [p.name for p in PROVIDERS]

HEADER_NAMES = [
    "retry-after",
    "retry-after-ms",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
    *(
        f"anthropic-ratelimit-{k}-{part}"
        for k in ("requests", "tokens", "input-tokens")
        for part in ("remaining", "reset")
    ),
]
BAD_VALUES = [
    "Sat, 01 Jan 10000 00:00:00 GMT",
    "Sat, 01 Jan " + "9" * 400 + " 00:00:00 GMT",
    "1e12",
    "1e400",
    "inf",
    "-inf",
    "nan",
    "-5",
    "abc",
    "",
    " ",
    "9" * 5000,
    "-0",
    "1_0",
    "٣",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "2026-13-45T00:00:00Z",
    "1h" * 200,
    "6m0s",
    "\x00",
]
header_values = st.one_of(st.sampled_from(BAD_VALUES), st.text(max_size=60), st.from_regex(r"-?[0-9.e]{1,12}[hms]?"))
str_headers = st.dictionaries(st.one_of(st.sampled_from(HEADER_NAMES), st.text(max_size=10)), header_values)
byte_headers = str_headers.map(lambda h: {k.encode(): v.encode("utf-8", "surrogatepass") for k, v in h.items()})

# Any JSON value, including the wrong types where the providers put strings, objects and lists.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
ERROR_FIELDS = ["type", "code", "message", "status", "details", "param", "metadata"]
DETAIL_FIELDS = ["@type", "violations", "retryDelay", "reason", "metadata", "links"]
DETAIL_TYPES = [
    "type.googleapis.com/google.rpc.QuotaFailure",
    "type.googleapis.com/google.rpc.RetryInfo",
    "type.googleapis.com/google.rpc.ErrorInfo",
]
VIOLATION_FIELDS = ["quotaId", "quotaMetric", "quotaDimensions", "quotaValue"]


def _shaped(fields: list[str], values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(fields), values, max_size=len(fields))


violations = st.lists(_shaped(VIOLATION_FIELDS, json_values | st.sampled_from(["PerDay", "PerModel", "0"])))
details = st.lists(
    _shaped(DETAIL_FIELDS, json_values | violations | st.sampled_from(DETAIL_TYPES) | st.sampled_from(BAD_VALUES))
)
messages = st.sampled_from(
    [
        "Please retry after 1e999 seconds",
        "Please retry after " + "9" * 400 + " seconds",
        "Limit " + "9" * 5000 + ", Used 0, Requested 1",
        "try again in 99999999999999999999h",
        "You have reached your specified API usage limits. You will regain access on 2026-13-45 at 99:99 UTC.",
        "You have reached your specified API usage limits. You will regain access on 0000-00-00 at 00:00 UTC.",
        "credit balance is too low",
        "limit: 0, model: gemini-2.0-flash",
        "Please retry in 1e5s.",
        "free-models-per-day",
    ]
)
errors = _shaped(ERROR_FIELDS, json_values | details | messages | st.sampled_from(BAD_VALUES))
json_bodies = st.one_of(
    json_values,
    st.builds(lambda e: {"error": e}, errors),
    st.builds(lambda e: {"type": "error", "error": e}, errors),
    st.builds(lambda e: {"error": e}, json_values),
    errors,
).map(lambda v: json.dumps(v).encode())
bodies = st.one_of(json_bodies, st.binary(max_size=200), st.text(max_size=100).map(lambda t: t.encode()))
statuses = st.one_of(st.sampled_from([400, 401, 402, 403, 404, 413, 429, 500, 503, 529]), st.integers(-(2**70), 2**70))


def assert_verdict(verdict: object) -> None:
    assert isinstance(verdict, Verdict)
    assert isinstance(verdict.failure, Failure)
    assert verdict.retry_after is None or (math.isfinite(verdict.retry_after) and verdict.retry_after >= 0)
    assert isinstance(verdict.per_model, bool)
    assert verdict.model is None or isinstance(verdict.model, str)
    if verdict.model is not None:
        assert verdict.per_model


def assert_seconds(value: object) -> None:
    assert value is None or (isinstance(value, float) and math.isfinite(value) and value >= 0), value


# -- classifiers ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(status=statuses, headers=str_headers, body=bodies)
def test_classify_returns_a_verdict_for_any_input(
    provider: Provider, status: int, headers: dict[str, str], body: bytes
) -> None:
    assert_verdict(provider.classify(status, headers, body))


DEEP = 100_000


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
@pytest.mark.parametrize(
    "body",
    [
        b"[" * DEEP,
        b"{" * DEEP,
        b'{"error":' * DEEP,
        b'{"error":' * DEEP + b"1" + b"}" * DEEP,  # valid JSON, nested past any recursion limit
        json.dumps({"error": {"message": "x", "details": [{"violations": 1}]}}).encode(),
        # deep enough to parse, deep enough that str() of it would recurse
        b'{"error": {"type": ' + b"[" * 900 + b"]" * 900 + b', "message": ' + b"[" * 900 + b"]" * 900 + b"}}",
        b'{"error": {"type": "' + b"\xff\xfe" * 1000 + b'"}}',  # not UTF-8
        b'{"error": {"code": ' + b"9" * 5000 + b"}}",  # more digits than int() converts
        b"\x00" * 1000,
        b'{"error": "rate_limit_error", "message": 429}',
        b'{"error": ["quota"], "type": {"x": 1}}',
        json.dumps({"error": {"message": "m" * 2_000_000}}).encode(),  # huge
    ],
    ids=lambda b: repr(b[:24]),
)
@pytest.mark.parametrize("status", [400, 402, 403, 429, 500])
def test_classify_survives_pathological_bodies(provider: Provider, body: bytes, status: int) -> None:
    assert_verdict(provider.classify(status, {"retry-after": "nan"}, body))


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
@pytest.mark.parametrize("body", [bytearray(b'{"error": {}}'), memoryview(b"{}"), "{}", None, 42])
def test_classify_survives_bodies_of_the_wrong_type(provider: Provider, body: Any) -> None:
    assert_verdict(provider.classify(429, {}, body))


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
@settings(max_examples=60)
@given(headers=byte_headers)
def test_classify_reads_the_transports_byte_header_view(provider: Provider, headers: dict[bytes, bytes]) -> None:
    assert_verdict(provider.classify(429, headers, b""))  # type: ignore[arg-type]


def test_json_body_gives_none_instead_of_raising() -> None:
    assert json_body(b"[" * DEEP) is None
    assert json_body(b'{"a": ' * DEEP + b"1" + b"}" * DEEP) is None
    assert json_body(b"\xff") is None
    assert json_body(b"[1]") is None
    assert json_body(b'{"a": 1}') == {"a": 1}


# -- header parsers -------------------------------------------------------------------------------------------------


@settings(max_examples=150)
@given(headers=st.one_of(str_headers, byte_headers))
def test_header_parsers_return_usable_seconds_or_none(headers: Mapping[Any, Any]) -> None:
    assert_seconds(parse_retry_after(headers))
    for provider in PROVIDERS:
        assert_seconds(provider.limit_reset(headers))
        limits = provider.read_limits(headers)
        if limits is not None:
            requests, tokens, requests_reset, tokens_reset = limits
            for count in (requests, tokens):
                assert count is None or (isinstance(count, int) and count >= 0)
            assert_seconds(requests_reset)
            assert_seconds(tokens_reset)


@settings(max_examples=300)
@given(text=st.one_of(header_values, st.binary(max_size=30), st.none(), st.integers(), st.lists(st.integers())))
def test_duration_and_seconds_parsers_never_raise(text: Any) -> None:
    assert_seconds(parse_duration(text))
    assert_seconds(parse_seconds(text))
    if isinstance(text, str):
        assert_seconds(parse_http_date(text))
        assert_seconds(AnthropicProvider().parse_reset(text))
        assert_seconds(regain_access_in(text))
        assert_seconds(regain_access_in(f"regain access on {text} UTC"))


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "-5", "abc", "", "1e400", "9" * 5000, "-0.001"])
def test_unusable_retry_after_is_none(value: str) -> None:
    assert parse_retry_after({"retry-after": value}) is None
    assert parse_retry_after({"retry-after-ms": value}) is None
    assert parse_duration(value) is None  # 5000 nines: float() says inf


def test_huge_finite_values_are_returned_as_they_are() -> None:
    assert parse_retry_after({"retry-after": "1e12"}) == 1e12
    assert parse_retry_after({"retry-after-ms": "1e12"}) == 1e9
    assert parse_duration("1e12") == 1e12
    assert parse_duration("99999999h") == 99999999 * 3600.0
    year_10000 = parse_retry_after({"retry-after": "Sat, 01 Jan 10000 00:00:00 GMT"})
    assert year_10000 is not None and year_10000 == pytest.approx(253402300800 - time.time(), abs=5)
    absurd = parse_retry_after({"retry-after": "Sat, 01 Jan 99999999999999999999 00:00:00 GMT"})
    assert absurd is not None and absurd > 1e27
    # a year with 400 digits is further away than a float reaches
    assert parse_retry_after({"retry-after": "Sat, 01 Jan " + "9" * 400 + " 00:00:00 GMT"}) is None


def test_unusable_retry_after_ms_falls_back_to_retry_after() -> None:
    assert parse_retry_after({"retry-after-ms": "-5", "retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "nan", "retry-after": "abc"}) is None


def test_http_dates_past_and_future() -> None:
    assert parse_http_date(email.utils.formatdate(time.time() - 60, usegmt=True)) == 0.0
    soon = parse_http_date(email.utils.formatdate(time.time() + 60, usegmt=True))
    assert soon is not None and 58 <= soon <= 61
    # the same moment our calendar arithmetic and the stdlib agree on
    stamp = email.utils.mktime_tz(email.utils.parsedate_tz("Wed, 21 Oct 2065 07:28:00 +0200"))  # type: ignore[arg-type]
    later = parse_http_date("Wed, 21 Oct 2065 07:28:00 +0200")
    assert later == pytest.approx(stamp - time.time(), abs=2)


def test_negative_and_unreadable_rate_limit_headers_are_none() -> None:
    headers = {
        "x-ratelimit-remaining-requests": "-1",
        "x-ratelimit-reset-requests": "-5s",
        "x-ratelimit-remaining-tokens": "9" * 5000,
        "x-ratelimit-reset-tokens": "inf",
    }
    assert OpenAIProvider().read_limits(headers) is None  # nothing usable said
    raw = {k.encode(): v.encode() for k, v in headers.items()}
    assert OpenAIProvider().read_limits(raw) is None  # type: ignore[arg-type]
    assert OpenAIProvider().limit_reset(headers) is None
    headers["x-ratelimit-remaining-tokens"] = "7"
    assert OpenAIProvider().read_limits(headers) == (None, 7, None, None)
    raw = {k.encode(): v.encode() for k, v in headers.items()}
    assert OpenAIProvider().read_limits(raw) == (None, 7, None, None)  # type: ignore[arg-type]


def test_anthropic_resets_out_of_range_are_none_not_errors() -> None:
    provider = AnthropicProvider()
    assert provider.parse_reset("0001-01-01T00:00:00+23:59") == 0.0  # before datetime's range in UTC: past
    beyond = provider.parse_reset("9999-12-31T23:59:59-23:59")  # past datetime's range in UTC
    assert beyond is not None and beyond > 2e11
    assert provider.parse_reset("2026-13-45T00:00:00Z") is None
    assert provider.parse_reset("2020-01-01T00:00:00Z") == 0.0  # past: usable now
    far = provider.parse_reset("9999-12-31T23:59:59Z")
    assert far is not None and far > 2e11
    headers = {"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": "soon"}
    verdict = provider.classify(429, headers, b"")
    assert (verdict.failure, verdict.retry_after) == (Failure.RATE_LIMITED, None)


@pytest.mark.parametrize(
    "when",
    ["2026-13-45 at 00:00", "0000-00-00 at 00:00", "2026-02-30 at 25:61", "١٢٣٤-01-01 at 00:00"],
)
def test_anthropic_unreadable_regain_date_is_quota_without_a_time(when: str) -> None:
    message = f"You have reached your specified API usage limits. You will regain access on {when} UTC."
    body = json.dumps({"type": "error", "error": {"type": "invalid_request_error", "message": message}}).encode()
    verdict = AnthropicProvider().classify(400, {}, body)
    assert (verdict.failure, verdict.retry_after, verdict.per_model) == (Failure.QUOTA_EXHAUSTED, None, False)


def test_anthropic_regain_date_in_the_future() -> None:
    when = (datetime.now(UTC) + timedelta(hours=5)).replace(second=0, microsecond=0)
    seconds = regain_access_in(f"regain access on {when:%Y-%m-%d at %H:%M} UTC")
    assert seconds == pytest.approx((when - datetime.now(UTC)).total_seconds(), abs=2)


@pytest.mark.parametrize(
    ("message", "retry_after"),
    [
        ("Please retry after 1e999 seconds.", None),  # not digits: left to the headers (none)
        ("Please retry after " + "9" * 400 + " seconds.", None),  # a float overflows to inf: unusable
        ("Please retry after 0 seconds.", 0.0),
    ],
)
def test_azure_retry_after_in_the_message_never_raises(message: str, retry_after: float | None) -> None:
    body = json.dumps({"error": {"code": "429", "message": message}}).encode()
    verdict = AzureOpenAIProvider().classify(429, {}, body)
    assert (verdict.failure, verdict.retry_after) == (Failure.RATE_LIMITED, retry_after)


def test_gemini_unusable_retry_delays_are_none() -> None:
    for delay in ("infs", "-5s", "nan", 37, None, ["37s"], "9" * 400 + "s"):
        error = {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]}
        verdict = GeminiProvider().classify(429, {}, json.dumps({"error": error}).encode())
        assert (verdict.failure, verdict.retry_after) == (Failure.RATE_LIMITED, None), delay


def test_groq_over_limit_with_absurd_numbers_never_raises() -> None:
    body = json.dumps({"error": {"message": "Limit " + "9" * 5000 + ", Used 0, Requested ~1", "code": "x"}}).encode()
    assert OpenAIProvider("groq", "GROQ").classify(429, {}, body).failure is Failure.RATE_LIMITED


@pytest.mark.parametrize("value", [math.inf, -1.0, math.nan, -math.inf])
def test_rate_limit_drops_unusable_resets(value: float) -> None:
    verdict = rate_limit(value)
    assert (verdict.failure, verdict.retry_after) == (Failure.RATE_LIMITED, None)
