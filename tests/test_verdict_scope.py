"""Which failures bind a key for one model only (``Verdict.per_model`` / ``model``), read from real error bodies."""

from __future__ import annotations

import json

import pytest

from byok_client import Failure
from byok_client.core.policy import Verdict
from byok_client.providers.base import rate_limit
from byok_client.providers.gemini import GeminiProvider
from byok_client.providers.openai import AzureOpenAIProvider, OpenAIProvider

from .provider_error_samples import SAMPLES, ErrorSample
from .test_classifiers import CLASSIFIERS

# Gemini names the model of a quota; the samples that do, and the model they name.
GEMINI_MODELS = {
    '"model":"gemini-2.5-pro"': "gemini-2.5-pro",
    '"model":"gemini-2.5-flash"': "gemini-2.5-flash",
    "GenerateRequestsPerDayPerProjectPerModel": "gemini-2.0-flash",
    "limit: 0, model: gemini-2.0-flash": "gemini-2.0-flash",
}


def expected_scope(sample: ErrorSample) -> tuple[bool, str | None]:
    if sample.expected not in ("rate_limited", "quota_exhausted"):
        return False, None  # not the key's limit, or the whole key (invalid)
    if sample.provider == "gemini":
        named = [model for marker, model in GEMINI_MODELS.items() if marker in sample.body]
        return (True, named[0]) if named else (False, None)  # no model dimension: the whole key
    if sample.expected == "rate_limited":
        return True, None  # OpenAI, the compatible hosts and Anthropic limit per model: the request's
    # quota, billing, credit and usage limits are key-wide; Azure's "retry after 86400" stays a deployment's limit
    return (True, None) if sample.provider == "azure" and sample.status == 429 else (False, None)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: f"{s.provider}-{s.status}-{s.expected}")
def test_scope_of_every_real_sample(sample: ErrorSample) -> None:
    headers = {k.lower(): v for k, v in sample.headers.items()}
    verdict = CLASSIFIERS[sample.provider].classify(sample.status, headers, sample.body.encode())
    assert (verdict.per_model, verdict.model) == expected_scope(sample), sample.note


def test_samples_cover_both_scopes_for_each_main_provider() -> None:
    for provider in ("openai", "anthropic", "gemini"):
        scopes = {expected_scope(s)[0] for s in SAMPLES if s.provider == provider and s.expected != "client_error"}
        assert scopes == {True, False}, provider
    assert {expected_scope(s)[1] for s in SAMPLES if s.provider == "gemini"} >= {"gemini-2.5-pro", "gemini-2.0-flash"}


QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


def gemini_429(*violations: dict[str, object], delay: str = "12s") -> bytes:
    details = [{"@type": QUOTA_FAILURE, "violations": list(violations)}, {"@type": RETRY_INFO, "retryDelay": delay}]
    return json.dumps({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": details}}).encode()


@pytest.mark.parametrize(
    ("violations", "failure", "per_model", "model"),
    [
        # per minute, model dimension
        (
            [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel", "quotaDimensions": {"model": "gemini-x"}}],
            Failure.RATE_LIMITED,
            True,
            "gemini-x",
        ),
        # per minute, the model only inside the metric
        (
            [{"quotaMetric": "generativelanguage.googleapis.com/gemini-2.5-pro/requests", "quotaId": "PerMinute"}],
            Failure.RATE_LIMITED,
            True,
            "gemini-2.5-pro",
        ),
        # a PerModel quota that names no model: the request's model
        ([{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel"}], Failure.RATE_LIMITED, True, None),
        # per day, model dimension
        (
            [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel", "quotaDimensions": {"model": "gemini-y"}}],
            Failure.QUOTA_EXHAUSTED,
            True,
            "gemini-y",
        ),
        # per day without a model dimension: the whole key
        ([{"quotaId": "GenerateRequestsPerDayPerProject"}], Failure.QUOTA_EXHAUSTED, False, None),
        # a project-wide quota next to a per-model one: the wider one binds the key
        (
            [
                {"quotaId": "GenerateRequestsPerMinutePerProjectPerRegion"},
                {"quotaId": "GenerateRequestsPerMinutePerProjectPerModel", "quotaDimensions": {"model": "gemini-x"}},
            ],
            Failure.RATE_LIMITED,
            False,
            None,
        ),
        # zero quota for one model
        (
            [{"quotaId": "GenerateRequestsPerMinute", "quotaDimensions": {"model": "gemini-z"}, "quotaValue": "0"}],
            Failure.QUOTA_EXHAUSTED,
            True,
            "gemini-z",
        ),
        # wrong types inside: read as absent
        ([{"quotaId": ["PerDay"], "quotaDimensions": "gemini-x"}], Failure.RATE_LIMITED, False, None),
    ],
)
def test_gemini_quota_scope(
    violations: list[dict[str, object]], failure: Failure, per_model: bool, model: str | None
) -> None:
    verdict = GeminiProvider().classify(429, {}, gemini_429(*violations))
    assert (verdict.failure, verdict.per_model, verdict.model) == (failure, per_model, model)


def test_openai_rate_limits_are_per_model_quota_key_wide() -> None:
    limited = OpenAIProvider().classify(429, {"retry-after": "3"}, b'{"error": {"code": "rate_limit_exceeded"}}')
    assert (limited.failure, limited.per_model, limited.model) == (Failure.RATE_LIMITED, True, None)
    quota = OpenAIProvider().classify(429, {}, b'{"error": {"code": "insufficient_quota"}}')
    assert (quota.failure, quota.per_model) == (Failure.QUOTA_EXHAUSTED, False)
    daily = OpenAIProvider().classify(429, {}, b'{"error": {"message": "requests per day (RPD): Limit 200"}}')
    assert (daily.failure, daily.per_model) == (Failure.QUOTA_EXHAUSTED, True)


def test_openrouter_free_model_allowance_is_account_wide() -> None:
    body = b'{"error": {"message": "Rate limit exceeded: free-models-per-min.", "code": 429}}'
    verdict = OpenAIProvider("openrouter", "OPENROUTER").classify(429, {}, body)
    assert (verdict.failure, verdict.per_model) == (Failure.RATE_LIMITED, False)


def test_azure_retry_after_in_message_is_the_deployments_limit() -> None:
    body = b'{"error": {"code": "429", "message": "Please retry after 6 seconds."}}'
    verdict = AzureOpenAIProvider().classify(429, {}, body)
    assert (verdict.failure, verdict.retry_after, verdict.per_model) == (Failure.RATE_LIMITED, 6.0, True)


@pytest.mark.parametrize(("retry_after", "failure"), [(5.0, Failure.RATE_LIMITED), (7200.0, Failure.QUOTA_EXHAUSTED)])
def test_rate_limit_carries_the_scope(retry_after: float, failure: Failure) -> None:
    verdict = rate_limit(retry_after, "r", per_model=True, model="m")
    assert verdict == Verdict(failure, retry_after, verdict.reason, per_model=True, model="m")
    assert rate_limit(retry_after).per_model is False
