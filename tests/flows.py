"""Driving the core's failover flow by hand, as a transport shell would, with no I/O (for the pure-core tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from byok_client.core.flow import GiveUp, Lease, RequestFacts, attempts
from byok_client.core.keys import Key
from byok_client.core.policy import Observation
from byok_client.core.pool import PoolState
from byok_client.providers.base import Provider


class Drive:
    """One request through ``attempts``: ``first()`` is the first key; ``failed(obs)`` the next key or the
    ``GiveUp``; ``succeeded()`` ends it with the attempt's ``Lease`` (which ``release()`` ends); ``errored()`` throws a
    connection error into the flow, as the shell does."""

    def __init__(self, pool: PoolState, provider: Provider, path: str = "", body: bytes = b"") -> None:
        deliver = getattr(pool, "_deliver", None) if getattr(pool, "_listeners", None) else None
        self.flow = attempts(pool, provider, RequestFacts(provider, path, body), (), deliver)
        self.done: Lease | None = None

    def first(self) -> Key:
        step = next(self.flow)
        assert isinstance(step, Key), step
        return step

    def failed(self, observation: Observation) -> Key | GiveUp:
        try:
            step = self.flow.send(observation)
            assert isinstance(step, Key), step
            return step
        except StopIteration as stop:
            assert isinstance(stop.value, GiveUp), stop.value
            return stop.value

    def succeeded(self, status: int = 200, headers: Mapping[str, Any] | None = None) -> Lease:
        try:
            self.flow.send(Observation(status, headers or {}))
        except StopIteration as stop:
            assert isinstance(stop.value, Lease), stop.value
            self.done = stop.value
            return stop.value
        raise AssertionError("the flow went on after a success")

    def release(self) -> None:
        if self.done is not None:
            self.done.release()
        self.flow.close()

    def errored(self, exc: BaseException | None = None) -> None:
        thrown = exc if exc is not None else ConnectionError("reset")
        try:
            self.flow.throw(thrown)
        except BaseException as raised:
            assert raised is thrown, raised
            return
        raise AssertionError("the flow swallowed an exception")
