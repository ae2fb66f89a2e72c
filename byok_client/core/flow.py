"""The failover flow of one request, as a generator (in the manner of httpx's ``Auth.auth_flow``).

``attempts(pool, provider, request)`` yields the key to send with; the transport shell sends the request and
hands back what came of it: ``flow.send(Observation(...))`` for any response, or ``flow.throw(exc)`` when sending
or reading raised. The flow ends (``StopIteration.value``) with the good attempt's ``Lease`` (the response is
good: return it, and end the lease when its body closes) or ``GiveUp`` (hand the last response to the SDK with
these headers).

Every attempt holds a ``Lease`` on its key's in-flight slot. The flow releases it on every path it owns: a failed
attempt, a thrown exception, a classifier that raises, and ``flow.close()`` (the shell always closes the flow,
so an exception anywhere in the shell releases too). Only success hands the lease on, to the response body.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._errors import NoUsableKeyError
from .budget import Demand, Reject, Wait
from .keys import Key
from .policy import Attempt, Failure, Observation, Verdict

if TYPE_CHECKING:
    from ..events import EventCallback, PoolEvent
    from ..providers.base import Provider
    from .pool import Limits, PoolState, _Entry

__all__ = ["Flow", "GiveUp", "Lease", "Reject", "RequestFacts", "Wait", "attempts"]

log = logging.getLogger("byok_client")


class RequestFacts(Demand):
    """What the decision needs to know of a request, read lazily: its path (for events), its model (from the
    already-read body or the URL path, by the provider) and, as a ``Demand``, what it asks of a budget."""

    __slots__ = ("_path", "provider", "url")

    def __init__(self, provider: Provider, url: Any = "", body: bytes = b"") -> None:
        super().__init__(body)
        self.provider = provider
        self.url = url
        self._path: str | None = None

    @property
    def body(self) -> bytes:
        return self._body

    @property
    def path(self) -> str:
        path = self._path
        if path is None:
            url = self.url
            path = self._path = url if isinstance(url, str) else str(url.path)
        return path

    def _find_model(self) -> str | None:
        try:
            read = getattr(self.provider, "request_model", None)
            return read(self.path, self._body) if read is not None else None
        except Exception:  # reading the model is a hint; it must never fail a request
            return None


class Lease:
    """One attempt's hold on a key's in-flight slot; released exactly once, whichever path comes first. A flow
    that succeeds returns its lease: the response is good, and its body's close ends the lease."""

    __slots__ = ("_entry", "_pool", "key")

    def __init__(self, pool: PoolState, entry: _Entry) -> None:
        self._pool: PoolState | None = pool
        self._entry = entry
        self.key: Key = entry.key

    @property
    def held(self) -> bool:
        """Whether the slot is still held."""
        return self._pool is not None

    def release(self) -> None:
        """Give the slot back (idempotent)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            with pool._lock:
                pool._release_locked(self._entry)

    def release_later(self) -> None:
        """``release()`` from a finalizer: queued, done by the pool at its next pick (no lock taken here, which
        could deadlock if the collector ran inside the lock)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool._pending_release.append(self._entry)


class GiveUp:
    """Stop and hand the last real response to the SDK, with ``headers`` set on it to steer the SDK's retries."""

    __slots__ = ("headers", "history", "verdict")

    def __init__(
        self, verdict: Verdict, headers: dict[str, str] | None = None, history: list[Attempt] | None = None
    ) -> None:
        self.verdict = verdict
        self.headers = headers if headers is not None else {}
        self.history = history if history is not None else []

    def __repr__(self) -> str:
        return f"GiveUp({self.verdict!r}, {self.headers!r})"


Flow = Generator["Key | Wait | Reject", "Observation | None", "Lease | GiveUp"]
"""Yields the key of each attempt, or before the first, ``Wait`` (sleep, then ``send(None)``) or ``Reject`` (no key
has budget in time: answer with a client-side 429 and close the flow); returns the good attempt's ``Lease`` or
``GiveUp``."""


def attempts(
    pool: PoolState,
    provider: Provider,
    request: RequestFacts,
    listeners: Sequence[EventCallback] = (),
    deliver: Any = None,
) -> Flow:
    """The failover flow of one request through ``pool``. Raises ``NoUsableKeyError`` (at the first ``next``)
    when every key is disabled. Each key is tried at most once, so a request makes at most ``len(pool)`` attempts.

    ``deliver(events, listeners)`` hands events to the pool's and the client's listeners (None: no events).
    """
    name = provider.name
    events: list[PoolEvent] | None = [] if deliver is not None else None
    history: list[Attempt] = []
    tried: set[int] = set()
    shared = pool._shared
    where = request.path if events is not None else ""  # the path, for events only
    demand = request
    admitting = pool._on_exhausted != "send"
    debug = log.isEnabledFor(logging.DEBUG)  # once a request: the per-attempt DEBUG lines
    entry = pool._select(
        tried, events, name, where, request.model if shared.model_cooling else None, demand, not admitting
    )
    if debug:
        _picked(entry, name, request)
    if events:
        _flush(events, deliver, listeners)
    if entry is None and admitting and not pool._none_enabled:
        # Admission: every key is spent. Wait (no lease held, no lock) for a reserved unit, or reject.
        deadline = pool._clock() + pool._max_wait
        model = request.model if pool._cooldown_scope == "model" else None
        while entry is None:
            step = pool._admit(demand, model, deadline)
            if step is None:
                break
            if isinstance(step, Reject):
                # per request: DEBUG (the episode is what PoolCapacityLow reports at WARNING)
                log.debug(
                    "%s %s: no key has budget for %.3f s: rejected client-side", name, request.path, step.retry_after
                )
                yield step
                raise RuntimeError("a rejected request's flow cannot go on")
            reserved, seconds = step
            if seconds < 0:
                entry = reserved  # taken as without admission
                break
            try:
                yield Wait(seconds)
            except BaseException:
                pool._unreserve(reserved, demand)
                raise
            entry = pool._claim(reserved, demand)
            if debug:
                _picked(entry, name, request)
    if entry is None:
        raise NoUsableKeyError(name, pool._disabled())
    lease: Lease | None = Lease(pool, entry)
    try:
        while True:
            assert lease is not None
            tried.add(entry.index)
            try:
                observation = yield entry.key
                assert observation is not None, "the flow's attempts are answered with an Observation"
            except BaseException as exc:
                # Sending or reading raised (connection error, timeout, cancellation): counted, the key is not
                # blamed, and the request is not re-sent here: it may have reached the provider, so only the SDK's
                # own retry loop decides, as it would without byok_client.
                history.append(Attempt(entry.key.label, 0, None))
                pool._record_error(entry)
                lease.release()
                if events is not None:
                    from ..events import AttemptCompleted

                    outcome = "cancelled" if not isinstance(exc, Exception) else "error"
                    events.append(AttemptCompleted(name, entry.key.label, None, None, where, None, 0, outcome))
                    _flush(events, deliver, listeners)
                raise
            status = observation.status
            if status < 400:
                view: Mapping[Any, Any] = observation.limit_view or observation.headers
                try:
                    limits = provider.read_limits(view)
                except Exception:
                    limits = _unreadable_limits(provider)
                if pool._record_success(entry, limits, events, name, where):
                    assert limits is not None  # a reading near the limit: its model and sizes, outside the lock
                    model = request.model if pool._cooldown_scope == "model" else None
                    pool._learn(entry, limits, events, name, where, model, _caps(provider, view))
                if provider.hears_success:
                    provider.on_success(observation.headers, entry.key)
                if events is not None:
                    from ..events import AttemptCompleted

                    events.append(AttemptCompleted(name, entry.key.label, None, None, where, None, status))
                    _flush(events, deliver, listeners)
                done, lease = lease, None
                return done
            verdict = _classify(provider, observation)
            history.append(Attempt(entry.key.label, status, verdict.failure))
            if debug:
                log.debug(
                    "%s %s: key %s got HTTP %d: %s (%s, retry after %s)",
                    name,
                    request.path,
                    entry.key.label,
                    status,
                    verdict.failure,
                    verdict.reason,
                    verdict.retry_after,
                )
            if events is not None:
                from ..events import AttemptCompleted

                events.append(
                    AttemptCompleted(
                        name, entry.key.label, verdict.failure, None, where, None, status, str(verdict.failure)
                    )
                )
            if not verdict.failure.blames_key:
                lease.release()
                _flush(events, deliver, listeners)
                return GiveUp(verdict, {}, history)
            limits = _limits(provider, observation.headers)
            model = request.model if pool._cooldown_scope == "model" else None
            pool._record_failure(entry, verdict, limits, events, name, where, model)
            lease.release()
            lease = None
            nxt = pool._select(tried, events, name, where, request.model if shared.model_cooling else None)
            if debug:
                _picked(nxt, name, request)
            if nxt is None:
                headers = _retry_headers(pool, verdict, history, name, model)
                if events is not None:
                    from ..events import PoolExhausted

                    wait = headers.get("retry-after-ms")
                    events.append(PoolExhausted(name, where, tuple(history), int(wait) / 1000 if wait else None))
                _flush(events, deliver, listeners)
                return GiveUp(verdict, headers, history)
            log.info(
                "%s: key %s failed (%s, HTTP %d); retrying with key %s",
                name,
                entry.key.label,
                verdict.failure,
                status,
                nxt.key.label,
            )
            if events is not None:
                from ..events import FailedOver

                events.append(
                    FailedOver(name, entry.key.label, verdict.failure, None, where, None, nxt.key.label, status)
                )
            _flush(events, deliver, listeners)
            entry = nxt
            lease = Lease(pool, entry)
    finally:
        if lease is not None:
            lease.release()  # any exit the flow did not hand the lease on: an exception, close(), a raising hook


def _flush(events: list[PoolEvent] | None, deliver: Any, listeners: Sequence[EventCallback]) -> None:
    """Hand the events gathered so far to the listeners (nothing when there are none)."""
    if events:
        batch = events[:]
        events.clear()
        deliver(batch, listeners)


def _picked(entry: _Entry | None, name: str, request: RequestFacts) -> None:
    """DEBUG (call it only then): the key an attempt took, logged right after the pick (before any listener
    runs)."""
    if entry is not None:
        log.debug("%s %s: using key %s", name, request.path, entry.key.label)


def _classify(provider: Provider, observation: Observation) -> Verdict:
    """The provider's verdict; a classifier that raises must not fail the request: the SDK gets the response as
    it came (nothing is blamed)."""
    try:
        return provider.classify(observation.status, observation.headers, observation.body)
    except Exception:
        log.exception("%s: classifying an HTTP %d response raised", provider.name, observation.status)
        return Verdict(Failure.CLIENT_ERROR, None, "unreadable error response")


def _limits(provider: Provider, headers: Mapping[Any, Any]) -> Limits | None:
    try:
        return provider.read_limits(headers)
    except Exception:
        return _unreadable_limits(provider)


def _unreadable_limits(provider: Provider) -> Limits | None:
    """Reading rate-limit headers raised (called in the ``except``): logged, and the response has no reading."""
    log.exception("%s: reading rate-limit headers raised", provider.name)
    return None


def _caps(provider: Provider, headers: Mapping[Any, Any]) -> tuple[int | None, int | None] | None:
    try:
        read = getattr(provider, "read_caps", None)
        return read(headers) if read is not None else None
    except Exception:
        log.exception("%s: reading rate-limit sizes raised", provider.name)
        return None


def _retry_headers(
    pool: PoolState, verdict: Verdict, history: list[Attempt], name: str, model: str | None
) -> dict[str, str]:
    """How to steer the SDK's retry loop when every key failed. A wait is handed on only when the provider named
    it: with no usable reset time the SDK's own backoff decides (the pool still cools the keys by its default)."""
    helpful, wait = pool._retry_hint(model)
    labels = ", ".join(f"{a.key_label} ({a.failure})" for a in history)
    if not helpful:
        log.warning("%s: no key can serve this request: %s", name, labels)
        return {"x-should-retry": "false"}
    log.warning("%s: every key failed for this request: %s", name, labels)
    if wait is None:
        return {}
    if wait > 0:
        cap = pool.policy.retry_after_cap
        return {"retry-after-ms": str(max(1, round(min(wait, cap) * 1000))), "x-should-retry": "true"}
    if verdict.failure is Failure.SERVER_ERROR:
        return {}  # the SDK's own backoff for 5xx is right
    return {"x-should-retry": "true"}
