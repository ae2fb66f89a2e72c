"""The failover flow of one request: which key to use next, and what to tell the SDK when giving up.

Pure: it imports no HTTP library. The transport shells feed it what came back and act on its answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import NoUsableKeyError
from .core.policy import Attempt, Failure, Observation, Verdict

if TYPE_CHECKING:
    from ._pool import Emit, KeyPool, _Entry
    from .core.keys import Key
    from .events import EventCallback, PoolEvent
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


class GiveUp:
    """Stop and hand the last real response to the SDK, with ``headers`` set on it to steer the SDK's retries."""

    __slots__ = ("headers", "verdict")

    def __init__(self, verdict: Verdict, headers: dict[str, str] | None = None) -> None:
        self.verdict = verdict
        self.headers = headers if headers is not None else {}

    def __repr__(self) -> str:
        return f"GiveUp({self.verdict!r}, {self.headers!r})"


class Failover:
    """One request's walk through a pool: ``first()`` names the key to send with; after a failed response,
    ``failed()`` names the next key or returns ``GiveUp``; after a good one, ``succeeded()``; after a connection
    error or timeout, ``errored()``. ``release()`` ends the attempt that succeeded (when its body is consumed).

    Each key is tried at most once per request, so a request makes at most ``len(pool)`` attempts.
    """

    __slots__ = ("_current", "_emit", "_extra", "_path_source", "_pool", "_provider", "_tried", "history")

    @property
    def _path(self) -> str:
        """The request path for events; given as a URL, it is read only when an event needs it."""
        source = self._path_source
        return source if isinstance(source, str) else str(source.path)

    def __init__(
        self, pool: KeyPool, provider: Provider, path: Any = "", listeners: Sequence[EventCallback] = ()
    ) -> None:
        self._pool = pool
        self._provider = provider
        self._path_source = path
        self._extra = listeners
        self._emit: Emit | None = self._deliver if (pool._listeners or listeners) else None
        self._tried: set[int] = set()
        self._current: _Entry | None = None
        self.history: list[Attempt] = []

    def _deliver(self, events: list[PoolEvent]) -> None:
        self._pool._deliver(events, self._extra)

    def first(self) -> Key:
        """The key for the first attempt. Raises ``NoUsableKeyError`` when every key is disabled."""
        emit = self._emit
        entry = self._pool._select(self._tried, emit, self._provider.name, self._path if emit is not None else "")
        if entry is None:
            raise NoUsableKeyError(self._provider.name, self._pool._disabled())
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s: using key %s", self._provider.name, self._path, entry.key.label)
        return self._use(entry)

    def succeeded(
        self, status: int, headers: Mapping[str, str], limit_headers: Mapping[str, str] | None = None
    ) -> None:
        """Record a response that is not an error (the key worked); the attempt stays in flight until
        ``release()``. ``limit_headers`` may hold just the rate-limit headers (a cheaper view)."""
        entry = self._current
        if entry is None:
            return
        if self.history:  # only a request that failed over keeps a history (it is read when all keys fail)
            self.history.append(Attempt(entry.key.label, status, None))
        limits = self._provider.read_limits(limit_headers if limit_headers is not None else headers)
        emit = self._emit
        self._pool._record_success(entry, limits, emit, self._provider.name, self._path if emit is not None else "")
        self._provider.on_success(headers, entry.key)
        if self._emit is not None:
            from .events import AttemptCompleted

            self._emit([AttemptCompleted(self._provider.name, entry.key.label, None, None, self._path, status)])

    def release(self) -> None:
        """The successful attempt is over (its body was read or closed)."""
        entry, self._current = self._current, None
        if entry is not None:
            self._pool._release(entry)

    def release_later(self) -> None:
        """``release()`` from a finalizer: queued, done by the pool at its next pick (no lock taken here)."""
        entry, self._current = self._current, None
        if entry is not None:
            self._pool._pending_release.append(entry)

    def errored(self) -> None:
        """The attempt raised (connection error, timeout): counted, the key untouched, the SDK decides."""
        entry, self._current = self._current, None
        if entry is not None:
            self.history.append(Attempt(entry.key.label, 0, None))
            self._pool._record_error(entry)
            self._pool._release(entry)
            if self._emit is not None:
                from .events import AttemptCompleted

                self._emit([AttemptCompleted(self._provider.name, entry.key.label, None, None, self._path, 0, "error")])

    def failed(self, observation: Observation) -> Key | GiveUp:
        """Classify a failed response; return the next key to try, or ``GiveUp``."""
        entry = self._current
        assert entry is not None, "failed() before first()"
        provider = self._provider
        verdict = provider.classify(observation.status, observation.headers, observation.body)
        self.history.append(Attempt(entry.key.label, observation.status, verdict.failure))
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s: key %s got HTTP %d: %s (%s, retry after %s)",
                provider.name,
                self._path,
                entry.key.label,
                observation.status,
                verdict.failure,
                verdict.reason,
                verdict.retry_after,
            )
        pool, emit = self._pool, self._emit
        if emit is not None:
            from .events import AttemptCompleted, FailedOver, PoolExhausted

            emit(
                [
                    AttemptCompleted(
                        provider.name,
                        entry.key.label,
                        verdict.failure,
                        None,
                        self._path,
                        observation.status,
                        str(verdict.failure),
                    )
                ]
            )
        if not verdict.failure.blames_key:
            self._current = None
            pool._release(entry)
            return GiveUp(verdict)
        limits = provider.read_limits(observation.headers)
        pool._record_failure(entry, verdict, limits, emit, provider.name, self._path)
        pool._release(entry)
        nxt = pool._select(self._tried, emit, provider.name, self._path)
        if nxt is not None:
            log.info(
                "%s: key %s failed (%s, HTTP %d); retrying with key %s",
                provider.name,
                entry.key.label,
                verdict.failure,
                observation.status,
                nxt.key.label,
            )
            if emit is not None:
                emit(
                    [
                        FailedOver(
                            provider.name,
                            entry.key.label,
                            verdict.failure,
                            None,
                            self._path,
                            nxt.key.label,
                            observation.status,
                        )
                    ]
                )
            return self._use(nxt)
        self._current = None
        give_up = GiveUp(verdict, self._retry_headers(verdict))
        if emit is not None:
            wait = give_up.headers.get("retry-after-ms")
            emit([PoolExhausted(provider.name, self._path, tuple(self.history), int(wait) / 1000 if wait else None)])
        return give_up

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


class Binding:
    """What a client tells its transport about each request: the pool, the provider, the only origin
    (scheme, host, port) that may receive a managed key, and the client's own ``on_event`` listeners."""

    __slots__ = ("listeners", "origin", "pool", "provider")

    def __init__(
        self, pool: KeyPool, provider: Provider, origin: Origin, listeners: tuple[EventCallback, ...] = ()
    ) -> None:
        self.pool = pool
        self.provider = provider
        self.origin = origin
        self.listeners = listeners


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
