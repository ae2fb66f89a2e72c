"""MockProvider rate limits: bucket arithmetic on a hand-moved clock, provider headers and exact 429 waits."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from byok_client.testing import DEFAULT_OUTPUT_TOKENS, Bucket, MockProvider, go_duration, rate_limited
from tests.conftest import FakeClock

MESSAGES: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[MockProvider]:
    with MockProvider(clock=clock) as mock:
        mock.add_key("sk-a", label="a")
        mock.add_key("sk-b", label="b")
        yield mock


def oai(mock: MockProvider, key: str = "sk-a") -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=mock.openai_base_url, max_retries=0)


def raw_chat(client: openai.OpenAI, model: str = "gpt-4o-mini", **kwargs: Any) -> Any:
    return client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES, **kwargs)


def test_bucket_arithmetic(clock: FakeClock) -> None:
    bucket = Bucket(10, per=1.0, clock=clock)  # 10 units a second
    assert bucket.refill() == 10 and bucket.until_full() == 0 and bucket.wait(10) == 0
    bucket.take(10)
    assert bucket.wait(1) == pytest.approx(0.1) and bucket.wait(4) == pytest.approx(0.4)
    assert bucket.until_full() == pytest.approx(1.0)
    clock.advance(0.05)
    assert bucket.refill() == pytest.approx(0.5) and bucket.wait(1) == pytest.approx(0.05)
    assert bucket.until_full() == pytest.approx(0.95)
    clock.advance(100)
    assert bucket.refill() == 10  # never above the capacity
    assert math.isinf(bucket.wait(11))
    with pytest.raises(ValueError):
        Bucket(0, per=1.0, clock=clock)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.0001, "1ms"),
        (0.12, "120ms"),
        (0.3334, "334ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (17.765, "17.765s"),
        (59.9999, "1m0s"),
        (360, "6m0s"),
        (3725.5, "1h2m5.5s"),
    ],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_openai_request_bucket_headers_and_exact_wait(fake: MockProvider, clock: FakeClock) -> None:
    fake.rate_limit("sk-a", requests=3, per=1.0)
    with oai(fake) as client:
        first = raw_chat(client)
        assert first.headers["x-ratelimit-limit-requests"] == "3"
        assert first.headers["x-ratelimit-remaining-requests"] == "2"
        assert first.headers["x-ratelimit-reset-requests"] == "334ms"  # 1 unit at 3/s until full
        assert "x-ratelimit-limit-tokens" not in first.headers
        raw_chat(client)
        third = raw_chat(client)
        assert third.headers["x-ratelimit-remaining-requests"] == "0"
        assert third.headers["x-ratelimit-reset-requests"] == "1s"
        clock.advance(0.1)
        with pytest.raises(openai.RateLimitError) as err:
            raw_chat(client)
        headers = err.value.response.headers
        assert headers["retry-after-ms"] == "234"  # 1/3 s for the next unit, 0.1 s already refilled
        assert headers["retry-after"] == "1"
        assert headers["x-ratelimit-remaining-requests"] == "0"
        assert err.value.code == "rate_limit_exceeded" and "Limit 3" in err.value.message
        clock.advance(0.233)
        with pytest.raises(openai.RateLimitError) as again:
            raw_chat(client)
        assert again.value.response.headers["retry-after-ms"] == "1"
        clock.advance(0.001)
        assert raw_chat(client).headers["x-ratelimit-remaining-requests"] == "0"
    with oai(fake, "sk-b") as other:  # the rule is for key a only; b keeps the default headers
        assert raw_chat(other).headers["x-ratelimit-remaining-requests"] == "9999"
    assert [r.fault for r in fake.requests] == [None, None, None, "rate_limit", "rate_limit", None, None]


def test_openai_token_bucket_charges_input_and_max_tokens(fake: MockProvider, clock: FakeClock) -> None:
    fake.rate_limit(tokens=1000, per=60.0)  # every key, its own bucket
    with oai(fake) as client:
        reply = raw_chat(client, max_tokens=100)
        cost = len(fake.requests[-1].body) // 4 + 100
        assert reply.headers["x-ratelimit-limit-tokens"] == "1000"
        assert reply.headers["x-ratelimit-remaining-tokens"] == str(1000 - cost)
        assert reply.headers["x-ratelimit-reset-tokens"] == go_duration(cost * 60 / 1000)
        default = raw_chat(client)  # no max_tokens: the documented default allowance
        cost2 = len(fake.requests[-1].body) // 4 + DEFAULT_OUTPUT_TOKENS
        assert default.headers["x-ratelimit-remaining-tokens"] == str(1000 - cost - cost2)
        left = 1000 - cost - cost2
        with pytest.raises(openai.RateLimitError) as err:
            raw_chat(client, max_tokens=left)  # needs a few tokens more than are left
        need = len(fake.requests[-1].body) // 4  # the output allowance fits; the input estimate is missing
        assert int(err.value.response.headers["retry-after-ms"]) == math.ceil(need * 60 / 1000 * 1000)
        with pytest.raises(openai.RateLimitError) as big:
            raw_chat(client, max_tokens=5000)
        assert "Request too large" in big.value.message
    with oai(fake, "sk-b") as other:
        assert raw_chat(other).headers["x-ratelimit-remaining-tokens"] != "9999990"


def test_anthropic_headers(fake: MockProvider, clock: FakeClock) -> None:
    fake.rate_limit(requests=2, per=60.0, input_tokens=10_000, output_tokens=500)
    with anthropic.Anthropic(api_key="sk-a", base_url=fake.anthropic_base_url, max_retries=0) as client:
        before = datetime.now(UTC)
        raw = client.messages.with_raw_response.create(model="claude-haiku-4-5", max_tokens=100, messages=MESSAGES)
        h = raw.headers
        assert (h["anthropic-ratelimit-requests-limit"], h["anthropic-ratelimit-requests-remaining"]) == ("2", "1")
        reset = datetime.fromisoformat(h["anthropic-ratelimit-requests-reset"].replace("Z", "+00:00"))
        assert 29 <= (reset - before).total_seconds() <= 31  # 1 of 2 per minute: full again in 30 s
        assert h["anthropic-ratelimit-output-tokens-remaining"] == "400"
        assert h["anthropic-ratelimit-output-tokens-limit"] == "500"
        assert int(h["anthropic-ratelimit-input-tokens-remaining"]) == 10_000 - len(fake.requests[-1].body) // 4
        assert "anthropic-ratelimit-tokens-limit" not in h
        client.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=MESSAGES)
        clock.advance(12.5)
        with pytest.raises(anthropic.RateLimitError) as err:
            client.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=MESSAGES)
        assert err.value.response.headers["retry-after"] == "18"  # 30 s per request, 12.5 s refilled: 17.5 s
        assert err.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]


def test_gemini_model_scoped_429_has_quota_failure_and_retry_info(fake: MockProvider, clock: FakeClock) -> None:
    fake.rate_limit("sk-a", "gemini-2.5-flash", requests=1, per=60.0)
    client = genai.Client(api_key="sk-a", http_options=genai_types.HttpOptions(base_url=fake.gemini_base_url))
    client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    clock.advance(20)
    with pytest.raises(genai_errors.APIError) as err:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert err.value.code == 429 and err.value.status == "RESOURCE_EXHAUSTED"
    details = {d["@type"].rsplit(".", 1)[1]: d for d in err.value.details["error"]["details"]}
    (violation,) = details["QuotaFailure"]["violations"]
    assert violation["quotaDimensions"] == {"location": "global", "model": "gemini-2.5-flash"}
    assert violation["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel" and violation["quotaValue"] == "1"
    assert details["RetryInfo"]["retryDelay"] == "40s"
    # another model is not limited for this key
    assert client.models.generate_content(model="gemini-2.5-pro", contents="hi").text == "served by a"


def test_model_scope_and_key_scope_combine(fake: MockProvider) -> None:
    fake.rate_limit("sk-a", "gpt-a", requests=1, per=60.0)
    fake.rate_limit("sk-a", requests=5, per=60.0)
    with oai(fake) as client:
        assert raw_chat(client, "gpt-a").headers["x-ratelimit-remaining-requests"] == "0"  # the tighter bucket
        with pytest.raises(openai.RateLimitError):
            raw_chat(client, "gpt-a")
        assert raw_chat(client, "gpt-b").headers["x-ratelimit-remaining-requests"] == "3"
        for _ in range(3):
            raw_chat(client, "gpt-b")
        with pytest.raises(openai.RateLimitError):  # key-wide bucket now empty
            raw_chat(client, "gpt-b")


def test_scripted_behaviour_wins_over_the_bucket(fake: MockProvider) -> None:
    fake.rate_limit("sk-a", requests=1, per=60.0)
    fake.script("sk-a", rate_limited(retry_after=7), model="gpt-x")
    with oai(fake) as client:
        with pytest.raises(openai.RateLimitError) as err:
            raw_chat(client, "gpt-x")
        assert err.value.response.headers["retry-after"] == "7"
        raw_chat(client, "gpt-y")  # the scripted 429 took nothing from the bucket


def test_real_clock_wait_is_enough_and_not_too_much() -> None:
    with MockProvider() as mock:
        mock.add_key("sk-a")
        mock.rate_limit(requests=4, per=0.4)  # one every 100 ms
        with oai(mock) as client:
            for _ in range(4):
                raw_chat(client)
            with pytest.raises(openai.RateLimitError) as err:
                raw_chat(client)
            wait = int(err.value.response.headers["retry-after-ms"]) / 1000
            assert 0 < wait <= 0.1
            time.sleep(wait)
            raw_chat(client)


def test_bad_rate_limits_are_refused(fake: MockProvider) -> None:
    with pytest.raises(ValueError, match="at least one"):
        fake.rate_limit()
    with pytest.raises(ValueError, match="requests must be a positive int"):
        fake.rate_limit(requests=0)
    with pytest.raises(ValueError, match="per"):
        fake.rate_limit(requests=1, per=0)
    with pytest.raises(KeyError):
        fake.rate_limit("sk-nope", requests=1)
    fake.rate_limit(requests=1, per=60)
    fake.clear_rate_limits()
    with oai(fake) as client:
        for _ in range(3):
            raw_chat(client)
