"""Model-scoped health in the core: a rate limit on one model leaves the key serving others; quotas, invalid keys
and ``cooldown_scope="key"`` stay key-wide; header readings cool per model."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from byok_client import Failure, Key, KeyPool, Verdict
from byok_client.core.policy import Observation
from byok_client.events import KeyRateLimited, PoolEvent
from byok_client.providers.openai import OpenAIProvider

from .conftest import FakeClock
from .flows import Drive


class PerModel(OpenAIProvider):
    """OpenAI's classifier, with 429s per model as the real classifiers mark them."""

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        verdict = super().classify(status, headers, body)
        if verdict.failure is Failure.RATE_LIMITED:
            return Verdict(verdict.failure, verdict.retry_after, verdict.reason, per_model=True)
        return verdict

    def request_model(self, path: str, body: bytes) -> str | None:
        model = json.loads(body).get("model") if body else None
        return model if isinstance(model, str) else None


PROVIDER = PerModel()
LIMITED = Observation(429, {"retry-after": "30"}, b'{"error": {"code": "rate_limit_exceeded"}}')
QUOTA = Observation(429, {}, b'{"error": {"code": "insufficient_quota", "type": "insufficient_quota"}}')


def body(model: str) -> bytes:
    return json.dumps({"model": model, "messages": []}).encode()


def pool_of(clock: FakeClock, **kwargs: Any) -> KeyPool:
    return KeyPool([Key(f"sk-ms-{i}-{time.monotonic_ns()}", f"k{i}") for i in range(2)], clock=clock, **kwargs)


def request(pool: KeyPool, model: str, failure: Observation | None = None, headers: Any = None) -> list[str]:
    flow = Drive(pool, PROVIDER, "/v1/chat/completions", body(model))
    tried = [flow.first().label]
    if failure is not None:
        step = flow.failed(failure)
        assert isinstance(step, Key)
        tried.append(step.label)
    flow.succeeded(200, headers or {})
    flow.release()
    return tried


def test_a_key_rate_limited_for_one_model_still_serves_another(clock: FakeClock) -> None:
    events: list[PoolEvent] = []
    pool = pool_of(clock, on_event=events.append)
    assert request(pool, "model-a", LIMITED) == ["k0", "k1"]
    assert request(pool, "model-a") == ["k1"]  # k0 cools for model-a
    assert request(pool, "model-b") == ["k0"]  # ... and serves model-b
    status = pool.status_of("k0")
    assert status.state == "ready"
    assert status.models_cooling["model-a"][1] is Failure.RATE_LIMITED
    assert 29 < status.models_cooling["model-a"][0] <= 30
    assert "model-a cooling 30.0s (rate_limited)" in pool._repr_html_()  # the table shows it too
    limited = [e for e in events if isinstance(e, KeyRateLimited)]
    assert [(e.key_label, e.model) for e in limited] == [("k0", "model-a")]
    clock.advance(30.1)
    assert request(pool, "model-a") == ["k0"]


def test_quota_is_key_wide(clock: FakeClock) -> None:
    pool = pool_of(clock)
    assert request(pool, "model-a", QUOTA) == ["k0", "k1"]
    assert request(pool, "model-b") == ["k1"]
    assert pool.status_of("k0").state == "cooling"


def test_cooldown_scope_key_cools_the_whole_key(clock: FakeClock) -> None:
    pool = pool_of(clock, cooldown_scope="key")
    assert request(pool, "model-a", LIMITED) == ["k0", "k1"]
    assert request(pool, "model-b") == ["k1"]


def test_a_header_reading_of_zero_remaining_cools_only_that_model(clock: FakeClock) -> None:
    pool = pool_of(clock)
    empty = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2s"}
    assert request(pool, "model-a", headers=empty) == ["k0"]
    assert request(pool, "model-a") == ["k1"]
    assert request(pool, "model-b") == ["k0"]
    clock.advance(2.1)
    assert request(pool, "model-a") == ["k0"]


def test_every_key_cooling_for_a_model_still_sends_to_the_one_ready_soonest(clock: FakeClock) -> None:
    pool = pool_of(clock)
    request(pool, "model-a", LIMITED)  # k0 cools for model-a (30 s); k1 served
    flow = Drive(pool, PROVIDER, "/v1/chat/completions", body("model-a"))
    assert flow.first().label == "k1"
    clock.advance(1)
    step = flow.failed(Observation(429, {"retry-after": "60"}, b'{"error": {"code": "rate_limit_exceeded"}}'))
    assert not isinstance(step, Key)  # both cool for model-a: give up, with the provider's wait
    assert 28_000 <= int(step.headers["retry-after-ms"]) <= 29_000
    assert request(pool, "model-b") == ["k0"]


class Counting(PerModel):
    """Counts the times the request's model is read."""

    def __init__(self) -> None:
        self.reads = 0

    def request_model(self, path: str, body: bytes) -> str | None:
        self.reads += 1
        return super().request_model(path, body)


def served(pool: KeyPool, provider: Counting, model: str, headers: Mapping[str, str]) -> str:
    flow = Drive(pool, provider, "/v1/chat/completions", body(model))
    label = flow.first().label
    flow.succeeded(200, headers)
    flow.release()
    return label


FAR = {
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-remaining-requests": "9990",
    "x-ratelimit-reset-requests": "60ms",
    "x-ratelimit-limit-tokens": "2000000",
    "x-ratelimit-remaining-tokens": "1999000",
    "x-ratelimit-reset-tokens": "30ms",
}


def test_a_reading_far_from_the_limit_is_kept_key_wide_without_reading_the_model(clock: FakeClock) -> None:
    provider = Counting()
    pool = pool_of(clock)
    for _ in range(5):
        served(pool, provider, "model-a", FAR)
    assert provider.reads == 0  # the common case: the body is never scanned
    health = pool._entries[0].health
    assert health.remaining_requests == 9990 and health.remaining_tokens == 1999000
    assert not health.models
    assert pool._entries[0].key._digest not in pool._budgets.kept


def test_a_reading_near_the_limit_is_kept_per_model_and_learned(clock: FakeClock) -> None:
    provider = Counting()
    pool = pool_of(clock)
    near = {**FAR, "x-ratelimit-remaining-requests": "20"}
    assert served(pool, provider, "model-a", near) == "k0"
    assert provider.reads == 1
    health = pool._entries[0].health
    assert health.models is not None and health.models["model-a"].remaining_requests == 20
    assert pool._entries[0].key._digest in pool._budgets.kept  # (10000 - 20 - 1) / 0.06 s: a refill rate to keep
    # from now on every reading of that key is read per model, however far from the limit
    served(pool, provider, "model-b", FAR)
    assert provider.reads == 2
    assert health.models is not None and health.models["model-b"].remaining_requests == 9990


def test_the_margin_grows_with_the_requests_in_flight(clock: FakeClock) -> None:
    provider = Counting()
    pool = pool_of(clock)
    reading = {**FAR, "x-ratelimit-remaining-requests": "40"}  # far for one request in flight...
    served(pool, provider, "model-a", reading)
    assert provider.reads == 0
    busy = [Drive(pool, provider, "/v1/chat/completions", body("model-a")) for _ in range(6)]
    for flow in busy:
        flow.first()
    # ...near with 7 in flight (32 + 2 x 7 > 40): the reading may be stale by the others' requests
    served(pool, provider, "model-a", reading)
    assert provider.reads == 1
    for flow in busy:
        flow.flow.close()
