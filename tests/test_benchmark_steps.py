"""``benchmarks.steps`` counts the work it says it counts: each arm's requests reach the mock with the arm's key,
the whole-process counts see the SDK's work, and the own counts see byok_client's (or the floor's) and nothing of
the raw SDK's."""

from __future__ import annotations

import pytest

from benchmarks._calls import GOOD, RAW
from benchmarks.steps import count_steps
from byok_client.testing import MockProvider


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_steps_count_each_arm(mock: MockProvider, provider: str) -> None:
    for value in GOOD:
        mock.add_key(value, label="good")
    mock.add_key(RAW, label="raw")
    raw = count_steps(provider, "raw", mock.url, requests=3)
    ours = count_steps(provider, "byok", mock.url, requests=3)
    floor = count_steps(provider, "floor", mock.url, requests=3)
    # 13 requests an arm (10 warm-up, 3 counted): the raw SDK sent its own key, byok and the floor a managed one
    assert [r.label for r in mock.requests] == ["raw"] * 13 + ["good"] * 26
    assert raw.own_calls == raw.own_instructions == 0
    assert raw.instructions > 1000 and raw.calls > 100
    assert ours.own_instructions > floor.own_instructions > 0
    assert ours.instructions > raw.instructions and ours.calls > raw.calls
    assert ours.instructions - raw.instructions >= ours.own_instructions * 0.9  # ours is extra work, not the SDK's
