"""make_state and RedisState construction: what is accepted, and that errors and logs never show a password."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from byok_client import ByokConfigError, MissingDependencyError
from byok_client.state import (
    InMemoryState,
    RedisState,
    StateBackend,
    StateChange,
    StateUnavailableError,
    make_state,
    redact_url,
)
from tests.redis_server import free_port

SECRET = "s3cret-pa55"


class Custom:
    def attach(self, scope: str, apply: Callable[[StateChange], None]) -> Callable[[], None]:
        return lambda: None

    def publish(self, change: StateChange) -> None:
        pass

    def count(self, scope: str, fingerprint: str, field: str, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def test_none_is_in_memory() -> None:
    assert isinstance(make_state(None), InMemoryState)


def test_a_backend_object_is_used_as_is() -> None:
    custom = Custom()
    assert make_state(custom) is custom
    assert isinstance(custom, StateBackend)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://h:6380", "unix:///tmp/redis.sock"])
def test_urls_make_redis_state(url: str) -> None:
    state = make_state(url)
    try:
        assert isinstance(state, RedisState)
        assert state.prefix == "byok"
    finally:
        state.close()


def test_prefix_from_url_query_and_argument() -> None:
    state = make_state("redis://127.0.0.1:6379/0?prefix=fleet-a")
    other = make_state("redis://127.0.0.1:6379/0", prefix="fleet-b")
    try:
        assert isinstance(state, RedisState) and state.prefix == "fleet-a"
        assert isinstance(other, RedisState) and other.prefix == "fleet-b"
    finally:
        state.close()
        other.close()


@pytest.mark.parametrize(
    "spec",
    [42, 1.5, b"redis://h", ["redis://h"], object()],
)
def test_other_objects_are_config_errors(spec: object) -> None:
    with pytest.raises(ByokConfigError, match="state must be"):
        make_state(spec)


@pytest.mark.parametrize(
    "spec",
    [
        f"http://user:{SECRET}@host/0",
        f"memcached://:{SECRET}@host",
        f"redis:/user:{SECRET}@host",
        f"redis://user:{SECRET}@host:notaport/0",
        f"redis://host/0?password={SECRET}&db=x",
        "",
    ],
)
def test_bad_urls_never_show_the_password(spec: str) -> None:
    with pytest.raises(ByokConfigError) as info:
        make_state(spec)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert info.value.__cause__ is None or SECRET not in str(info.value.__cause__)


def test_redact_url() -> None:
    assert redact_url(f"redis://me:{SECRET}@h:1/0") == "redis://me:***@h:1/0"
    assert redact_url(f"rediss://:{SECRET}@h") == "rediss://:***@h"
    assert SECRET not in redact_url(f"redis://h/0?password={SECRET}")
    assert redact_url("redis://h:1/0") == "redis://h:1/0"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prefix": ""}, "prefix"),
        ({"prefix": "a{b}"}, "prefix"),
        ({"prefix": "a b"}, "prefix"),
        ({"ttl": 0}, "ttl"),
        ({"ttl": True}, "ttl"),
        ({"flush_interval": -1}, "flush_interval"),
        ({"max_queue": 0}, "max_queue"),
        ({"close_timeout": "1"}, "close_timeout"),
    ],
)
def test_bad_options(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ByokConfigError, match=message):
        RedisState.from_url("redis://127.0.0.1:1/0", **kwargs)


def test_needs_exactly_one_of_client_and_url() -> None:
    with pytest.raises(ByokConfigError, match="exactly one"):
        RedisState()
    import redis

    with pytest.raises(ByokConfigError, match="exactly one"):
        RedisState(client=redis.Redis(), url="redis://h")


def test_repr_and_errors_hide_the_password(caplog: pytest.LogCaptureFixture) -> None:
    url = f"redis://user:{SECRET}@127.0.0.1:{free_port()}/0"  # nothing listens there
    state = make_state(url)
    assert isinstance(state, RedisState)
    try:
        assert SECRET not in repr(state)
        with caplog.at_level(logging.INFO, logger="byok_client"):
            state.publish(StateChange("s", "fp", "cooldown", until=time.time() + 5))
            deadline = time.monotonic() + 5
            while not any(r.levelno == logging.WARNING for r in caplog.records) and time.monotonic() < deadline:
                time.sleep(0.02)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "unreachable" in warnings[0].getMessage()
        assert "redis://user:***@127.0.0.1" in warnings[0].getMessage()
        assert all(SECRET not in r.getMessage() for r in caplog.records)
        with pytest.raises(StateUnavailableError) as info:
            state.snapshot()
        assert SECRET not in str(info.value)
    finally:
        state.close()


def test_missing_redis_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(MissingDependencyError, match=r"byok-client\[redis\]") as info:
        make_state("redis://127.0.0.1:6379/0")
    assert info.value.extra == "redis"
    with pytest.raises(MissingDependencyError):
        RedisState(client=object())
