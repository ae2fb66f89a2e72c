"""The failover flow of one request: which key to use next, and what to tell the SDK when giving up.

Pure: it imports no HTTP library. The transport shells feed it what came back and act on its answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._errors import NoUsableKeyError
from ._policy import Attempt, Failure, Observation, Verdict

if TYPE_CHECKING:
    from ._keys import Key
    from ._pool import KeyPool, _Entry
    from .providers.base import Provider

__all__ = [
    "EXTENSION",
    "TOKEN_PREFIX",
    "Binding",
    "Failover",
    "GiveUp",
    "Origin",
    "binding_for_token",
    "origin_of",
    "register_token",
    "unregister_token",
]

log = logging.getLogger("byok_client")


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Stop and hand the last real response to the SDK, with ``headers`` set on it to steer the SDK's retries."""

    verdict: Verdict
    headers: dict[str, str] = field(default_factory=dict)


class Failover:
    """One request's walk through a pool: ``first()`` names the key to send with; after a failed response,
    ``failed()`` names the next key or returns ``GiveUp``; after a good one, ``succeeded()``.

    Each key is tried at most once per request, so a request makes at most ``len(pool)`` attempts.
    """

    __slots__ = ("_current", "_pool", "_provider", "_tried", "history")

    def __init__(self, pool: KeyPool, provider: Provider) -> None:
        self._pool = pool
        self._provider = provider
        self._tried: set[int] = set()
        self._current: _Entry | None = None
        self.history: list[Attempt] = []

    def first(self) -> Key:
        """The key for the first attempt. Raises ``NoUsableKeyError`` when every key is disabled."""
        entry = self._pool._select(self._tried)
        if entry is None:
            raise NoUsableKeyError(self._provider.name, self._pool._disabled())
        return self._use(entry)

    def succeeded(self, status: int, headers: Mapping[str, str]) -> None:
        """Record a response that is not an error (the key worked)."""
        entry = self._current
        if entry is not None:
            self.history.append(Attempt(entry.key.label, status, None))
            self._pool._record_success(entry)
            self._provider.on_success(headers, entry.key)

    def failed(self, observation: Observation) -> Key | GiveUp:
        """Classify a failed response; return the next key to try, or ``GiveUp``."""
        entry = self._current
        assert entry is not None, "failed() before first()"
        verdict = self._provider.classify(observation.status, observation.headers, observation.body)
        self.history.append(Attempt(entry.key.label, observation.status, verdict.failure))
        if not verdict.failure.blames_key:
            return GiveUp(verdict)
        self._pool._record_failure(entry, verdict)
        nxt = self._pool._select(self._tried)
        if nxt is not None:
            log.info(
                "%s: key %s failed (%s, HTTP %d); retrying with key %s",
                self._provider.name,
                entry.key.label,
                verdict.failure,
                observation.status,
                nxt.key.label,
            )
            return self._use(nxt)
        return GiveUp(verdict, self._retry_headers(verdict))

    def _use(self, entry: _Entry) -> Key:
        self._current = entry
        self._tried.add(entry.index)
        return entry.key

    def _retry_headers(self, verdict: Verdict) -> dict[str, str]:
        helpful, wait = self._pool._retry_hint()
        labels = ", ".join(f"{a.key_label} ({a.failure})" for a in self.history)
        if not helpful:
            log.warning("%s: no key can serve this request: %s", self._provider.name, labels)
            return {"x-should-retry": "false"}
        log.warning("%s: every key failed for this request: %s", self._provider.name, labels)
        if wait > 0:
            cap = self._pool.policy.retry_after_cap
            return {"retry-after-ms": str(max(1, round(min(wait, cap) * 1000))), "x-should-retry": "true"}
        if verdict.failure is Failure.SERVER_ERROR:
            return {}  # the SDK's own backoff for 5xx is right
        return {"x-should-retry": "true"}


EXTENSION = "byok_client"
"""The request extension under which a client attaches its ``Binding`` for the transport."""

Origin = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class Binding:
    """What a client tells its transport about each request: the pool, the provider, and the only origin
    (scheme, host, port) that may receive a managed key."""

    pool: KeyPool
    provider: Provider
    origin: Origin


_DEFAULT_PORTS = {"http": 80, "https": 443}

# Clients that cannot mark their requests (google-genai has no request hook) hand the SDK a per-client placeholder
# key instead; the transport finds the client's binding from it. Entries leave with their client.
_TOKENS: dict[str, Binding] = {}
TOKEN_PREFIX = "byok-managed-key-"


def register_token(token: str, binding: Binding) -> None:
    """Make ``token`` (sent by the SDK as its key) stand for ``binding``."""
    _TOKENS[token] = binding


def unregister_token(token: str) -> None:
    """Forget ``token`` (its client is gone)."""
    _TOKENS.pop(token, None)


def binding_for_token(value: str) -> Binding | None:
    """The binding a placeholder credential value stands for (``Bearer`` prefix allowed)."""
    return _TOKENS.get(value.removeprefix("Bearer "))


def origin_of(scheme: str, host: str, port: int | None) -> Origin:
    """A normalised origin: lower-case scheme and host, explicit port."""
    return (scheme.lower(), host.lower(), port if port is not None else _DEFAULT_PORTS.get(scheme.lower(), 0))
