"""Shared fixtures: a deterministic clock, a clean environment and MockProvider servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from byok_client.testing import MockProvider


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


_KEY_ENV_PREFIXES = ("OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_", "BYOK_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's real keys or settings."""
    import os

    for name in list(os.environ):
        if name.startswith(_KEY_ENV_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def fresh_registries() -> Iterator[None]:
    """Each test starts with no shared key health and no placeholder tokens of earlier tests' clients: isolation
    does not depend on the garbage collector."""
    from byok_client._binding import TOKENS
    from byok_client.core.registry import SCOPES

    SCOPES.clear()
    TOKENS.clear()
    yield


@pytest.fixture(scope="session")
def _server() -> Iterator[MockProvider]:
    with MockProvider() as server:
        yield server


@pytest.fixture
def mock(_server: MockProvider) -> Iterator[MockProvider]:
    """One server for the session, with fresh keys and an empty record for each test."""
    _server.reset()
    yield _server
