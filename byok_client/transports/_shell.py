"""The I/O around the failover flow, written once for httpx and httpx2 (their transport APIs are the same).

The shell is installed on the SDK's own transport objects (``install``/``wrap_transport``): their
``handle_request`` / ``handle_async_request`` is wrapped on the instance, so the client keeps the very transport
objects it had (type, module, connection pool and all) and introspection cannot tell. The HTTP library is read off
the objects the shell is handed; nothing here imports one. Sync and async shells are the same loop, differing
only in how they send, read and close; every decision is the core's ``attempts`` flow.
"""

from __future__ import annotations

import asyncio
import math
import operator
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from .._binding import EXTENSION, TOKEN_PREFIX, TOKENS, Binding, origin_of
from ..core.flow import GiveUp, Lease, Reject, RequestFacts, Wait, attempts
from ..core.keys import Key
from ..core.policy import Observation
from ..providers.base import CREDENTIAL_HEADERS, header_value

__all__ = ["ATTEMPTS", "DECIDED_HEADER", "KEY_HEADER", "install", "is_installed", "wrap_transport"]

KEY_HEADER = "x-byok-key"
"""Response header naming the label of the key that got the response (never its value)."""
DECIDED_HEADER = "x-byok-decided"
"""Header on a 429 the pool answered itself (``client``): no key had budget in time and nothing was sent."""
ATTEMPTS = "byok_client.attempts"
"""Response extension holding the request's attempt history (``tuple[Attempt, ...]``)."""

_MARK = "_byok_shell"  # instance attribute: the transport's own, unwrapped send methods

_T = TypeVar("_T")


# -- installing ---------------------------------------------------------------------------------------------------
def wrap_transport(transport: _T) -> _T:
    """Give ``transport`` (an httpx or httpx2 transport, sync or async) key injection and failover for the
    requests a byok client marks; every other request passes through untouched. The same object is returned:
    only its ``handle_request``/``handle_async_request`` is wrapped, on the instance. Idempotent."""
    if _MARK in getattr(transport, "__dict__", {}):
        return transport
    target: Any = transport
    sync_send = getattr(target, "handle_request", None)
    async_send = getattr(target, "handle_async_request", None)
    if sync_send is None and async_send is None:
        raise TypeError(f"not an httpx or httpx2 transport: {type(transport).__name__}")
    setattr(target, _MARK, (sync_send, async_send))
    if sync_send is not None:  # a transport may serve both (httpx's MockTransport)

        def handle_request(request: Any) -> Any:
            return _sync_send(sync_send, request)

        target.handle_request = handle_request
    if async_send is not None:

        async def handle_async_request(request: Any) -> Any:
            return await _async_send(async_send, request)

        target.handle_async_request = handle_async_request
    return transport


def is_installed(transport: object) -> bool:
    """Whether ``transport`` carries the shell."""
    return _MARK in getattr(transport, "__dict__", {})


def install(client: _T) -> _T:
    """Install the shell on every transport ``client`` (an httpx or httpx2 ``Client``/``AsyncClient``) routes
    through: its default transport and each proxy mount. The client keeps the same transport objects."""
    target: Any = client
    wrap_transport(target._transport)
    for transport in target._mounts.values():
        if transport is not None:
            wrap_transport(transport)
    return client


# -- per request ----------------------------------------------------------------------------------------------------
def _binding_for(request: Any, default: Binding | None = None) -> Binding | None:
    """The request's binding (a byok client's mark, a placeholder token, else ``default``: a transport's own pool)
    if a managed key may go to its origin; strips our placeholder otherwise."""
    binding: Binding | None = request.extensions.get(EXTENSION)
    if binding is None:
        binding = _token_binding(request.headers) or default
        if binding is None:
            return None
    url = request.url
    if origin_of(url.scheme, url.host, url.port) not in binding.origins:
        binding.provider.strip_placeholder(request.headers)
        return None
    return binding


def _token_binding(headers: Any) -> Binding | None:
    """The binding a placeholder token in a credential header stands for (the header list's names are compared
    in C: ``map`` over the list, ``in`` on the names, never a Python loop over every header)."""
    raw = getattr(headers, "_list", None)
    if raw is not None:
        names = list(map(_NAME, raw))
        for name in _CREDENTIALS:
            if name in names:
                values = [raw[names.index(name)][2]] if names.count(name) == 1 else [e[2] for e in raw if e[1] == name]
                for value in values:
                    if _TOKEN_PREFIX_BYTES in value:
                        return TOKENS.lookup(value.decode("latin-1"))
        return None
    for header in CREDENTIAL_HEADERS:
        text = headers.get(header)
        if text is not None and TOKEN_PREFIX in text:
            return TOKENS.lookup(text)
    return None


# httpx and httpx2 keep headers as a list of (raw name, lower-case name, value) byte tuples, and every Mapping
# operation scans it in Python. The hot path works on that list directly, and only with C-level scans (``map`` with
# an ``itemgetter``, ``list.index``, ``dict``): each Python-level step a request takes costs about ten times its
# hot-loop time amid the SDK's own work (see the README's Performance section).
_CREDENTIAL_BYTES = {name.encode(): name for name in CREDENTIAL_HEADERS}
_CREDENTIALS = tuple(_CREDENTIAL_BYTES)
_CREDENTIAL_SET = frozenset(_CREDENTIAL_BYTES)
_NAME = operator.itemgetter(1)  # an entry's lower-case name
_NAME_VALUE = operator.itemgetter(1, 2)
_KEY_HEADER_BYTES = KEY_HEADER.encode()
_TOKEN_PREFIX_BYTES = TOKEN_PREFIX.encode()


def _save(headers: Any) -> tuple[list[Any] | None, Any]:
    """(the library's header list, or None for another kind of headers; what ``_restore`` puts back)."""
    raw: list[Any] | None = getattr(headers, "_list", None)
    if raw is not None:
        return raw, list(raw)
    return None, {name: headers.get(name) for name in CREDENTIAL_HEADERS}


def _restore(headers: Any, raw: list[Any] | None, saved: Any) -> None:
    """Put the request's credential headers back as the SDK set them: exceptions and logs that show the request
    (``err.response.request.headers``) then never carry a managed key."""
    if raw is not None:
        raw[:] = saved
        return
    for name, value in saved.items():
        if value is None:
            if name in headers:
                del headers[name]
        else:
            headers[name] = value


def _inject(headers: Any, raw: list[Any] | None, provider: Any, key: Key) -> None:
    """``provider.inject`` on the header list ``raw`` (see ``_save``) when the SDK sent exactly one credential
    header (the usual case)."""
    if raw is not None:
        names = list(map(_NAME, raw))
        present = _CREDENTIAL_SET.intersection(names)
        if len(present) == 1:
            (found,) = present
            name = _CREDENTIAL_BYTES[found]
            if names.count(found) == 1 and (not provider.exclusive_header or name == provider.default_header):
                i = names.index(found)
                raw[i] = (raw[i][0], found, header_value(name, key).encode("ascii"))
                return
    provider.inject(headers, key)


def _limit_view(headers: Any, names: frozenset[bytes] | None) -> Any:
    """The response's headers as a ``{lower-case name: value}`` bytes dict built in C (nothing decoded), for a
    provider that reads rate-limit headers (``names``), else None; ``Provider.read_limits`` reads either."""
    raw = getattr(headers, "_list", None)
    if names is None or raw is None:
        return None
    return dict(map(_NAME_VALUE, raw))


def _mark(headers: Any, label: str) -> None:
    raw = getattr(headers, "_list", None)
    if raw is not None:
        raw.append((_KEY_HEADER_BYTES, _KEY_HEADER_BYTES, label.encode("ascii", "replace")))
    else:
        headers[KEY_HEADER] = label


def _library(obj: object) -> Any:
    """The HTTP library (httpx or httpx2 module) an object comes from: already imported, since it made it."""
    for cls in type(obj).__mro__:
        root = cls.__module__.split(".")[0]
        if root in ("httpx", "httpx2"):
            return sys.modules[root]
    raise TypeError(f"not an httpx or httpx2 object: {type(obj).__name__}")


def _flow_for(binding: Binding, request: Any, body: bytes) -> Any:
    pool, provider = binding.pool, binding.provider
    deliver = pool._deliver if (pool._listeners or binding.listeners) else None
    return attempts(pool, provider, RequestFacts(provider, request.url, body), binding.listeners, deliver)


def _encoded(response: Any) -> bool:
    return response.headers.get("content-encoding", "identity").lower() not in ("identity", "")


def _decode(response: Any, raw: bytes) -> bytes | None:
    """``raw`` decoded by its content-encoding with the library's own decoders (gzip, deflate, br, zstd where
    installed); None when it cannot be (the library leaves an encoding it does not know as it is)."""
    library = _library(response)
    supported = getattr(getattr(library, "_decoders", None), "SUPPORTED_DECODERS", None)
    encodings = [e.strip().lower() for e in response.headers.get("content-encoding", "").split(",") if e.strip()]
    if supported is None or any(e not in supported for e in encodings):
        return None
    try:
        decoded = library.Response(response.status_code, headers=response.headers, content=raw)
        decoded.read()
        return bytes(decoded.content)
    except Exception:
        return None


def _observe(response: Any, raw: bytes, cap: int) -> Observation:
    body: bytes | None = raw
    if raw and _encoded(response):
        body = _decode(response, raw)  # classify the text; a truncated head may not decode
    return Observation(response.status_code, response.headers, (body or b"")[:cap])


def _give_back(response: Any, raw: bytes, step: GiveUp, key: Key) -> Any:
    """The last failed response, for the SDK: the whole body, decoded when it was compressed so an echoed key
    can be replaced by its label in any encoding, with the flow's retry headers and history."""
    body = raw
    headers = response.headers
    if raw and _encoded(response):
        decoded = _decode(response, raw)
        if decoded is not None:
            body = decoded
            del headers["content-encoding"]
    secret = key.get_secret_value().encode()
    if secret in body:
        # Some providers echo the key in error bodies (Gemini); the SDK would put it in its exception text.
        body = body.replace(secret, key.label.encode())
    if body is not raw and "content-length" in headers:
        headers["content-length"] = str(len(body))
    response.stream = _library(response).ByteStream(body)
    if hasattr(response, "_content"):  # an inner transport that had already read the body
        response._content = body
    for name, value in step.headers.items():
        headers[name] = value
    _mark(headers, key.label)
    response.extensions = {**response.extensions, ATTEMPTS: tuple(step.history)}
    return response


def _succeeded(response: Any, key: Key, lease: Lease, is_async: bool) -> Any:
    _mark(response.headers, key.label)
    # One fewer in flight when the body is consumed or closed; the stream itself is untouched.
    cls = (_ARELEASING if is_async else _RELEASING).get(type(response)) or _releasing_class(response, is_async)
    response.stream = cls(response.stream, lease)
    return response


def _rejected(request: Any, binding: Binding, step: Reject) -> Any:
    """The 429 the pool answers itself when no key has budget in time: the SDK raises its own typed error
    (``RateLimitError``...), and its retry loop honours ``retry-after-ms``. Nothing reached the provider."""
    cap = binding.pool.policy.retry_after_cap
    ms = max(1, round(min(step.retry_after, cap) * 1000))
    message = (
        f"byok_client: {step.reason}: every key is at its rate limit for the next {step.retry_after:.3f} s "
        "(decided client-side; nothing was sent to the provider)"
    )
    headers = [
        ("content-type", "application/json"),
        ("retry-after-ms", str(ms)),
        ("retry-after", str(max(1, math.ceil(ms / 1000)))),
        ("x-should-retry", "true"),
        (DECIDED_HEADER, "client"),
    ]
    response = _library(request).Response(
        429, headers=headers, content=binding.provider.rejection(message), request=request
    )
    response.extensions = {**response.extensions, ATTEMPTS: ()}
    return response


def _key(step: Key | Wait | Reject) -> Key:
    assert isinstance(step, Key), "the flow waits only before its first attempt"
    return step


def _sync_send(send: Callable[[Any], Any], request: Any, default: Binding | None = None) -> Any:
    """Send ``request`` with ``send`` (the inner transport's own method), failing over between the keys of its
    binding (``default`` when no byok client marked the request)."""
    binding = _binding_for(request, default)
    if binding is None:
        return send(request)
    provider = binding.provider
    if provider.pins_sessions and (pinned := provider.pinned_key(str(request.url))):
        provider.inject(request.headers, pinned)
        return send(request)  # a session's key never changes mid-session
    body = request.read()  # so the body can be sent again with the next key
    pool = binding.pool
    pool.refresh_if_due()
    headers = request.headers
    raw_headers, saved = _save(headers)
    flow = _flow_for(binding, request, body)
    try:
        step = next(flow)
        if not isinstance(step, Key):  # admission: wait for budget, or answer the 429 ourselves
            while isinstance(step, Wait):
                time.sleep(step.seconds)  # the sync shell only: no lock is held, no event loop runs here
                step = flow.send(None)
            if isinstance(step, Reject):
                return _rejected(request, binding, step)
        key = step
        while True:
            _inject(headers, raw_headers, provider, key)
            raw, rest = b"", None
            try:
                response = send(request)
                if response.status_code < 400:
                    observation = Observation(
                        response.status_code,
                        response.headers,
                        b"",
                        _limit_view(response.headers, provider.limit_headers),
                    )
                else:
                    cap = pool._policy.max_error_body
                    raw, rest = _read_head(response.stream, cap)
                    observation = _observe(response, raw, cap)
            except BaseException as exc:
                flow.throw(exc)  # the flow records it, releases the lease and raises it again
                raise  # pragma: no cover - throw() always raises here
            try:
                key = _key(flow.send(observation))
            except StopIteration as stop:
                if isinstance(stop.value, Lease):
                    return _succeeded(response, key, stop.value, False)  # unread: streams stay lazy
                if rest is not None:
                    raw += _read_rest(response.stream, rest)
                return _give_back(response, raw, stop.value, key)
            if rest is not None:
                response.stream.close()  # the rest of a discarded error body: not worth reading
    finally:
        flow.close()  # releases the lease of an attempt cut short by an exception anywhere above
        _restore(headers, raw_headers, saved)


async def _async_send(send: Callable[[Any], Any], request: Any, default: Binding | None = None) -> Any:
    """The async twin of ``_sync_send``."""
    binding = _binding_for(request, default)
    if binding is None:
        return await send(request)
    provider = binding.provider
    if provider.pins_sessions and (pinned := provider.pinned_key(str(request.url))):
        provider.inject(request.headers, pinned)
        return await send(request)
    body = await request.aread()
    pool = binding.pool
    await pool.arefresh_if_due()
    headers = request.headers
    raw_headers, saved = _save(headers)
    flow = _flow_for(binding, request, body)
    try:
        step = next(flow)
        if not isinstance(step, Key):
            while isinstance(step, Wait):
                await asyncio.sleep(step.seconds)
                step = flow.send(None)
            if isinstance(step, Reject):
                return _rejected(request, binding, step)
        key = step
        while True:
            _inject(headers, raw_headers, provider, key)
            raw, rest = b"", None
            try:
                response = await send(request)
                if response.status_code < 400:
                    observation = Observation(
                        response.status_code,
                        response.headers,
                        b"",
                        _limit_view(response.headers, provider.limit_headers),
                    )
                else:
                    cap = pool._policy.max_error_body
                    raw, rest = await _aread_head(response.stream, cap)
                    observation = _observe(response, raw, cap)
            except BaseException as exc:
                flow.throw(exc)
                raise  # pragma: no cover
            try:
                key = _key(flow.send(observation))
            except StopIteration as stop:
                if isinstance(stop.value, Lease):
                    return _succeeded(response, key, stop.value, True)
                if rest is not None:
                    raw += await _aread_rest(response.stream, rest)
                return _give_back(response, raw, stop.value, key)
            if rest is not None:
                await response.stream.aclose()
    finally:
        flow.close()
        _restore(headers, raw_headers, saved)


# -- bodies ---------------------------------------------------------------------------------------------------------
def _read_head(stream: Any, limit: int) -> tuple[bytes, Iterator[bytes] | None]:
    """Up to ``limit`` bytes of an error body, and the iterator of the rest when there is more (None when that was
    all, and the stream is closed, which hands the connection back). On any exception the stream is closed."""
    chunks: list[bytes] = []
    size = 0
    iterator = iter(stream)
    try:
        for chunk in iterator:
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                return b"".join(chunks), iterator
    except BaseException:
        stream.close()
        raise
    stream.close()
    return b"".join(chunks), None


def _read_rest(stream: Any, rest: Iterator[bytes]) -> bytes:
    try:
        return b"".join(rest)
    finally:
        stream.close()


async def _aread_head(stream: Any, limit: int) -> tuple[bytes, AsyncIterator[bytes] | None]:
    chunks: list[bytes] = []
    size = 0
    iterator = stream.__aiter__()
    try:
        async for chunk in iterator:
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                return b"".join(chunks), iterator
    except BaseException:
        await stream.aclose()
        raise
    await stream.aclose()
    return b"".join(chunks), None


async def _aread_rest(stream: Any, rest: AsyncIterator[bytes]) -> bytes:
    try:
        return b"".join([chunk async for chunk in rest])
    finally:
        await stream.aclose()


class ReleasingStream:
    """A successful response's body stream that ends its attempt's lease when closed (the lease is released
    once, whichever comes first). Iteration is the inner stream's own, so chunks pass through untouched."""

    _lease: Lease | None = None  # a class default, for __del__ on an instance whose __init__ never ran

    def __init__(self, stream: Any, lease: Lease) -> None:
        self._stream = stream
        self._lease = lease

    def __iter__(self) -> Iterator[bytes]:
        return self._stream.__iter__()  # type: ignore[no-any-return]

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream.__aiter__()  # type: ignore[no-any-return]

    def __del__(self) -> None:
        # A stream dropped without close() (a `break` out of the loop): hand the release to the pool to do under
        # its lock at the next pick. Taking the lock here could deadlock if the collector ran inside it.
        lease = self._lease
        if lease is not None:
            lease.release_later()

    def _done(self) -> None:
        lease, self._lease = self._lease, None  # so __del__ finds nothing left to do
        if lease is not None:
            lease.release()

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._done()

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._done()


# ``ReleasingStream`` classes by the response's type: sync, async
_RELEASING: dict[type, type[ReleasingStream]] = {}
_ARELEASING: dict[type, type[ReleasingStream]] = {}


def _releasing_class(response: Any, is_async: bool) -> type[ReleasingStream]:
    """``ReleasingStream`` as a byte stream of the response's library (whose responses check the stream's type)."""
    library = _library(response)
    base = library.AsyncByteStream if is_async else library.SyncByteStream
    cls = (_ARELEASING if is_async else _RELEASING)[type(response)] = type(
        "ReleasingStream", (ReleasingStream, base), {}
    )
    return cls
