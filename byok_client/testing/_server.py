"""MockProvider: a local server that answers like the OpenAI, Anthropic and Gemini APIs, with a script per key.

Pure standard library: one asyncio event loop in one daemon thread; HTTP/1.1 lives in :mod:`._http`, each
provider's routes and payloads in :mod:`.openai`, :mod:`.anthropic` and :mod:`.gemini`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import parse_qs, unquote

from . import anthropic, gemini, openai
from ._behaviours import (
    ANTHROPIC,
    GEMINI,
    OPENAI,
    Behaviour,
    ConnectionReset,
    Delay,
    ErrorResponse,
    Ok,
    ResetMidBody,
    Stall,
    TruncatedStream,
    behaviour_error,
    fault_name,
    invalid_key,
    invalid_key_error,
    missing_key_error,
    multiple_credentials_error,
    not_found_error,
    ok,
    rate_limited,
    server_error,
)
from ._common import GOOGLE_JSON_HEADER, Answer, dumps, load
from ._faults import FAULT_KINDS, FaultInjector
from ._http import CREDENTIAL_HEADERS, Connection
from ._ratelimit import BucketLimited, Limits, RateLimitRule, Snapshot, limited_error, request_cost, snapshot_headers
from ._replies import Reply

__all__ = ["MockProvider", "RecordedRequest"]

NO_KEY_LABEL: Final = "<none>"
UNKNOWN_KEY_LABEL: Final = "<unknown>"
MULTIPLE_KEYS_LABEL: Final = "<multiple>"
_DEFAULT_REPLY: Final = Reply()
_RESET_GRACE: Final = 0.05
"""Seconds between a cut body and the reset, so the client has read the head (a reset discards unread data)."""


def _status_behaviour(status: int) -> Behaviour:
    if status == 429:
        return rate_limited(retry_after=1)
    if status == 401:
        return invalid_key()
    return server_error(status)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the mock received it (in arrival order, recorded before any scripted delay)."""

    label: str
    """Label of the key that was used; ``"<none>"`` without a credential, ``"<unknown>"`` for an unregistered key,
    ``"<multiple>"`` when the request carried more than one credential header."""
    method: str
    path: str
    """The path, without the query string."""
    query: str
    """The raw query string (no leading ``?``)."""
    headers: dict[str, str]
    """Request headers, names lower-cased (repeated headers joined with ``", "``)."""
    body: bytes
    """The request body exactly as received (de-chunked)."""
    provider: str
    """``"openai"``, ``"anthropic"`` or ``"gemini"``: which API the mock decided the request was for."""
    model: str | None = None
    """The model asked for (the body's ``model``, the Gemini path's or the Azure deployment), if any."""
    stream: bool = False
    """Whether a streamed answer was asked for."""
    timestamp: float = 0.0
    """``time.monotonic()`` when the request was fully received."""
    fault: str | None = None
    """The fault applied to it (``"429"``, ``"500"``, ``"401"``, ``"reset"``, ``"stall"``, ... see
    :data:`~byok_client.testing.FAULT_KINDS`; also ``"quota"`` and ``"400"``), scripted or injected; ``None`` when
    it was answered normally (or the key was missing or unknown)."""

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def __repr__(self) -> str:
        redacted = f"<{self.label}>"
        headers = {k: (redacted if k in CREDENTIAL_HEADERS else v) for k, v in self.headers.items()}
        query = self.query
        if "key=" in query:
            query = "&".join(f"key={redacted}" if part.startswith("key=") else part for part in query.split("&"))
        body = self.body if len(self.body) <= 200 else self.body[:200] + b"..."
        return (
            f"RecordedRequest(label={self.label!r}, provider={self.provider!r}, method={self.method!r}, "
            f"path={self.path!r}, query={query!r}, headers={headers!r}, body={body!r}, model={self.model!r}, "
            f"stream={self.stream!r}, timestamp={self.timestamp!r}, fault={self.fault!r})"
        )


class _Script:
    """A sequence of behaviours: each request consumes the next one and the last repeats forever."""

    __slots__ = ("behaviours", "index")

    def __init__(self, behaviours: tuple[Behaviour, ...]) -> None:
        self.behaviours = behaviours
        self.index = 0

    def next(self) -> Behaviour:
        index = self.index
        if index + 1 < len(self.behaviours):
            self.index = index + 1
        return self.behaviours[index]


class _Key:
    __slots__ = ("label", "models", "script")

    def __init__(self, label: str, script: tuple[Behaviour, ...]) -> None:
        self.label = label
        self.script = _Script(script)
        self.models: dict[str, _Script] = {}  # scripts scoped to one model win over the key's own


_Queued = tuple[str | None, str | None, Behaviour]
"""A queued behaviour: (key or None, model or None, behaviour)."""


@dataclass(slots=True)
class _Request:
    """A request being answered (event-loop thread)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    provider: str
    model: str | None
    stream: bool
    credential: str
    label: str
    close: bool
    ratelimit: Snapshot | None = None
    content: Reply | None = None
    """The scripted reply (also what a fault's partial body is cut from)."""


# --------------------------------------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------------------------------------


def _provider_of(path: str, headers: dict[str, str], query: str) -> str:
    if path.startswith("/v1/messages") or "anthropic-version" in headers:
        return ANTHROPIC
    if "x-goog-api-key" in headers or "x-goog-api-client" in headers or ":" in path or path.startswith("/v1beta"):
        return GEMINI
    if "x-api-key" in headers:
        return ANTHROPIC
    if query and "key=" in query and "key" in parse_qs(query):
        return GEMINI
    return OPENAI


def _model_and_stream(provider: str, path: str, body: bytes) -> tuple[str | None, bool]:
    """The model a request asks for and whether it wants a stream (cheap: only JSON bodies are looked at)."""
    if provider == GEMINI:
        _, found, rest = path.partition("/models/")
        name, _, action = rest.partition(":")
        return (unquote(name) if found and name else None), action == "streamGenerateContent"
    req = load(body) if body[:1] == b"{" else None
    model: Any = None
    if path.startswith("/openai/deployments/"):
        model = path[len("/openai/deployments/") :].partition("/")[0]
    elif req is not None:
        model = req.get("model")
    stream = bool(req.get("stream")) if req is not None else False
    return (model if isinstance(model, str) else None), stream


def _credential(headers: dict[str, str], query: str) -> str | None:
    auth = headers.get("authorization")
    if auth is not None:
        return auth[7:].strip() if auth[:7].lower() == "bearer " else auth.strip()
    for name in ("x-api-key", "x-goog-api-key", "api-key"):
        value = headers.get(name)
        if value is not None:
            return value.strip()
    if query and "key=" in query:
        keys = parse_qs(query).get("key")
        if keys:
            return keys[0]
    return None


# --------------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------------


class MockProvider:
    """A local HTTP server that answers like the OpenAI, Anthropic and Gemini APIs, with a script per API key.

    Use as a context manager (``with MockProvider() as mock:``) or call :meth:`start` and :meth:`stop`.
    The server runs its own event loop in a daemon thread, so it works the same from sync and async tests.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        """``clock`` (monotonic seconds) drives the rate-limit buckets and the records' timestamps; tests may pass
        a hand-moved one."""
        self._clock = clock
        self._limits = Limits(clock)
        self._lock = threading.RLock()  # re-entrant: a when() predicate may read the mock
        self._keys: dict[str, _Key] = {}
        # resumable uploads (Gemini): upload_id -> [label of the key that started it, bytes received]
        self._uploads: dict[str, list[Any]] = {}
        self._records: list[RecordedRequest] = []
        self._rules: list[tuple[Callable[[RecordedRequest], bool], _Script]] = []
        self._queue: list[_Queued] = []
        self._faults: FaultInjector | None = None
        self._revoked: set[str] = set()
        self._fault_counts: Counter[str] = Counter()
        self._connections = 0
        self._open: set[Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start serving on ``127.0.0.1`` on a free port; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("MockProvider is already started")
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    loop.create_server(lambda: Connection(self), "127.0.0.1", 0, backlog=1024)
                )
                self._port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="byok-mock-provider", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = self._loop = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for conn in list(self._open):
                conn.close()
            for _ in range(3):  # let connection_lost callbacks close the sockets
                await asyncio.sleep(0)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = self._thread = self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        if not self._port:
            raise RuntimeError("MockProvider is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def openai_base_url(self) -> str:
        """Base URL for ``openai.OpenAI(base_url=...)``: :attr:`url` + ``/v1``."""
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL for ``anthropic.Anthropic(base_url=...)``."""
        return self.url

    @property
    def gemini_base_url(self) -> str:
        """Base URL for ``google.genai.types.HttpOptions(base_url=...)``."""
        return self.url

    # -- keys and scripts ------------------------------------------------------------------------------------------

    def add_key(self, key: str, behaviour: Behaviour | None = None, *, label: str | None = None) -> None:
        """Register ``key`` (replacing any previous registration) with a single repeating behaviour (default
        :func:`ok`). ``label`` names the key in records and answers; it defaults to ``"key<N>"``."""
        with self._lock:
            if label is None:
                label = f"key{len(self._keys) + 1}"
            self._keys[key] = _Key(label, (ok() if behaviour is None else behaviour,))

    def remove_key(self, key: str) -> None:
        """Forget ``key``: later requests with it are answered as an unknown key."""
        with self._lock:
            del self._keys[key]

    def script(self, key: str, *behaviours: Behaviour, model: str | None = None) -> None:
        """Give ``key`` a sequence: each request consumes the next behaviour and the last repeats forever.

        With ``model``, the sequence applies only to requests for that model (others keep the key's own script):
        e.g. ``mock.script("sk-1", rate_limited(retry_after=5), model="gpt-a")``.
        """
        self._check(behaviours, "script")
        with self._lock:
            state = self._keys.get(key)
            if state is None:
                raise KeyError("key is not registered; call add_key() first")
            if model is None:
                state.script = _Script(behaviours)
            else:
                state.models[model] = _Script(behaviours)

    def set(self, key: str, behaviour: Behaviour, *, model: str | None = None) -> None:
        """Replace ``key``'s script (or its script for ``model``) with a single repeating behaviour."""
        self.script(key, behaviour, model=model)

    def when(self, predicate: Callable[[RecordedRequest], bool], *behaviours: Behaviour) -> None:
        """Answer the requests for which ``predicate(request)`` is true with ``behaviours`` (a script: each
        matching request consumes the next, the last repeats), whatever their key; rules are tried in the order
        added, after :meth:`queue` and before the keys' scripts. The predicate sees the request as it will be
        recorded (``label``, ``model``, ``stream``, ``path``, ``json()``...) and runs on the server's thread."""
        if not callable(predicate):
            raise TypeError("when() needs a callable predicate first")
        self._check(behaviours, "when")
        with self._lock:
            self._rules.append((predicate, _Script(behaviours)))

    def queue(self, *behaviours: Behaviour, key: str | None = None, model: str | None = None) -> None:
        """Answer the next matching requests with ``behaviours``, one each, in order, then fall back to the
        scripts. ``key`` / ``model`` restrict which requests take them (default: any registered key, any model).
        A queued reply that meets an injected fault stays queued for the next attempt."""
        self._check(behaviours, "queue")
        with self._lock:
            if key is not None and key not in self._keys:
                raise KeyError("key is not registered; call add_key() first")
            self._queue += [(key, model, b) for b in behaviours]

    def clear_scripts(self) -> None:
        """Drop every :meth:`when` rule, every queued behaviour and every model-scoped script."""
        with self._lock:
            self._rules.clear()
            self._queue.clear()
            for state in self._keys.values():
                state.models.clear()

    @staticmethod
    def _check(behaviours: tuple[Behaviour, ...], name: str) -> None:
        if not behaviours:
            raise ValueError(f"{name}() needs at least one behaviour")
        for behaviour in behaviours:
            if not isinstance(behaviour, Behaviour):
                raise TypeError(f"{name}() takes behaviours (ok(), reply(...), ...), got {type(behaviour).__name__}")

    # -- rate limits -----------------------------------------------------------------------------------------------

    def rate_limit(
        self,
        key: str | None = None,
        model: str | None = None,
        *,
        requests: int | None = None,
        per: float = 60.0,
        tokens: int | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
    ) -> None:
        """Limit ``key`` (default: each key, with its own buckets) for ``model`` (default: all models together) to
        ``requests`` / ``tokens`` / ``input_tokens`` / ``output_tokens`` per ``per`` seconds.

        Each limit is a token bucket that starts full and refills continuously at ``limit / per`` units a second.
        A request costs 1 request, an input estimate of (body bytes / 4) tokens and its ``max_tokens`` /
        ``max_completion_tokens`` / ``max_output_tokens`` / ``generationConfig.maxOutputTokens`` (default
        :data:`DEFAULT_OUTPUT_TOKENS`) output tokens; ``tokens`` counts input + output. A request over any bucket
        takes nothing and gets the provider's real 429 with the exact wait until it would be admitted (recorded
        with fault ``"rate_limit"``). Every answer carries the provider's rate-limit headers computed from the
        buckets (OpenAI ``x-ratelimit-*``, Anthropic ``anthropic-ratelimit-*``; Gemini sends none). Rules add up:
        call once per scope.
        """
        if key is not None and not isinstance(key, str):
            raise TypeError("rate_limit key must be a key string or None")
        limits = {
            name: value
            for name, value in (
                ("requests", requests),
                ("tokens", tokens),
                ("input_tokens", input_tokens),
                ("output_tokens", output_tokens),
            )
            if value is not None
        }
        if not limits:
            raise ValueError("rate_limit needs at least one of requests, tokens, input_tokens, output_tokens")
        for name, value in limits.items():
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"rate_limit {name} must be a positive int, got {value!r}")
        if not per > 0:
            raise ValueError(f"rate_limit per must be > 0 seconds, got {per!r}")
        with self._lock:
            if key is not None and key not in self._keys:
                raise KeyError("key is not registered; call add_key() first")
            self._limits.add(RateLimitRule(key, model, float(per), limits))

    def clear_rate_limits(self) -> None:
        """Remove every rate limit (and its buckets)."""
        with self._lock:
            self._limits.clear()

    # -- faults ----------------------------------------------------------------------------------------------------

    def inject_faults(
        self,
        *,
        seed: int | None = 0,
        rate: float = 0.3,
        kinds: Collection[str] = FAULT_KINDS,
        keys: Collection[str] | None = None,
        retry_after: float = 1.0,
        stall_seconds: float = 5.0,
        body_statuses: Collection[int] = (200, 429, 500),
        revocable: Collection[str] | None = None,
        max_revoked: int = 1,
    ) -> None:
        """Fault a random ``rate`` of the requests that would be answered normally, drawn from ``seed``.

        Each faulted request gets one of ``kinds`` (see :data:`FAULT_KINDS`), drawn uniformly. ``keys`` limits the
        faults to those keys (default: every registered key). ``retry_after`` is the 429's hint; ``stall_seconds``
        how long a stall stays silent; ``body_statuses`` the answers (200, 401, 429 or 5xx) whose head precedes a
        mid-body reset or a stall. A ``"401"`` revokes the key for good; at most ``max_revoked`` keys are revoked,
        and only keys in ``revocable`` (default: any). Draws happen in arrival order, so one seed gives one sequence
        of faults. Calling again replaces the configuration (revoked keys stay revoked); :meth:`stop_faults` ends it.
        """
        injector = FaultInjector(
            seed=seed,
            rate=rate,
            kinds=kinds,
            keys=keys,
            retry_after=retry_after,
            stall_seconds=stall_seconds,
            body_statuses=body_statuses,
            revocable=revocable,
            max_revoked=max_revoked,
        )
        with self._lock:
            self._faults = injector

    def stop_faults(self) -> None:
        """Stop injecting random faults (revoked keys stay revoked; see :meth:`unrevoke`)."""
        with self._lock:
            self._faults = None

    def revoke(self, key: str) -> None:
        """Revoke ``key``: every later request with it gets the provider's invalid-key answer (recorded as 401)."""
        with self._lock:
            if key not in self._keys:
                raise KeyError("key is not registered; call add_key() first")
            self._revoked.add(key)

    def unrevoke(self, key: str | None = None) -> None:
        """Accept ``key`` again (default: every revoked key)."""
        with self._lock:
            if key is None:
                self._revoked.clear()
            else:
                self._revoked.discard(key)

    def revoked(self) -> list[str]:
        """Labels of the revoked keys (never the keys themselves), sorted."""
        with self._lock:
            return sorted(self._keys[k].label for k in self._revoked if k in self._keys)

    def fault_counts(self) -> dict[str, int]:
        """How many requests got each fault (scripted or injected) since start, :meth:`clear` or :meth:`reset`."""
        with self._lock:
            return dict(self._fault_counts)

    # -- records ---------------------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since start (or :meth:`clear`), in arrival order; a snapshot copy."""
        with self._lock:
            return list(self._records)

    def labels(self) -> list[str]:
        """The label of each recorded request, in order."""
        with self._lock:
            return [r.label for r in self._records]

    def clear(self) -> None:
        """Forget the recorded requests and restart :attr:`connections` from 0 (keys and scripts stay)."""
        with self._lock:
            self._records.clear()
            self._fault_counts.clear()
            self._connections = 0

    def reset(self) -> None:
        """Back to a fresh server: no keys, no records, no faults, :attr:`connections` from 0 (open connections stay
        open)."""
        with self._lock:
            self._keys.clear()
            self._faults = None
            self._revoked.clear()
            self._fault_counts.clear()
            self._limits.clear()
            self._rules.clear()
            self._queue.clear()
            self._records.clear()
            self._uploads.clear()
            self._connections = 0

    @property
    def connections(self) -> int:
        """Number of TCP connections accepted since start (or :meth:`clear` / :meth:`reset`)."""
        return self._connections

    @property
    def open_connections(self) -> int:
        """Number of TCP connections open right now (for "back to baseline" checks)."""
        return len(self._open)

    # -- serving (event-loop thread) -------------------------------------------------------------------------------

    def _connection_made(self, conn: Connection) -> None:
        with self._lock:
            self._connections += 1
        self._open.add(conn)

    def _connection_lost(self, conn: Connection) -> None:
        self._open.discard(conn)

    def _handle(
        self,
        conn: Connection,
        method: str,
        target: str,
        headers: dict[str, str],
        ncred: int,
        body: bytes,
        keep_alive: bool,
    ) -> None:
        if target.startswith(("http://", "https://")):  # absolute-form
            target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
        path, _, query = target.partition("?")
        provider = _provider_of(path, headers, query)
        credential = _credential(headers, query)
        if path.startswith("/upload/") and "upload_id=" in query:
            self._upload_chunk(conn, path, query, headers, credential, body, not keep_alive)
            return
        model, stream = _model_and_stream(provider, path, body)
        behaviour: Behaviour | None = None
        snapshot: Snapshot | None = None
        content: Reply | None = None
        fault: str | None = None
        with self._lock:
            state = None
            if ncred > 1:
                label = MULTIPLE_KEYS_LABEL
            elif credential is None:
                label = NO_KEY_LABEL
            else:
                state = self._keys.get(credential)
                label = UNKNOWN_KEY_LABEL if state is None else state.label
            record = RecordedRequest(label, method, path, query, headers, body, provider, model, stream, self._clock())
            if state is not None and credential is not None:
                behaviour, snapshot, content = self._choose(credential, state, record)
                fault = "rate_limit" if isinstance(behaviour, BucketLimited) else fault_name(behaviour)
                if fault is not None:
                    self._fault_counts[fault] += 1
                    record = dataclasses.replace(record, fault=fault)
            self._records.append(record)

        close = not keep_alive
        error: ErrorResponse | None
        if ncred > 1:
            error = multiple_credentials_error(provider)
        elif credential is None:
            error = missing_key_error(provider)
        elif behaviour is None:
            error = invalid_key_error(provider, credential)
        else:
            request = _Request(
                method, path, query, headers, body, provider, model, stream, credential, label, close, snapshot, content
            )
            self._answer(conn, request, behaviour)
            return
        conn._send(*error, close=close)

    def _scripted(
        self, credential: str, state: _Key, record: RecordedRequest
    ) -> tuple[Behaviour, tuple[int, _Queued] | None]:
        """Queue, then when() rules, then the key's script for the model, then the key's own script; with the
        queue position the behaviour was taken from."""
        for i, entry in enumerate(self._queue):
            key, model, behaviour = entry
            if (key is None or key == credential) and (model is None or model == record.model):
                del self._queue[i]
                return behaviour, (i, entry)
        for predicate, rule_script in self._rules:
            if predicate(record):
                return rule_script.next(), None
        script = state.models.get(record.model) if record.model is not None else None
        return (script or state.script).next(), None

    def _choose(
        self, credential: str, state: _Key, record: RecordedRequest
    ) -> tuple[Behaviour, Snapshot | None, Reply | None]:
        """The behaviour for one request with a registered key, its rate-limit state and the scripted reply a
        fault's partial body is cut from (under the lock)."""
        if credential in self._revoked:
            return invalid_key(), None, None
        behaviour, queued = self._scripted(credential, state, record)
        if not isinstance(behaviour, Ok | Reply):
            return behaviour, None, None
        content = behaviour if isinstance(behaviour, Reply) else None
        snapshot: Snapshot | None = None
        if self._limits.rules:
            admitted = self._limits.admit(credential, record.model, request_cost(record.provider, record.body))
            if isinstance(admitted, BucketLimited):
                if queued is not None:  # a queued reply is for the attempt that gets through
                    self._queue.insert(*queued)
                return admitted, None, None
            snapshot = admitted
        faults = self._faults
        if faults is not None and faults.applies_to(credential):
            fault = faults.draw(credential, record.stream, self._revoked)
            if fault is not None:
                if queued is not None:
                    self._queue.insert(*queued)
                return fault, snapshot, content
        return behaviour, snapshot, content

    def _upload_start(self, path: str, label: str) -> Answer:
        with self._lock:
            upload_id = f"up{len(self._uploads) + 1}"
            self._uploads[upload_id] = [label, 0]
        upload_url = f"{self.url}{path}?upload_id={upload_id}&upload_protocol=resumable"
        return 200, [GOOGLE_JSON_HEADER, ("x-goog-upload-url", upload_url), ("x-goog-upload-status", "active")], b"{}"

    def _upload_chunk(
        self,
        conn: Connection,
        path: str,
        query: str,
        headers: dict[str, str],
        credential: str | None,
        body: bytes,
        close: bool,
    ) -> None:
        """A chunk of a Gemini resumable upload. The upload URL authorises it; a chunk sent with a different key
        than the one that started the session is refused (a session never changes keys)."""
        upload_id = parse_qs(query).get("upload_id", [""])[0]
        with self._lock:
            session = self._uploads.get(upload_id)
            state = self._keys.get(credential) if credential is not None else None
            label = state.label if state is not None else (NO_KEY_LABEL if credential is None else UNKNOWN_KEY_LABEL)
            self._records.append(RecordedRequest(label, "POST", path, query, headers, body, GEMINI))
            if session is not None and credential is not None and label != session[0]:
                session = None
            elif session is not None:
                session[1] += len(body)
        if session is None:
            message = "Upload session not found or started with another key."
            conn._send(
                400,
                [GOOGLE_JSON_HEADER],
                dumps({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}),
                close=close,
            )
            return
        command = headers.get("x-goog-upload-command", "")
        if "finalize" not in command:
            conn._send(200, [("x-goog-upload-status", "active")], b"", close=close)
            return
        file = {
            "name": f"files/{upload_id}",
            "displayName": f"uploaded by {session[0]}",
            "mimeType": "text/plain",
            "sizeBytes": str(session[1]),
            "state": "ACTIVE",
            "uri": f"{self.url}/v1beta/files/{upload_id}",
        }
        conn._send(200, [GOOGLE_JSON_HEADER, ("x-goog-upload-status", "final")], dumps({"file": file}), close=close)

    def _answer(self, conn: Connection, req: _Request, behaviour: Behaviour) -> None:
        if isinstance(behaviour, Delay):
            then = behaviour.then
            conn._defer(behaviour.seconds, lambda: self._answer(conn, req, then))
            return
        if isinstance(behaviour, ConnectionReset):
            conn.reset()
            return
        if isinstance(behaviour, ResetMidBody | Stall):
            if behaviour.status == 200:
                answer = self._ok_answer(req, req.content)
            else:
                error = behaviour_error(_status_behaviour(behaviour.status), req.provider, "")
                assert error is not None
                answer = error
            if isinstance(behaviour, ResetMidBody):
                conn.send_cut(*answer, then="reset", seconds=_RESET_GRACE)
            else:
                conn.send_cut(*answer, then="stall", seconds=behaviour.seconds)
            return
        if isinstance(behaviour, BucketLimited):
            requested = request_cost(req.provider, req.body)[behaviour.dimension]
            conn._send(*limited_error(req.provider, behaviour, requested), close=req.close)
            return
        if isinstance(behaviour, TruncatedStream):
            conn.send_cut(*self._ok_answer(req, req.content), then="close", keep=behaviour.events)
            return
        final = (
            self._ok_answer(req, behaviour if isinstance(behaviour, Reply) else req.content)
            if isinstance(behaviour, Ok | Reply)
            else behaviour_error(behaviour, req.provider, req.credential)
        )
        assert final is not None
        conn._send(*final, close=req.close)

    def _ok_answer(self, req: _Request, scripted: Reply | None = None) -> Answer | ErrorResponse:
        text = (scripted or _DEFAULT_REPLY).for_label(req.label)
        method, path, headers, body = req.method, req.path, req.headers, req.body
        answer: Answer | ErrorResponse | None
        if req.provider == OPENAI:
            answer = openai.route(method, path, headers, body, text)
        elif req.provider == ANTHROPIC:
            answer = anthropic.route(method, path, body, text)
        elif path.startswith("/upload/") and "start" in headers.get("x-goog-upload-command", ""):
            answer = self._upload_start(path, req.label)
        else:
            answer = gemini.route(method, path, req.query, body, text)
        if answer is None:
            return not_found_error(req.provider, method, path)
        if req.ratelimit is not None and req.provider != GEMINI:
            # the computed state replaces the route's default rate-limit headers
            status, headers_out, payload = answer
            kept = [h for h in headers_out if not h[0].startswith(("x-ratelimit-", "anthropic-ratelimit-"))]
            answer = status, kept + snapshot_headers(req.provider, req.ratelimit), payload
        return answer
