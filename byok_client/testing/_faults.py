"""Seeded random fault injection for :class:`~byok_client.testing.MockProvider` (chaos tests)."""

from __future__ import annotations

import random
from collections.abc import Collection
from typing import Final

from ._behaviours import (
    Behaviour,
    connection_reset,
    invalid_key,
    rate_limited,
    reset_mid_body,
    server_error,
    stall,
    truncated_stream,
)

__all__ = ["FAULT_KINDS", "FaultInjector"]

FAULT_KINDS: Final = frozenset({"429", "500", "503", "401", "reset", "reset_mid_body", "stall", "truncated_stream"})
"""Every kind :meth:`MockProvider.inject_faults` knows:

- ``"429"``: the provider's rate-limit answer with ``retry-after`` (and ``retry-after-ms``);
- ``"500"``, ``"503"``: server errors in the provider's shape;
- ``"401"``: the provider's invalid-key answer, and the key stays revoked (every later request with it gets 401);
- ``"reset"``: a TCP reset before any response byte;
- ``"reset_mid_body"``: status line and headers, part of the body, then a reset;
- ``"stall"``: status line and headers, then silence for ``stall_seconds``, then a reset;
- ``"truncated_stream"``: some SSE events, then the connection closes without the final one (streamed requests
  only; other requests draw among the other kinds).
"""


class FaultInjector:
    """The configuration and the random source of :meth:`MockProvider.inject_faults` (used under its lock)."""

    def __init__(
        self,
        *,
        seed: int | None,
        rate: float,
        kinds: Collection[str],
        keys: Collection[str] | None,
        retry_after: float,
        stall_seconds: float,
        body_statuses: Collection[int],
        revocable: Collection[str] | None,
        max_revoked: int,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be within [0, 1], got {rate}")
        unknown = set(kinds) - FAULT_KINDS
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {sorted(FAULT_KINDS)}")
        if not kinds:
            raise ValueError("inject_faults needs at least one kind")
        if retry_after < 0 or stall_seconds < 0 or max_revoked < 0:
            raise ValueError("retry_after, stall_seconds and max_revoked must be >= 0")
        self.rate = rate
        self.kinds = sorted(kinds)  # sorted: the same seed draws the same faults whatever the set's order
        self.keys = None if keys is None else frozenset(keys)
        self.retry_after = retry_after
        self.stall_seconds = stall_seconds
        self.body_statuses = sorted(body_statuses)
        if not self.body_statuses:
            raise ValueError("body_statuses needs at least one status")
        for status in self.body_statuses:
            reset_mid_body(status)  # validates
        self.revocable = None if revocable is None else frozenset(revocable)
        self.max_revoked = max_revoked
        self._random = random.Random(seed)

    def applies_to(self, key: str) -> bool:
        return self.keys is None or key in self.keys

    def draw(self, key: str, stream: bool, revoked: set[str]) -> Behaviour | None:
        """A fault for this request (``None``: answer normally). Revokes ``key`` (adds it to ``revoked``) on a 401."""
        rng = self._random
        if rng.random() >= self.rate:
            return None
        kinds = [k for k in self.kinds if k != "truncated_stream" or stream]
        if "401" in kinds and (
            len(revoked) >= self.max_revoked or (self.revocable is not None and key not in self.revocable)
        ):
            kinds.remove("401")
        if not kinds:
            return None
        kind = rng.choice(kinds)
        if kind == "429":
            return rate_limited(retry_after=self.retry_after, retry_after_ms=self.retry_after * 1000)
        if kind in ("500", "503"):
            return server_error(int(kind))
        if kind == "401":
            revoked.add(key)
            return invalid_key()
        if kind == "reset":
            return connection_reset()
        if kind == "reset_mid_body":
            return reset_mid_body(rng.choice(self.body_statuses))
        if kind == "stall":
            return stall(self.stall_seconds, rng.choice(self.body_statuses))
        return truncated_stream()
