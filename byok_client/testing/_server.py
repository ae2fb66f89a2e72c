"""MockProvider: a local server that answers like the OpenAI, Anthropic and Gemini APIs, with a script per key.

Pure standard library: one asyncio event loop in one daemon thread; HTTP/1.1 lives in :mod:`._http`, each
provider's routes and payloads in :mod:`.openai`, :mod:`.anthropic` and :mod:`.gemini`.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import parse_qs

from . import anthropic, gemini, openai
from ._behaviours import (
    ANTHROPIC,
    GEMINI,
    OPENAI,
    Behaviour,
    Delay,
    ErrorResponse,
    Ok,
    behaviour_error,
    invalid_key_error,
    missing_key_error,
    multiple_credentials_error,
    not_found_error,
    ok,
)
from ._common import GOOGLE_JSON_HEADER, Answer, dumps
from ._http import CREDENTIAL_HEADERS, Connection

__all__ = ["MockProvider", "RecordedRequest"]

NO_KEY_LABEL: Final = "<none>"
UNKNOWN_KEY_LABEL: Final = "<unknown>"
MULTIPLE_KEYS_LABEL: Final = "<multiple>"


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
            f"path={self.path!r}, query={query!r}, headers={headers!r}, body={body!r})"
        )


class _Key:
    __slots__ = ("index", "label", "script")

    def __init__(self, label: str, script: tuple[Behaviour, ...]) -> None:
        self.label = label
        self.script = script
        self.index = 0


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

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, _Key] = {}
        # resumable uploads (Gemini): upload_id -> [label of the key that started it, bytes received]
        self._uploads: dict[str, list[Any]] = {}
        self._records: list[RecordedRequest] = []
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

    def script(self, key: str, *behaviours: Behaviour) -> None:
        """Give ``key`` a sequence: each request consumes the next behaviour and the last repeats forever."""
        if not behaviours:
            raise ValueError("script() needs at least one behaviour")
        with self._lock:
            state = self._keys.get(key)
            if state is None:
                raise KeyError("key is not registered; call add_key() first")
            state.script = behaviours
            state.index = 0

    def set(self, key: str, behaviour: Behaviour) -> None:
        """Replace ``key``'s script with a single repeating behaviour."""
        self.script(key, behaviour)

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
            self._connections = 0

    def reset(self) -> None:
        """Back to a fresh server: no keys, no records, :attr:`connections` from 0 (open connections stay open)."""
        with self._lock:
            self._keys.clear()
            self._records.clear()
            self._uploads.clear()
            self._connections = 0

    @property
    def connections(self) -> int:
        """Number of TCP connections accepted since start (or :meth:`clear` / :meth:`reset`)."""
        return self._connections

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
        behaviour: Behaviour | None = None
        with self._lock:
            if ncred > 1:
                label = MULTIPLE_KEYS_LABEL
            elif credential is None:
                label = NO_KEY_LABEL
            else:
                state = self._keys.get(credential)
                if state is None:
                    label = UNKNOWN_KEY_LABEL
                else:
                    label = state.label
                    index = state.index
                    behaviour = state.script[index]
                    if index + 1 < len(state.script):
                        state.index = index + 1
            self._records.append(RecordedRequest(label, method, path, query, headers, body, provider))

        close = not keep_alive
        error: ErrorResponse | None
        if ncred > 1:
            error = multiple_credentials_error(provider)
        elif credential is None:
            error = missing_key_error(provider)
        elif behaviour is None:
            error = invalid_key_error(provider, credential)
        else:
            self._answer(conn, provider, behaviour, credential, label, method, path, query, headers, body, close)
            return
        conn._send(*error, close=close)

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

    def _answer(
        self,
        conn: Connection,
        provider: str,
        behaviour: Behaviour,
        credential: str,
        label: str,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        close: bool,
    ) -> None:
        if isinstance(behaviour, Delay):
            then = behaviour.then
            conn._defer(
                behaviour.seconds,
                lambda: self._answer(
                    conn, provider, then, credential, label, method, path, query, headers, body, close
                ),
            )
            return
        answer: Answer | ErrorResponse | None
        if isinstance(behaviour, Ok):
            text = f"served by {label}"
            if provider == OPENAI:
                answer = openai.route(method, path, headers, body, text)
            elif provider == ANTHROPIC:
                answer = anthropic.route(method, path, body, text)
            elif path.startswith("/upload/") and "start" in headers.get("x-goog-upload-command", ""):
                answer = self._upload_start(path, label)
            else:
                answer = gemini.route(method, path, query, body, text)
            if answer is None:
                answer = not_found_error(provider, method, path)
        else:
            answer = behaviour_error(behaviour, provider, credential)
            assert answer is not None
        conn._send(*answer, close=close)
