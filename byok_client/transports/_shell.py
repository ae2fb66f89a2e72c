"""The I/O around the failover core, written once for httpx and httpx2 (their transport APIs are the same).

Sync and async shells differ only in how they send, read and close; all decisions are in ``Failover``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

from .._failover import EXTENSION, TOKEN_PREFIX, Binding, Failover, GiveUp, binding_for_token, origin_of
from ..core.keys import Key
from ..core.policy import Observation
from ..providers.base import CREDENTIAL_HEADERS, header_value

__all__ = ["ATTEMPTS", "KEY_HEADER", "AsyncShell", "SyncShell"]

KEY_HEADER = "x-byok-key"
"""Response header naming the label of the key that got the response (never its value)."""
ATTEMPTS = "byok_client.attempts"
"""Response extension holding the request's attempt history (``tuple[Attempt, ...]``)."""


def _binding_for(request: Any) -> Binding | None:
    """The request's binding if a managed key may go to its origin; strips our placeholder otherwise."""
    binding: Binding | None = request.extensions.get(EXTENSION)
    if binding is None:
        binding = _token_binding(request.headers)
        if binding is None:
            return None
    url = request.url
    if origin_of(url.scheme, url.host, url.port) != binding.origin:
        binding.provider.strip_placeholder(request.headers)
        return None
    return binding


def _token_binding(headers: Any) -> Binding | None:
    for name in CREDENTIAL_HEADERS:
        value = headers.get(name)
        if value is not None and TOKEN_PREFIX in value:
            return binding_for_token(value)
    return None


# httpx and httpx2 keep headers as a list of (raw name, lower-case name, value) byte tuples, and every Mapping
# operation scans it. The hot path works on that list directly: one scan, O(1) replace, restore by copy.
_CREDENTIAL_BYTES = {name.encode(): name for name in CREDENTIAL_HEADERS}
_KEY_HEADER_BYTES = KEY_HEADER.encode()


def _save(headers: Any) -> Any:
    raw = getattr(headers, "_list", None)
    if raw is not None:
        return list(raw)
    return {name: headers.get(name) for name in CREDENTIAL_HEADERS}


def _restore(headers: Any, saved: Any) -> None:
    """Put the request's credential headers back as the SDK set them: exceptions and logs that show the request
    (``err.response.request.headers``) then never carry a managed key."""
    if isinstance(saved, list):
        headers._list[:] = saved
        return
    for name, value in saved.items():
        if value is None:
            if name in headers:
                del headers[name]
        else:
            headers[name] = value


def _inject(headers: Any, provider: Any, key: Key) -> None:
    """``provider.inject`` on the header list when the SDK sent exactly one credential header (the usual case)."""
    raw = getattr(headers, "_list", None)
    if raw is not None:
        found = -1
        for i, entry in enumerate(raw):
            if entry[1] in _CREDENTIAL_BYTES:
                if found >= 0:
                    found = -2
                    break
                found = i
        if found >= 0:
            name = _CREDENTIAL_BYTES[raw[found][1]]
            if not provider.exclusive_header or name == provider.default_header:
                try:
                    raw[found] = (raw[found][0], raw[found][1], header_value(name, key).encode("ascii"))
                    return
                except UnicodeEncodeError:
                    pass
    provider.inject(headers, key)


def _limit_view(headers: Any, names: frozenset[bytes] | None) -> Any:
    """The provider's rate-limit headers as a small ``{bytes: bytes}`` dict (one pass over the list, nothing
    decoded), or the headers themselves; ``Provider.read_limits`` reads either."""
    raw = getattr(headers, "_list", None)
    if names is None or raw is None:
        return headers
    return {entry[1]: entry[2] for entry in raw if entry[1] in names}


def _mark(headers: Any, label: str) -> None:
    raw = getattr(headers, "_list", None)
    if raw is not None:
        raw.append((_KEY_HEADER_BYTES, _KEY_HEADER_BYTES, label.encode("ascii", "replace")))
    else:
        headers[KEY_HEADER] = label


class _Shell:
    _inner: Any
    _byte_stream: ClassVar[Any]
    _response_cls: ClassVar[Any]
    _releasing: ClassVar[Any]

    def __getattr__(self, name: str) -> Any:
        # Code that introspects the SDK's transport (``_transport._pool``) keeps working.
        if name == "_inner":
            raise AttributeError(name)
        return getattr(self._inner, name)

    @property
    def inner(self) -> Any:
        """The transport this one wraps."""
        return self._inner

    def _observe(self, response: Any, raw: bytes) -> Observation:
        body = raw
        encoding = response.headers.get("content-encoding", "identity").lower()
        if raw and encoding != "identity":
            try:  # classify from the decoded text; the SDK still gets the raw bytes to decode itself
                decoded = self._response_cls(response.status_code, headers=response.headers, content=raw)
                decoded.read()
                body = decoded.content
            except Exception:
                body = b""
        return Observation(response.status_code, response.headers, body)

    def _give_back(self, response: Any, raw: bytes, step: GiveUp, key: Key, flow: Failover) -> Any:
        secret = key.get_secret_value().encode()
        if secret in raw and response.headers.get("content-encoding", "identity").lower() == "identity":
            # Some providers echo the key in error bodies (Gemini); the SDK would put it in its exception text.
            raw = raw.replace(secret, key.label.encode())
            if "content-length" in response.headers:
                response.headers["content-length"] = str(len(raw))
        response.stream = self._byte_stream(raw)
        if hasattr(response, "_content"):  # an inner transport that had already read the body
            response._content = raw
        for name, value in step.headers.items():
            response.headers[name] = value
        _mark(response.headers, key.label)
        response.extensions = {**response.extensions, ATTEMPTS: tuple(flow.history)}
        return response

    def _succeeded(self, response: Any, key: Key, flow: Failover, provider: Any) -> Any:
        headers = response.headers
        flow.succeeded(response.status_code, headers, _limit_view(headers, provider.limit_headers))
        _mark(headers, key.label)
        response.stream = self._releasing(response.stream, flow)  # one fewer in flight when the body is done
        return response


class SyncShell(_Shell):
    """Sync failover loop around ``self._inner.handle_request``."""

    def handle_request(self, request: Any) -> Any:
        binding = _binding_for(request)
        if binding is None:
            return self._inner.handle_request(request)
        provider = binding.provider
        if provider.pins_sessions and (pinned := provider.pinned_key(str(request.url))):
            provider.inject(request.headers, pinned)
            return self._inner.handle_request(request)  # a session's key never changes mid-session
        request.read()  # so the body can be sent again with the next key
        pool = binding.pool
        pool.refresh_if_due()
        headers = request.headers
        saved = _save(headers)
        flow = Failover(pool, provider, request.url, binding.listeners)
        try:
            key = flow.first()
            while True:
                _inject(headers, provider, key)
                try:
                    response = self._inner.handle_request(request)
                except BaseException:
                    flow.errored()
                    raise
                if response.status_code < 400:
                    return self._succeeded(response, key, flow, provider)  # unread: streams stay lazy
                raw = _drain(response.stream, pool.policy.max_error_body)
                step = flow.failed(self._observe(response, raw))
                if isinstance(step, GiveUp):
                    return self._give_back(response, raw, step, key, flow)
                key = step
        finally:
            _restore(headers, saved)

    def close(self) -> None:
        self._inner.close()


class AsyncShell(_Shell):
    """Async failover loop around ``self._inner.handle_async_request``."""

    async def handle_async_request(self, request: Any) -> Any:
        binding = _binding_for(request)
        if binding is None:
            return await self._inner.handle_async_request(request)
        provider = binding.provider
        if provider.pins_sessions and (pinned := provider.pinned_key(str(request.url))):
            provider.inject(request.headers, pinned)
            return await self._inner.handle_async_request(request)
        await request.aread()
        pool = binding.pool
        await pool.arefresh_if_due()
        headers = request.headers
        saved = _save(headers)
        flow = Failover(pool, provider, request.url, binding.listeners)
        try:
            key = flow.first()
            while True:
                _inject(headers, provider, key)
                try:
                    response = await self._inner.handle_async_request(request)
                except BaseException:
                    flow.errored()
                    raise
                if response.status_code < 400:
                    return self._succeeded(response, key, flow, provider)
                raw = await _adrain(response.stream, pool.policy.max_error_body)
                step = flow.failed(self._observe(response, raw))
                if isinstance(step, GiveUp):
                    return self._give_back(response, raw, step, key, flow)
                key = step
        finally:
            _restore(headers, saved)

    async def aclose(self) -> None:
        await self._inner.aclose()


class ReleasingStream:
    """A successful response's body stream that ends its attempt (one fewer in flight) when closed. Iteration is
    the inner stream's own, so chunks pass through untouched."""

    def __init__(self, stream: Any, flow: Failover) -> None:
        self._stream = stream
        self._flow: Failover | None = flow

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._stream)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream.__aiter__()  # type: ignore[no-any-return]

    def _done(self) -> None:
        flow, self._flow = self._flow, None
        if flow is not None:
            flow.release()

    def __del__(self) -> None:
        # A stream dropped without close() (a `break` out of the loop): hand the release to the pool to do under
        # its lock at the next pick. Taking the lock here could deadlock if the collector ran inside it.
        flow, self._flow = getattr(self, "_flow", None), None
        if flow is not None:
            flow.release_later()

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


def _drain(stream: Any, limit: int) -> bytes:
    """Read an error body (up to ``limit`` bytes) and close the stream, which returns the connection."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in stream:
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    finally:
        stream.close()
    return b"".join(chunks)


async def _adrain(stream: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in stream:
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    finally:
        await stream.aclose()
    return b"".join(chunks)
