"""Key health shared through Redis or Valkey, so every process and host using the same keys sees one picture.

``RedisState`` implements ``StateBackend`` on redis-py's sync client, driven from one background daemon thread:
``publish`` and ``count`` only append to a bounded in-memory queue, the thread writes batches with pipelines and
listens on pub/sub. Nothing a caller does ever waits on Redis or sees an exception from it.

What is stored (``<p>`` is the prefix, ``<s>`` a hash of the scope; the braces are a Redis Cluster hash tag, so one
scope's keys share one slot). Keys are named by fingerprint, never by value; every entry has a TTL:

- ``<p>:{<s>}:cool:<fp>``   hash model ("" = the whole key) -> {until, failure, reason}; TTL: until + margin
- ``<p>:{<s>}:off:<fp>``    the disabled flag with its reason; TTL ``ttl``, refreshed on each write
- ``<p>:{<s>}:count:<fp>``  hash counter -> int (requests, successes, failure classes); TTL ``ttl``, sliding
- ``<p>:{<s>}:limits:<fp>`` hash model -> latest rate-limit reading; TTL ``ttl``
- ``<p>:{<s>}:keys``        sorted set fingerprint -> when its last entry expires (the scope's index)
- ``<p>:{<s>}:changes``     the pub/sub channel of the scope
- ``<p>:scopes``            sorted set scope -> last write (what ``snapshot`` lists)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._errors import ByokConfigError, ByokError, MissingDependencyError
from ..core.state import StateChange

__all__ = ["RedisState", "StateUnavailableError", "redact_url"]

log = logging.getLogger("byok_client")

_KINDS = frozenset({"cooldown", "disable", "enable", "limits"})
_NUMBERS = ("until", "requests_reset", "tokens_reset")
_INTEGERS = ("remaining_requests", "remaining_tokens")
_TEXTS = ("model", "failure", "reason")
_NOT_FAILURES = frozenset({"requests", "successes"})
_SCHEMES = ("redis", "rediss", "unix")
_PROBE_INTERVAL = 5.0  # seconds between PINGs on an otherwise idle connection

# KEYS[1] the scope's index, KEYS[2] the entry. ARGV: fingerprint, now (ms), expires at (ms), op, channel, message
# ("" for none), op arguments. One script per entry, so the write, its TTL, the index and the message stay
# consistent; TTLs only ever grow (a shorter cooldown written after a longer one must not cut the longer one's entry
# short). PUBLISH is inside the script because Redis Cluster pipelines refuse it (and EVALSHA) as a command.
_WRITE = """
local op = ARGV[4]
if op == 'hset' then
  redis.call('HSET', KEYS[2], ARGV[7], ARGV[8])
elseif op == 'set' then
  redis.call('SET', KEYS[2], ARGV[7])
elseif op == 'del' then
  redis.call('DEL', KEYS[2])
elseif op == 'hincr' then
  for i = 7, #ARGV, 2 do redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1]) end
end
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
if op == 'del' then return 0 end
local ms = tonumber(ARGV[3]) - tonumber(ARGV[2])
if ms < 1 then ms = 1 end
local ttl = redis.call('PTTL', KEYS[2])
if ttl < ms then redis.call('PEXPIRE', KEYS[2], ms) end
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not score) or tonumber(score) < tonumber(ARGV[3]) then redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) end
ttl = redis.call('PTTL', KEYS[1])
if ttl < ms then redis.call('PEXPIRE', KEYS[1], ms) end
return 1
"""


class StateUnavailableError(ByokError):
    """The shared state store could not be read (``RedisState.snapshot``). The message names the store's address
    without its password."""


def redact_url(url: str) -> str:
    """``url`` with any password (in the user part or a ``password=`` query parameter) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if not parts.netloc and "@" in url:
            return "<URL hidden: it looks malformed and may hold a password>"
        netloc = parts.netloc
        if "@" in netloc:
            user, _, host = netloc.rpartition("@")
            name, sep, _password = user.partition(":")
            netloc = f"{name}:***@{host}" if sep else f"{name}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except Exception:
        return "<unparsable URL>"


def _import_redis() -> Any:
    try:
        import redis
    except ImportError as exc:
        raise MissingDependencyError("redis", "redis") from exc
    return redis


def _check_prefix(prefix: object) -> str:
    if not isinstance(prefix, str) or not prefix or any(c in prefix for c in "{} \t\r\n"):
        raise ByokConfigError(f"state prefix must be a non-empty string without braces or spaces, got {prefix!r}")
    return prefix


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ByokConfigError(f"RedisState {name} must be a positive number of seconds, got {value!r}")
    return float(value)


def _split_url(url: str) -> tuple[str, str | None]:
    """(URL for redis-py, ``prefix`` query parameter or None): ``redis://host/0?prefix=fleet`` names the prefix."""
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ByokConfigError(
            f"state URL must start with redis://, rediss:// or unix://, got {redact_url(url)!r}",
        )
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((v for k, v in pairs if k == "prefix"), None)
    if prefix is None:
        return url, None
    # Cut the query by hand: urlunsplit would turn "unix:///path" into "unix:/path".
    rest = urlencode([(k, v) for k, v in pairs if k != "prefix"])
    head = url.split("?", 1)[0]
    return (f"{head}?{rest}" if rest else head), prefix


def _client_from_url(url: str, socket_timeout: float) -> Any:
    redis = _import_redis()
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    try:
        # No client-side retries: the background thread has its own backoff, and a retry loop inside a command
        # would only delay noticing an outage.
        return redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
    except Exception:
        # redis-py's message may quote the URL, password included: say what, not the text.
        raise ByokConfigError(f"invalid Redis URL {redact_url(url)!r}") from None


def _tag(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:16]


class _Keys:
    __slots__ = ("base", "channel", "index")

    def __init__(self, prefix: str, scope: str) -> None:
        self.base = f"{prefix}:{{{_tag(scope)}}}"
        self.index = f"{self.base}:keys"
        self.channel = f"{self.base}:changes"

    def entry(self, kind: str, fingerprint: str) -> str:
        return f"{self.base}:{kind}:{fingerprint}"


@dataclass(eq=False)
class _Subscriber:
    scope: str
    apply: Callable[[StateChange], None]
    active: bool = True
    loaded: bool = False


@dataclass
class _KeyState:
    """What Redis holds for one fingerprint."""

    cool: dict[str, dict[str, Any]] = field(default_factory=dict)
    off: dict[str, Any] | None = None
    limits: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _json(raw: Any) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _change(scope: str, data: dict[str, Any]) -> StateChange | None:
    """A ``StateChange`` from its wire form, or None when it is malformed (never trusted blindly)."""
    kind = data.get("kind")
    fingerprint = data.get("fingerprint")
    if kind not in _KINDS or not isinstance(fingerprint, str):
        return None
    kwargs: dict[str, Any] = {}
    for name in _NUMBERS:
        value = data.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            kwargs[name] = float(value)
    for name in _INTEGERS:
        value = data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            kwargs[name] = value
    for name in _TEXTS:
        value = data.get(name)
        if isinstance(value, str) and value:
            kwargs[name] = value
    origin = data.get("origin")
    return StateChange(
        scope=scope, fingerprint=fingerprint, kind=kind, origin=origin if isinstance(origin, str) else "", **kwargs
    )


class RedisState:
    """Key health shared through Redis (or Valkey): cooldowns, disabled keys, counters and rate-limit readings.

    Give either ``url`` (``redis://``, ``rediss://`` or ``unix://``; the client is built with 0.5 s socket timeouts
    and no client-side retries) or a redis-py ``client`` you configured. ``prefix`` namespaces everything, so
    fleets sharing one Redis stay apart. ``ttl`` bounds how long counters, readings and disabled flags outlive their
    last write; cooldowns live until their end plus ``cooldown_margin``. Cooldowns, disables and enables are sent
    at once; counters (summed) and rate-limit readings (the latest per key and model) every ``flush_interval``
    seconds. At most ``max_queue`` items wait while Redis is unreachable (the oldest counters and readings are
    dropped first). ``close()`` waits at most ``close_timeout`` for the last flush.

    Raises ``ByokConfigError`` for bad arguments and ``MissingDependencyError`` when redis-py is not installed;
    after construction nothing raises: an unreachable Redis logs one WARNING (and one INFO when it is back), key
    health stays local meanwhile and is re-synced on reconnect.
    """

    def __init__(
        self,
        client: Any = None,
        url: str | None = None,
        prefix: str = "byok",
        *,
        ttl: float = 86400.0,
        flush_interval: float = 0.5,
        cooldown_margin: float = 60.0,
        max_queue: int = 10_000,
        socket_timeout: float = 0.5,
        close_timeout: float = 1.0,
    ) -> None:
        if (client is None) == (url is None):
            raise ByokConfigError("RedisState needs exactly one of client= (a redis-py client) or url=")
        self.prefix = _check_prefix(prefix)
        self.ttl = _positive("ttl", ttl)
        self.flush_interval = _positive("flush_interval", flush_interval)
        self.cooldown_margin = _positive("cooldown_margin", cooldown_margin)
        self.close_timeout = _positive("close_timeout", close_timeout)
        _positive("socket_timeout", socket_timeout)
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 1:
            raise ByokConfigError(f"RedisState max_queue must be a positive integer, got {max_queue!r}")
        self.max_queue = max_queue
        if url is not None:
            if not isinstance(url, str):
                raise ByokConfigError(f"RedisState url must be a string, got {type(url).__name__}")
            plain, _ = _split_url(url)
            self._client = _client_from_url(plain, float(socket_timeout))
            self._where = redact_url(plain)
            self._owns_client = True
        else:
            _import_redis()
            self._client = client
            self._where = "the given Redis client"
            self._owns_client = False
        self._directory = f"{self.prefix}:scopes"
        self._keys_cache: dict[str, _Keys] = {}
        self.dropped = 0
        """How many queued items were dropped because the queue was full (Redis unreachable for long)."""
        self._reset_runtime()

    def _reset_runtime(self) -> None:
        """Fresh thread state; also run in a forked child, which must not share the parent's origin or queue."""
        self.origin = secrets.token_hex(8)
        """This instance's id on the wire: changes carrying it are its own echoes and are not delivered back."""
        self._own_origins = {self.origin}
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._changes: deque[StateChange] = deque()
        self._counts: dict[tuple[str, str, str], int] = {}
        # Rate-limit readings come with most responses: only the latest per (scope, key, model) is kept, and sent
        # with the counters, so they do not turn every request into a fleet-wide message.
        self._readings: dict[tuple[str, str, str], StateChange] = {}
        self._subscribers: dict[str, list[_Subscriber]] = {}
        self._subs_changed = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._woken = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._outage = False
        self._apply_failed = False
        # What this instance asserted and still holds (live cooldowns, disabled keys), by what it is about: sent
        # again when Redis comes back without its data (a restart without persistence), so the fleet keeps it.
        self._live: dict[tuple[str, str, str, str], StateChange] = {}
        self._run_id: str | None = None

    @classmethod
    def from_url(cls, url: str, prefix: str = "byok", **options: Any) -> RedisState:
        """A ``RedisState`` on the Redis at ``url``; a ``prefix`` query parameter in the URL wins over ``prefix``."""
        if not isinstance(url, str):
            raise ByokConfigError(f"state URL must be a string, got {type(url).__name__}")
        plain, url_prefix = _split_url(url)
        return cls(url=plain, prefix=url_prefix if url_prefix is not None else prefix, **options)

    def __repr__(self) -> str:
        return f"RedisState({self._where!r}, prefix={self.prefix!r})"

    # ---- the StateBackend interface (called from any thread; returns at once, never raises) ----

    def attach(self, scope: str, apply: Callable[[StateChange], None]) -> Callable[[], None]:
        """Deliver the scope's current state, then each change other processes make in it, to ``apply`` (called
        from this backend's thread). Returns the function that detaches."""
        try:
            self._ensure_thread()
            subscriber = _Subscriber(scope, apply)
            with self._lock:
                self._subscribers.setdefault(scope, []).append(subscriber)
                self._subs_changed = True
            self._wake()
        except Exception:
            return _nothing

        def detach() -> None:
            try:
                subscriber.active = False
                with self._lock:
                    group = self._subscribers.get(scope, [])
                    if subscriber in group:
                        group.remove(subscriber)
                    if not group:
                        self._subscribers.pop(scope, None)
                    self._subs_changed = True
                self._wake()
            except Exception:
                pass

        return detach

    def publish(self, change: StateChange) -> None:
        """Queue ``change``: written to Redis and sent to the other processes by the background thread."""
        try:
            if self._closed:
                return
            self._ensure_thread()
            if change.kind == "limits":
                self._add_reading(change)
                return
            with self._lock:
                if self._queued() >= self.max_queue:
                    self._drop_one()
                self._changes.append(change)
                if change.origin and change.origin not in self._own_origins:
                    self._own_origins.add(change.origin)
            self._wake()
        except Exception:
            pass

    def count(self, scope: str, fingerprint: str, field: str, n: int = 1) -> None:
        """Add ``n`` to a per-key counter; summed here and sent every ``flush_interval``."""
        try:
            if self._closed or not n:
                return
            self._ensure_thread()
            name = (scope, fingerprint, field)
            with self._lock:
                current = self._counts.get(name)
                if current is not None:
                    self._counts[name] = current + n
                    return
                if self._queued() >= self.max_queue:
                    if not self._counts and not self._readings:
                        self.dropped += 1  # a counter never pushes out a change
                        return
                    self._drop_one()
                self._counts[name] = n
        except Exception:
            pass

    def close(self) -> None:
        """Flush what is queued (waiting at most ``close_timeout``) and stop the thread. Never raises."""
        try:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            if thread is not None and self._pid == os.getpid():
                self._stop.set()
                self._wake()
                thread.join(self.close_timeout)
            if self._owns_client and (thread is None or not thread.is_alive()):
                self._client.close()
            if thread is None or not thread.is_alive():
                self._wake_r.close()
                self._wake_w.close()
        except Exception:
            pass

    # ---- reading for ``byok status`` ----

    def snapshot(self, scopes: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The shared state now, one dict per (scope, fingerprint, model): ``scope``, ``fingerprint``, ``model``
        (None for the key as a whole), ``state`` ("ready", "cooling" or "disabled"), ``cooling_for`` (seconds),
        ``reason``, ``requests``, ``successes``, ``failures`` (class -> count; counters are per key, so model rows
        carry 0 and {}), ``remaining_requests`` and ``remaining_tokens`` (latest reading or None).

        ``scopes`` defaults to every scope written under this prefix within ``ttl``. Reads Redis directly (this
        is not for the request path); raises ``StateUnavailableError`` when Redis cannot be reached.
        """
        redis = _import_redis()
        now = time.time()
        try:
            if scopes is None:
                raw = self._client.zrangebyscore(self._directory, int((now - self.ttl) * 1000), "+inf")
                names = sorted({_text(s) for s in raw} | set(self._subscribers))
            else:
                names = sorted(set(scopes))
            rows: list[dict[str, Any]] = []
            for scope in names:
                for fingerprint, entry in sorted(self._read_scope(scope, now, counts=True).items()):
                    rows.extend(_rows(scope, fingerprint, entry, now))
            return rows
        except redis.RedisError as exc:
            raise StateUnavailableError(
                f"shared key state at {self._where} is unreachable ({type(exc).__name__})"
            ) from None

    # ---- the background thread ----

    def _ensure_thread(self) -> None:
        if self._pid != os.getpid():
            self._reset_runtime()  # a forked child: its own thread, origin and queue
        if self._thread is None and not self._closed:
            with self._lock:
                if self._thread is None:
                    thread = threading.Thread(target=self._run, name="byok-state-redis", daemon=True)
                    self._thread = thread
                    thread.start()

    def _wake(self) -> None:
        if not self._woken:
            self._woken = True
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")

    def _add_reading(self, change: StateChange) -> None:
        name = (change.scope, change.fingerprint, change.model or "")
        with self._lock:
            if self._readings.pop(name, None) is None and self._queued() >= self.max_queue:
                if not self._counts and not self._readings:
                    self.dropped += 1  # a reading never pushes out a change
                    return
                self._drop_one()
            self._readings[name] = change  # the latest wins, and moves to the end (the newest)

    def _queued(self) -> int:
        return len(self._changes) + len(self._counts) + len(self._readings)

    def _drop_one(self) -> None:
        """Make room (lock held): the oldest counter goes first, then the oldest reading, then the oldest change."""
        self.dropped += 1
        if self._counts:
            del self._counts[next(iter(self._counts))]
        elif self._readings:
            del self._readings[next(iter(self._readings))]
        elif self._changes:
            self._changes.popleft()

    def _keys(self, scope: str) -> _Keys:
        keys = self._keys_cache.get(scope)
        if keys is None:
            keys = self._keys_cache[scope] = _Keys(self.prefix, scope)
        return keys

    def _run(self) -> None:
        redis = _import_redis()
        backoff = 0.05
        pubsub: Any = None
        channels: dict[str, str] = {}  # channel -> scope, as subscribed on the current connection
        confirmed: set[str] = set()  # channels whose subscription Redis has confirmed
        next_counts = time.monotonic() + self.flush_interval
        next_probe = time.monotonic() + _PROBE_INTERVAL
        while True:
            stopping = self._stop.is_set()
            try:
                if pubsub is None:
                    self._client.ping()
                    self._check_restart()
                    pubsub = self._client.pubsub()
                    channels = {}
                    confirmed = set()
                    with self._lock:
                        for group in self._subscribers.values():
                            for subscriber in group:
                                subscriber.loaded = False  # re-sync every scope on (re)connect
                        self._subs_changed = True
                    if self._outage:
                        self._outage = False
                        log.info("shared key state at %s is reachable again; re-syncing", self._where)
                if not stopping and self._subs_changed:
                    self._sync_subscriptions(pubsub, channels, confirmed)
                counts_due = stopping or time.monotonic() >= next_counts
                self._flush(counts_due)
                if counts_due:
                    next_counts = time.monotonic() + self.flush_interval
                if stopping:
                    break
                self._drain(pubsub, channels, confirmed)
                now = time.monotonic()
                if now >= next_probe:
                    # An idle connection can die quietly (a partition sends no reset): ask, so an outage is seen.
                    self._client.ping()
                    if pubsub.subscribed:
                        pubsub.ping()
                    next_probe = now + _PROBE_INTERVAL
                idle = 1.0 if not (self._counts or self._readings) else next_counts - now
                self._wait(pubsub, max(0.0, min(idle, next_probe - now)))
                backoff = 0.05
            except Exception as exc:
                if not self._outage:
                    self._outage = True
                    log.warning(
                        "shared key state at %s is unreachable (%s); key health stays local to this "
                        "process until it is back",
                        self._where,
                        type(exc).__name__ if isinstance(exc, redis.RedisError | OSError) else repr(exc),
                    )
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        pubsub.close()
                    pubsub = None
                if stopping or self._stop.wait(backoff):
                    break
                backoff = min(backoff * 2, 1.0)
        if pubsub is not None:
            with contextlib.suppress(Exception):
                pubsub.close()
        if self._closed:
            with contextlib.suppress(Exception):
                if self._owns_client:
                    self._client.close()
                self._wake_r.close()
                self._wake_w.close()

    def _sync_subscriptions(self, pubsub: Any, channels: dict[str, str], confirmed: set[str]) -> None:
        """Subscribe to the channels of attached scopes, unsubscribe from the others; a scope's state is loaded
        once its subscription is confirmed, so no change falls between the load and the first message."""
        with self._lock:
            self._subs_changed = False
            wanted = {self._keys(scope).channel: scope for scope in self._subscribers}
        new = [c for c in wanted if c not in channels]
        old = [c for c in channels if c not in wanted]
        if new:
            pubsub.subscribe(*new)
            channels.update((c, wanted[c]) for c in new)
        if old:
            pubsub.unsubscribe(*old)
            for c in old:
                del channels[c]
                confirmed.discard(c)
        # New subscribers of scopes already confirmed get their load now; the others on confirmation.
        for channel in confirmed:
            self._load(channels[channel])

    def _drain(self, pubsub: Any, channels: dict[str, str], confirmed: set[str]) -> None:
        if not pubsub.subscribed:
            return
        for _ in range(1000):  # bounded, so a flood of messages does not starve the flush
            message = pubsub.get_message(timeout=0.0)
            if message is None:
                return
            kind = message.get("type")
            channel = _text(message.get("channel", b""))
            scope = channels.get(channel)
            if scope is None:
                continue
            if kind == "subscribe":
                confirmed.add(channel)
                self._load(scope)
            elif kind == "message":
                data = _json(message.get("data"))
                change = _change(scope, data)
                if change is not None and change.kind == "enable":
                    self._live.pop((scope, change.fingerprint, "", "off"), None)  # theirs wins over ours
                if change is not None and change.origin not in self._own_origins:
                    self._deliver(scope, change, loaded_only=True)

    def _wait(self, pubsub: Any, timeout: float) -> None:
        connection = getattr(pubsub, "connection", None)
        sock = getattr(connection, "_sock", None) if connection is not None else None
        readers: list[Any] = [self._wake_r]
        if connection is None or not pubsub.subscribed:
            pass
        elif isinstance(sock, socket.socket):
            readers.append(sock)
        else:
            timeout = min(timeout, 0.01)  # no socket to wait on (another client type): poll briefly
        if timeout > 0:
            select.select(readers, [], [], timeout)
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        # Only now: reset before the drain and a wake landing in between would be eaten with the flag left set,
        # silencing every later wake. A wake seeing the flag still set is safe: the flush comes after this.
        self._woken = False

    def _deliver(self, scope: str, change: StateChange, loaded_only: bool) -> None:
        with self._lock:
            group = list(self._subscribers.get(scope, ()))
        for subscriber in group:
            if subscriber.active and (subscriber.loaded or not loaded_only):
                self._call(subscriber, change)

    def _call(self, subscriber: _Subscriber, change: StateChange) -> None:
        try:
            subscriber.apply(change)
        except Exception:
            if not self._apply_failed:  # once: a broken callback must not flood the log
                self._apply_failed = True
                log.warning("applying a shared key-state change failed", exc_info=True)

    def _load(self, scope: str) -> None:
        """Deliver the scope's stored state to its subscribers that have not had it yet."""
        with self._lock:
            waiting = [s for s in self._subscribers.get(scope, ()) if s.active and not s.loaded]
        if not waiting:
            return
        changes = _state_changes(scope, self._read_scope(scope, time.time(), counts=False), time.time())
        for subscriber in waiting:
            for change in changes:
                if subscriber.active:
                    self._call(subscriber, change)
            subscriber.loaded = True

    def _read_scope(self, scope: str, now: float, counts: bool) -> dict[str, _KeyState]:
        keys = self._keys(scope)
        now_ms = int(now * 1000)
        pipe = self._client.pipeline(transaction=False)
        pipe.zremrangebyscore(keys.index, "-inf", f"({now_ms}")
        pipe.zrange(keys.index, 0, -1)
        fingerprints = [_text(f) for f in pipe.execute()[1]]
        if not fingerprints:
            return {}
        pipe = self._client.pipeline(transaction=False)
        for fingerprint in fingerprints:
            pipe.hgetall(keys.entry("cool", fingerprint))
            pipe.get(keys.entry("off", fingerprint))
            pipe.hgetall(keys.entry("limits", fingerprint))
            if counts:
                pipe.hgetall(keys.entry("count", fingerprint))
        replies = iter(pipe.execute())
        result: dict[str, _KeyState] = {}
        for fingerprint in fingerprints:
            entry = _KeyState()
            entry.cool = {_text(k): _json(v) for k, v in next(replies).items()}
            off = next(replies)
            entry.off = _json(off) if off is not None else None
            entry.limits = {_text(k): _json(v) for k, v in next(replies).items()}
            if counts:
                for k, v in next(replies).items():
                    with contextlib.suppress(ValueError):
                        entry.counts[_text(k)] = int(v)
            result[fingerprint] = entry
        return result

    def _flush(self, counts_due: bool) -> None:
        redis = _import_redis()
        with self._lock:
            changes = list(self._changes)
            self._changes.clear()
            counts: dict[tuple[str, str, str], int] = {}
            readings: dict[tuple[str, str, str], StateChange] = {}
            if counts_due:
                counts, self._counts = self._counts, {}
                readings, self._readings = self._readings, {}
        if not changes and not counts and not readings:
            return
        try:
            self._write([*changes, *readings.values()], counts)
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            # Not sent (or not known to be): queue it again, in order, ahead of anything newer.
            with self._lock:
                self._changes.extendleft(reversed(changes))
                for name, n in counts.items():
                    self._counts[name] = self._counts.get(name, 0) + n
                for name, reading in readings.items():
                    self._readings.setdefault(name, reading)  # unless a newer one came meanwhile
                while self._queued() > self.max_queue:
                    self._drop_one()
            raise

    def _write(self, changes: list[StateChange], counts: dict[tuple[str, str, str], int]) -> None:
        now = time.time()
        now_ms = int(now * 1000)
        ttl_ms = now_ms + int(self.ttl * 1000)
        pipe = self._client.pipeline(transaction=False)
        scopes: set[str] = set()

        def write(scope: str, fp: str, kind: str, expires: int, op: str, message: str, *args: str | int) -> None:
            keys = self._keys(scope)
            scopes.add(scope)
            # execute_command, not pipe.eval: Redis Cluster pipelines refuse the latter.
            pipe.execute_command(
                "EVAL", _WRITE, 2, keys.index, keys.entry(kind, fp), fp, now_ms, expires, op, keys.channel, message,
                *args,
            )  # fmt: skip

        for change in changes:
            fp = change.fingerprint
            model = change.model or ""
            wire = {
                name: value
                for name in ("kind", "fingerprint", *_TEXTS, *_NUMBERS, *_INTEGERS)
                if (value := getattr(change, name)) is not None
            }
            wire["origin"] = change.origin or self.origin
            message = json.dumps(wire, separators=(",", ":"))
            if change.kind == "cooldown":
                until = change.until if change.until is not None else now
                value = {"until": until, "failure": change.failure, "reason": change.reason}
                expires = int((until + self.cooldown_margin) * 1000)
                write(change.scope, fp, "cool", expires, "hset", message, model, json.dumps(value))
            elif change.kind == "disable":
                value = {"reason": change.reason, "failure": change.failure}
                write(change.scope, fp, "off", ttl_ms, "set", message, json.dumps(value))
            elif change.kind == "enable":
                write(change.scope, fp, "off", now_ms, "del", message)
            elif change.kind == "limits":
                value = {name: getattr(change, name) for name in (*_INTEGERS, "requests_reset", "tokens_reset")}
                write(change.scope, fp, "limits", ttl_ms, "hset", message, model, json.dumps(value))
        grouped: dict[tuple[str, str], list[str | int]] = {}
        for (scope, fp, name), n in counts.items():
            grouped.setdefault((scope, fp), []).extend((name, n))
        for (scope, fp), pairs in grouped.items():
            write(scope, fp, "count", ttl_ms, "hincr", "", *pairs)
        for scope in scopes:
            pipe.zadd(self._directory, {scope: now_ms})
        pipe.pexpire(self._directory, int(self.ttl * 1000))
        pipe.execute()
        self._remember(changes, now)

    def _remember(self, changes: list[StateChange], now: float) -> None:
        """Keep what this instance asserted and is still true (thread only)."""
        live = self._live
        for change in changes:
            about = (change.scope, change.fingerprint, change.model or "")
            if change.kind == "cooldown" and change.until is not None and change.until > now:
                live[(*about, "cool")] = change
            elif change.kind == "disable":
                live[(*about, "off")] = change
            elif change.kind == "enable":
                live.pop((*about, "off"), None)
        if len(live) > self.max_queue:  # bounded: the oldest assertions go first
            for name in list(live)[: len(live) - self.max_queue]:
                del live[name]

    def _check_restart(self) -> None:
        """On (re)connect: when Redis is a new run (it restarted and may have lost its data), queue again what
        this instance still asserts, ahead of anything newer."""
        try:
            info = self._client.info("server")
        except Exception:
            return  # INFO may be refused (ACLs, managed services): re-sending is only a nicety
        run_id = info.get("run_id") if isinstance(info, dict) else None
        if not isinstance(run_id, str):
            return
        previous, self._run_id = self._run_id, run_id
        if previous is None or previous == run_id:
            return
        now = time.time()
        again = [c for c in self._live.values() if c.kind == "disable" or (c.until is not None and c.until > now)]
        with self._lock:
            self._changes.extendleft(reversed(again))
            while self._queued() > self.max_queue:
                self._drop_one()


def _state_changes(scope: str, state: dict[str, _KeyState], now: float) -> list[StateChange]:
    """The stored state of a scope as the changes that recreate it: readings, live cooldowns, disabled flags."""
    out: list[StateChange] = []
    for fp, entry in state.items():
        for model, reading in entry.limits.items():
            change = _change(scope, {**reading, "kind": "limits", "fingerprint": fp, "model": model})
            if change is not None:
                out.append(change)
        for model, cool in entry.cool.items():
            until = cool.get("until")
            if isinstance(until, int | float) and until > now:
                change = _change(scope, {**cool, "kind": "cooldown", "fingerprint": fp, "model": model})
                if change is not None:
                    out.append(change)
        if entry.off is not None:
            change = _change(scope, {**entry.off, "kind": "disable", "fingerprint": fp})
            if change is not None:
                out.append(change)
    return out


def _rows(scope: str, fingerprint: str, entry: _KeyState, now: float) -> list[dict[str, Any]]:
    def row(model: str | None) -> dict[str, Any]:
        cool = entry.cool.get(model or "", {})
        until = cool.get("until")
        cooling_for = max(0.0, float(until) - now) if isinstance(until, int | float) else 0.0
        reading = entry.limits.get(model or "", {})
        if entry.off is not None:
            state, reason = "disabled", entry.off.get("reason") or entry.off.get("failure")
        elif cooling_for > 0:
            state, reason = "cooling", cool.get("reason") or cool.get("failure")
        else:
            state, reason = "ready", None
        counts = entry.counts if model is None else {}
        return {
            "scope": scope,
            "fingerprint": fingerprint,
            "model": model,
            "state": state,
            "cooling_for": cooling_for,
            "reason": reason,
            "requests": counts.get("requests", 0),
            "successes": counts.get("successes", 0),
            "failures": {k: v for k, v in sorted(counts.items()) if k not in _NOT_FAILURES},
            "remaining_requests": reading.get("remaining_requests"),
            "remaining_tokens": reading.get("remaining_tokens"),
        }

    models = sorted({m for m in entry.cool if m} | {m for m in entry.limits if m})
    return [row(None), *(row(m) for m in models)]


def _nothing() -> None:
    pass
