"""Every provider classifier against real error responses (tests/provider_error_samples.py cites each source)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from byok_client import Failure, Key
from byok_client.providers.anthropic import AnthropicProvider
from byok_client.providers.base import Provider
from byok_client.providers.gemini import GeminiProvider, seconds_until_pacific_midnight
from byok_client.providers.openai import AzureOpenAIProvider, OpenAIProvider, openai_provider_for

from .provider_error_samples import SAMPLES, ErrorSample

CLASSIFIERS: dict[str, Provider] = {
    "openai": OpenAIProvider(),
    "azure": AzureOpenAIProvider(),
    "anthropic": AnthropicProvider(),
    "gemini": GeminiProvider(),
    # OpenAI-compatible providers share OpenAI's shapes
    "groq": OpenAIProvider("groq", "GROQ"),
    "mistral": OpenAIProvider("mistral", "MISTRAL"),
    "deepseek": OpenAIProvider("deepseek", "DEEPSEEK"),
    "openrouter": OpenAIProvider("openrouter", "OPENROUTER"),
    "together": OpenAIProvider("together", "TOGETHER"),
}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: f"{s.provider}-{s.status}-{s.expected}")
def test_real_error_samples_classify_as_expected(sample: ErrorSample) -> None:
    headers = {k.lower(): v for k, v in sample.headers.items()}
    verdict = CLASSIFIERS[sample.provider].classify(sample.status, headers, sample.body.encode())
    assert verdict.failure == Failure(sample.expected), sample.note


def test_samples_cover_every_class_for_each_main_provider() -> None:
    for provider in ("openai", "anthropic", "gemini"):
        classes = {s.expected for s in SAMPLES if s.provider == provider}
        assert classes == {f.value for f in Failure}, provider


def anthropic_error(kind: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


def test_anthropic_rate_limit_reset_from_rfc3339_headers() -> None:
    reset = (datetime.now(UTC) + timedelta(seconds=42)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (datetime.now(UTC) + timedelta(seconds=300)).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": reset,
        "anthropic-ratelimit-requests-remaining": "10",
        "anthropic-ratelimit-requests-reset": later,
    }
    verdict = AnthropicProvider().classify(429, headers, anthropic_error("rate_limit_error", "slow down"))
    assert verdict.failure is Failure.RATE_LIMITED
    assert verdict.retry_after is not None and 40 <= verdict.retry_after <= 42
    with_retry_after = AnthropicProvider().classify(429, {"retry-after": "16", **headers}, b"")
    assert with_retry_after.retry_after == 16


def test_anthropic_usage_limit_cools_until_the_date_it_names() -> None:
    when = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    message = (
        f"You have reached your specified API usage limits. You will regain access on {when:%Y-%m-%d at %H:%M} UTC."
    )
    verdict = AnthropicProvider().classify(400, {}, anthropic_error("invalid_request_error", message))
    assert verdict.failure is Failure.QUOTA_EXHAUSTED
    assert verdict.retry_after == pytest.approx((when - datetime.now(UTC)).total_seconds(), abs=2)


def test_anthropic_plain_bad_request_blames_no_key() -> None:
    verdict = AnthropicProvider().classify(400, {}, anthropic_error("invalid_request_error", "max_tokens: required"))
    assert verdict.failure is Failure.CLIENT_ERROR


def gemini_429(*details: dict[str, object], message: str = "You exceeded your current quota") -> bytes:
    error = {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED", "details": list(details)}
    return json.dumps({"error": error}).encode()


QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


def test_gemini_per_minute_quota_cools_for_retry_delay() -> None:
    body = gemini_429(
        {"@type": QUOTA_FAILURE, "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
        {"@type": RETRY_INFO, "retryDelay": "37s"},
    )
    verdict = GeminiProvider().classify(429, {}, body)
    assert (verdict.failure, verdict.retry_after) == (Failure.RATE_LIMITED, 37.0)


def test_gemini_per_day_quota_cools_until_pacific_midnight_ignoring_retry_delay() -> None:
    body = gemini_429(
        {"@type": QUOTA_FAILURE, "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},
        {"@type": RETRY_INFO, "retryDelay": "47s"},
    )
    verdict = GeminiProvider().classify(429, {}, body)
    assert verdict.failure is Failure.QUOTA_EXHAUSTED
    assert verdict.retry_after == pytest.approx(seconds_until_pacific_midnight(), abs=2)


def test_pacific_midnight() -> None:
    # 2026-07-01 06:30 UTC is 23:30 PDT: half an hour to go
    assert seconds_until_pacific_midnight(datetime(2026, 7, 1, 6, 30, tzinfo=UTC)) == pytest.approx(1800)
    # 2026-01-15 07:59 UTC is 23:59 PST
    assert seconds_until_pacific_midnight(datetime(2026, 1, 15, 7, 59, tzinfo=UTC)) == pytest.approx(60)


def test_gemini_429_without_details_is_rate_limited_with_message_delay() -> None:
    verdict = GeminiProvider().classify(429, {}, gemini_429(message="Resource exhausted. Please retry in 56.4s."))
    assert (verdict.failure, verdict.retry_after) == (Failure.RATE_LIMITED, 56.4)
    bare = GeminiProvider().classify(429, {}, gemini_429(message="Resource has been exhausted (e.g. check quota)."))
    assert (bare.failure, bare.retry_after) == (Failure.RATE_LIMITED, None)


def test_gemini_zero_limit_is_quota_not_a_wait() -> None:
    body = gemini_429(
        {"@type": QUOTA_FAILURE, "violations": [{"quotaId": "GenerateRequestsPerMinute", "quotaValue": "0"}]},
        {"@type": RETRY_INFO, "retryDelay": "6s"},
    )
    assert GeminiProvider().classify(429, {}, body).failure is Failure.QUOTA_EXHAUSTED


@pytest.mark.parametrize(
    ("retry_after", "failure"),
    [("6", Failure.RATE_LIMITED), ("3599", Failure.RATE_LIMITED), ("86400", Failure.QUOTA_EXHAUSTED)],
)
def test_a_rate_limit_resetting_an_hour_or_more_away_is_a_quota(retry_after: str, failure: Failure) -> None:
    assert OpenAIProvider().classify(429, {"retry-after": retry_after}, b"").failure is failure


def test_azure_reads_the_wait_from_its_message() -> None:
    body = b'{"error":{"code":"429","message":"Requests ... Please retry after 6 seconds."}}'
    verdict = AzureOpenAIProvider().classify(429, {}, body)
    assert (verdict.failure, verdict.retry_after) == (Failure.RATE_LIMITED, 6.0)


@pytest.mark.parametrize(
    ("host", "port", "name", "env"),
    [
        ("api.openai.com", None, "openai", "OPENAI_API_KEYS"),
        ("eu.api.openai.com", None, "openai", "OPENAI_API_KEYS"),
        ("my-res.openai.azure.com", None, "azure-openai", "AZURE_OPENAI_API_KEYS"),
        ("my-res.cognitiveservices.azure.com", None, "azure-openai", "AZURE_OPENAI_API_KEYS"),
        ("api.groq.com", None, "groq", "GROQ_API_KEYS"),
        ("api.deepseek.com", None, "deepseek", "DEEPSEEK_API_KEYS"),
        ("api.mistral.ai", None, "mistral", "MISTRAL_API_KEYS"),
        ("api.together.xyz", None, "together", "TOGETHER_API_KEYS"),
        ("openrouter.ai", None, "openrouter", "OPENROUTER_API_KEYS"),
        ("localhost", 11434, "ollama", "OLLAMA_API_KEYS"),
        ("vllm.internal", 8000, "openai", "OPENAI_API_KEYS"),
    ],
)
def test_openai_sdk_base_url_picks_the_provider(host: str, port: int | None, name: str, env: str) -> None:
    provider = openai_provider_for(host, port)
    assert provider.name == name
    assert provider.env_list == (env,)


@pytest.mark.parametrize(
    ("provider", "before", "after"),
    [
        (OpenAIProvider(), {"authorization": "Bearer placeholder"}, {"authorization": "Bearer sk-new"}),
        (AnthropicProvider(), {"authorization": "Bearer placeholder"}, {"authorization": "Bearer sk-new"}),
        (AnthropicProvider(), {"x-api-key": "placeholder"}, {"x-api-key": "sk-new"}),
        (GeminiProvider(), {"x-goog-api-key": "placeholder"}, {"x-goog-api-key": "sk-new"}),
        (GeminiProvider(), {}, {"x-goog-api-key": "sk-new"}),
        (AzureOpenAIProvider(), {"authorization": "Bearer placeholder"}, {"api-key": "sk-new"}),
        (AzureOpenAIProvider(), {"api-key": "placeholder"}, {"api-key": "sk-new"}),
        (
            AnthropicProvider(),
            {"x-api-key": "a", "authorization": "Bearer b"},
            {"authorization": "Bearer sk-new"},
        ),
    ],
)
def test_key_goes_where_the_sdk_put_its_own_and_only_once(
    provider: Provider, before: dict[str, str], after: dict[str, str]
) -> None:
    headers = {"content-type": "application/json", **before}
    provider.inject(headers, Key("sk-new"))
    assert headers == {"content-type": "application/json", **after}
