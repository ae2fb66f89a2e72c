"""OpenAI's classifier, table-driven, plus the header parsers it rests on."""

from __future__ import annotations

import email.utils
import time

import pytest

from byok_client import Failure
from byok_client.providers.base import parse_duration, parse_retry_after
from byok_client.providers.openai import OpenAIProvider

P = OpenAIProvider()


def err(code: str | None, type_: str = "invalid_request_error") -> bytes:
    import json

    return json.dumps({"error": {"message": "m", "type": type_, "param": None, "code": code}}).encode()


@pytest.mark.parametrize(
    ("status", "headers", "body", "failure", "retry_after"),
    [
        (429, {"retry-after-ms": "1500"}, err("rate_limit_exceeded", "requests"), Failure.RATE_LIMITED, 1.5),
        (429, {"retry-after": "7"}, err("rate_limit_exceeded", "tokens"), Failure.RATE_LIMITED, 7.0),
        (429, {}, err("slow_down"), Failure.RATE_LIMITED, None),
        (429, {}, b"<html>Too many</html>", Failure.RATE_LIMITED, None),
        (
            429,
            {
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "6m0s",
                "x-ratelimit-remaining-tokens": "100",
                "x-ratelimit-reset-tokens": "12ms",
            },
            err("rate_limit_exceeded"),
            Failure.RATE_LIMITED,
            360.0,
        ),
        (
            429,
            {
                "x-ratelimit-remaining-requests": "5",
                "x-ratelimit-reset-requests": "1s",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": "20ms",
            },
            err("rate_limit_exceeded"),
            Failure.RATE_LIMITED,
            0.02,
        ),
        (429, {}, err("insufficient_quota", "insufficient_quota"), Failure.QUOTA_EXHAUSTED, None),
        (429, {}, err("billing_hard_limit_reached"), Failure.QUOTA_EXHAUSTED, None),
        (403, {}, err("insufficient_quota", "insufficient_quota"), Failure.QUOTA_EXHAUSTED, None),
        (402, {}, b'{"error": {"message": "Insufficient Balance"}}', Failure.QUOTA_EXHAUSTED, None),
        (401, {}, err("invalid_api_key"), Failure.INVALID_KEY, None),
        (401, {}, b"", Failure.INVALID_KEY, None),
        (403, {}, err("account_deactivated"), Failure.INVALID_KEY, None),
        (403, {}, err("unsupported_country_region_territory", "request_forbidden"), Failure.CLIENT_ERROR, None),
        (500, {}, err(None, "server_error"), Failure.SERVER_ERROR, None),
        (503, {}, b"", Failure.SERVER_ERROR, None),
        (400, {}, err(None), Failure.CLIENT_ERROR, None),
        (404, {}, err("model_not_found"), Failure.CLIENT_ERROR, None),
        (409, {}, b"", Failure.CLIENT_ERROR, None),
        (413, {}, b"", Failure.CLIENT_ERROR, None),
        (422, {}, b"", Failure.CLIENT_ERROR, None),
    ],
)
def test_classification_table(
    status: int, headers: dict[str, str], body: bytes, failure: Failure, retry_after: float | None
) -> None:
    verdict = P.classify(status, headers, body)
    assert verdict.failure is failure
    if retry_after is None:
        assert verdict.retry_after is None
    else:
        assert verdict.retry_after == pytest.approx(retry_after)


def test_quota_words_in_a_message_alone_do_not_decide() -> None:
    body = b'{"error": {"message": "insufficient_quota maybe", "type": "invalid_request_error", "code": null}}'
    assert P.classify(400, {}, body).failure is Failure.CLIENT_ERROR


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("6m0s", 360.0),
        ("12ms", 0.012),
        ("1h2m3.5s", 3723.5),
        ("0.5s", 0.5),
        ("20", 20.0),
        ("1s", 1.0),
        ("1500us", 0.0015),
        ("2ns", 2e-9),
        (" 7s ", 7.0),
        (b"6m0s", 360.0),
    ],
)
def test_parse_duration(text: str | bytes, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5x", "m5", "-5s", "-5", "inf", "nan", "1e400", "5s" * 200])
def test_parse_duration_rejects_garbage(text: str) -> None:
    assert parse_duration(text) is None


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == pytest.approx(0.25)
    assert parse_retry_after({"retry-after": "9"}) == 9.0
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    parsed = parse_retry_after({"retry-after": date})
    assert parsed is not None and 28 <= parsed <= 31
    assert parse_retry_after({"retry-after": "garbage"}) is None
    assert parse_retry_after({}) is None
