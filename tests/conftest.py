"""Shared fixtures: a deterministic clock, a clean environment and MockProvider servers."""

from __future__ import annotations

import logging
import traceback
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from byok_client.core.keys import Key
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
    """Each test starts with no process-wide state of earlier tests (shared key health, placeholder tokens, upload
    sessions, warn-once marks, state backends): isolation does not depend on the garbage collector."""
    from byok_client._process import reset_process_state

    reset_process_state()
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


# -- the leak scanner: no configured key value in any log record, warning, failure report or captured output -----
class _LeakScanner(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.texts.append(record.getMessage())
        except Exception:  # a record that cannot format is not ours to judge
            self.texts.append(str(record.msg))
        if record.exc_info and record.exc_info[1] is not None:
            self.texts.append("".join(traceback.format_exception(record.exc_info[1])))


_SECRETS: set[str] = set()


@pytest.fixture(autouse=True)
def leak_scanner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fails the test if a key value built during it appears in a log record (every logger, at DEBUG) or a
    warning. Failure reports and captured output are checked in ``pytest_runtest_makereport``."""
    _SECRETS.clear()
    original = Key.__init__

    def recording(self: Key, value: Any, *args: Any, **kwargs: Any) -> None:
        original(self, value, *args, **kwargs)
        if isinstance(value, str) and len(value) >= 12:  # shorter values collide with ordinary text
            _SECRETS.add(value)

    monkeypatch.setattr(Key, "__init__", recording)
    warned: list[str] = []
    warn = warnings.warn

    def recording_warn(message: Any, category: Any = None, stacklevel: int = 1, source: Any = None) -> None:
        warned.append(str(message))
        warn(message, category, stacklevel + 1, source)  # +1: the warning still points at its caller

    monkeypatch.setattr(warnings, "warn", recording_warn)
    handler = _LeakScanner()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    if request.node.get_closest_marker("shows_keys"):
        return
    texts = handler.texts + warned
    leaked = sorted({secret for secret in _SECRETS for text in texts if secret in text})
    assert not leaked, f"{len(leaked)} key value(s) appeared in log records or warnings"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if item.get_closest_marker("shows_keys") or not _SECRETS:
        return
    texts = [report.longreprtext] + [content for _, content in report.sections]
    if any(secret in text for secret in _SECRETS for text in texts):
        report.outcome = "failed"
        report.longrepr = "a key value appeared in this test's failure report or captured output"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "shows_keys: the test prints or logs key values on purpose (leak scanner off)")
