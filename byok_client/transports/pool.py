"""Transports and clients that carry their own key pool, for any code that takes an httpx or httpx2 client.

``KeyPoolTransport("openai", api_keys=[...])`` wraps an inner transport; every request to the pool's origin goes
out with a managed key in the provider's auth header and fails over between the keys exactly like the byok SDK
clients (it is the same shell). Requests to other origins pass through untouched. ``http_client(...)`` /
``async_http_client(...)`` return a ready ``Client`` / ``AsyncClient`` with it installed, for LangChain's
``ChatOpenAI(http_client=...)``, LlamaIndex, or any httpx-based SDK.

There are two HTTP libraries (httpx and its successor httpx2, whose transport APIs match). Each transport is a real
subclass of one library's ``BaseTransport`` / ``AsyncBaseTransport``, chosen at construction: the library of
``transport=`` when given, else the one the installed SDK of the provider depends on (openai 3.x, anthropic 1.x+
and google-genai 3.x use httpx2; older lines httpx). Only that library is imported.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import os
import re
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from .._binding import Binding, origin_of
from .._errors import ByokConfigError, MissingDependencyError
from .._pool import KeyPool
from ..clients._common import ConfigPath, PoolPlan, listeners, make_pool, origin_text, resolve_keys
from ..core.keys import Key
from ..events import EventCallback  # real imports: typing.get_type_hints resolves the public signatures
from ..providers.base import Provider
from ..settings import Settings
from ._shell import _MARK, _async_send, _sync_send

if TYPE_CHECKING:
    import httpx
    import httpx2

    # For type checkers a transport is one of either library (so `httpx.Client(transport=...)` and
    # `httpx2.Client(transport=...)` both check); at run time each instance subclasses exactly one (`_concrete`).
    class _SyncBases(httpx2.BaseTransport, httpx.BaseTransport):
        def handle_request(self, request: Any) -> Any: ...

    class _AsyncBases(httpx2.AsyncBaseTransport, httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: Any) -> Any: ...
else:
    _SyncBases = _AsyncBases = object

__all__ = ["AsyncKeyPoolTransport", "KeyPoolTransport", "async_http_client", "http_client"]

_LIBRARIES = ("httpx2", "httpx")
# The SDK whose HTTP library a provider's transports match; every other provider speaks through the openai SDK.
_SDK_OF = {"anthropic": "anthropic", "gemini": "google-genai"}
_REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


# -- the provider and its origin ------------------------------------------------------------------------------------
def _provider(provider: str | Provider, base_url: str | None) -> Provider:
    """The provider named (``openai``, ``azure-openai``, an OpenAI-compatible host, ``anthropic``, ``gemini``), or
    the ``Provider`` given. ``openai`` with a base URL is read like the OpenAI client reads it (Azure, Groq...)."""
    if isinstance(provider, Provider):
        return provider
    if not isinstance(provider, str):
        raise ByokConfigError(f"provider must be a provider name or a Provider, not {type(provider).__name__}")
    from ..providers import openai as openai_providers

    name = provider.strip().lower()
    if name == "anthropic":
        from ..providers.anthropic import AnthropicProvider

        return AnthropicProvider()
    if name in ("gemini", "google"):
        from ..providers.gemini import GeminiProvider

        return GeminiProvider()  # per transport: it remembers which key started each resumable upload
    if name == "openai":
        if base_url is None:
            return openai_providers.OpenAIProvider()
        url = _url_parts(base_url)
        return openai_providers.openai_provider_for(url[1], url[2])
    if name in ("azure-openai", "azure"):
        return openai_providers.AzureOpenAIProvider()
    for host in openai_providers.COMPATIBLE:
        if host.name == name:
            return openai_providers.OpenAIProvider(host.name, host.env_prefix)
    known = ["openai", "azure-openai", *(c.name for c in openai_providers.COMPATIBLE), "anthropic", "gemini"]
    raise ByokConfigError(f"unknown provider {provider!r}; expected one of {', '.join(known)} or a Provider")


def _default_base_url(provider: Provider) -> str:
    """Where the provider's SDK sends requests when given no base URL (its env variable first, like the SDK)."""
    from ..providers.openai import COMPATIBLE

    name = provider.name
    if name == "openai":
        return os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
    if name == "anthropic":
        return os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
    if name == "gemini":
        return os.environ.get("GOOGLE_GEMINI_BASE_URL") or "https://generativelanguage.googleapis.com"
    for host in COMPATIBLE:
        if host.name == name:
            return host.base_url
    raise ByokConfigError(f"base_url is required for provider {name!r} (its API has no one address)")


def _url_parts(base_url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a base URL, without an HTTP library (both parse URLs the same way here)."""
    from urllib.parse import urlsplit

    if not isinstance(base_url, str):
        base_url = str(base_url)  # an httpx/httpx2 URL
    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError as exc:
        raise ByokConfigError(f"base_url is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ByokConfigError("base_url must be an absolute http:// or https:// URL")
    return parts.scheme, parts.hostname, port


class _Origin:
    """What ``make_pool``/``origin_text`` read of a URL: scheme, host, port."""

    __slots__ = ("host", "port", "scheme")

    def __init__(self, scheme: str, host: str, port: int | None) -> None:
        self.scheme, self.host, self.port = scheme, host, port


# -- the HTTP library -----------------------------------------------------------------------------------------------
def _library_of(transport: object) -> str | None:
    for cls in type(transport).__mro__:
        root = cls.__module__.split(".")[0]
        if root in _LIBRARIES:
            return root
    return None


@functools.lru_cache(maxsize=8)
def _sdk_library(distribution: str) -> str | None:
    """The HTTP library an installed SDK depends on (read from its metadata: nothing is imported), or None."""
    try:
        requirements = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    names = set()
    for requirement in requirements:
        match = _REQUIREMENT_NAME.match(requirement)
        if match and "extra" not in requirement.partition(";")[2]:
            names.add(match.group(1).lower())
    return next((name for name in _LIBRARIES if name in names), None)


def _choose_library(provider: Provider, transport: object | None) -> Any:
    """The httpx or httpx2 module the transport is built on (see the module docstring)."""
    if transport is not None:
        name = _library_of(transport)
        if name is None:
            raise ByokConfigError(f"transport must be an httpx or httpx2 transport, not {type(transport).__name__}")
        return importlib.import_module(name)  # imported already: it made the transport
    chosen: str | None = None
    if provider.name == "gemini":
        # google-genai takes either library and lets this variable choose; follow it.
        wanted = os.environ.get("GOOGLE_GENAI_HTTP_CLIENT", "").strip().lower()
        chosen = wanted if wanted in _LIBRARIES else None
    chosen = chosen or _sdk_library(_SDK_OF.get(provider.name, "openai"))
    if chosen is None or importlib.util.find_spec(chosen) is None:
        chosen = next((name for name in _LIBRARIES if importlib.util.find_spec(name) is not None), None)
    if chosen is None:
        raise MissingDependencyError("httpx2", "openai")
    return importlib.import_module(chosen)


# -- the transports -------------------------------------------------------------------------------------------------
class _Pooled:
    """What the sync and async transports share: the pool, provider and origin, and the inner transport."""

    key_pool: KeyPool | None
    """The pool in use (None in passthrough: no keys were found, the caller's own credential goes out)."""
    provider: Provider
    origin: str
    """``scheme://host:port`` of the requests that get a managed key."""

    _binding: Binding | None
    _inner: Any
    _async: bool = False

    def __init__(
        self,
        provider: str | Provider,
        *,
        api_keys: Iterable[str | Key] | None = None,
        key_pool: KeyPool | None = None,
        base_url: str | None = None,
        transport: Any = None,
        on_event: EventCallback | Sequence[EventCallback] | None = None,
        settings: Settings | None = None,
        config: ConfigPath | None = None,
        strategy: Any = None,
    ) -> None:
        chosen = _provider(provider, _base({"base_url": base_url}))
        resolved = resolve_keys(chosen, api_keys, key_pool, settings, config, strategy)
        self._setup(chosen, resolved, _base({"base_url": base_url}), transport, on_event)

    def _setup(
        self,
        chosen: Provider,
        resolved: KeyPool | PoolPlan | None,
        base_url: str | None,
        transport: Any,
        on_event: EventCallback | Sequence[EventCallback] | None,
    ) -> None:
        url = _Origin(*_url_parts(base_url if base_url is not None else _default_base_url(chosen)))
        callbacks = listeners(on_event)
        method = "handle_async_request" if self._async else "handle_request"
        if transport is None:
            library = _choose_library(chosen, None)
            transport = library.AsyncHTTPTransport() if self._async else library.HTTPTransport()
        elif not callable(getattr(transport, method, None)):
            other = "KeyPoolTransport" if self._async else "AsyncKeyPoolTransport"
            raise ByokConfigError(f"transport {type(transport).__name__} has no {method}(); use {other} for it")
        self.provider = chosen
        self.origin = origin_text(url)
        self.key_pool = make_pool(resolved, chosen, url)
        self._binding = None
        if self.key_pool is not None:
            self._binding = Binding(self.key_pool, chosen, origin_of(url.scheme, url.host, url.port), callbacks)
        self._inner = transport
        # Marked as carrying the shell, so a byok client handed this transport does not wrap it a second time:
        # the client's own marked requests then fail over here, with the client's pool.
        self.__dict__[_MARK] = (None, None)

    @classmethod
    def _built(
        cls,
        chosen: Provider,
        resolved: KeyPool | PoolPlan | None,
        base_url: str | None,
        transport: Any,
        on_event: EventCallback | Sequence[EventCallback] | None,
    ) -> Self:
        """An instance from already-resolved keys, around ``transport`` (whose library decides the class)."""
        concrete = _concrete(cls, _choose_library(chosen, transport))
        made: Self = object.__new__(concrete)
        made._setup(chosen, resolved, base_url, transport, on_event)
        return made

    def _share(self, inner: Any) -> Self:
        """A transport of the same class, pool, provider and origin around another inner transport (a mount)."""
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin._inner = inner
        return twin

    @property
    def transport(self) -> Any:
        """The inner transport requests are sent with."""
        return self._inner

    def __repr__(self) -> str:
        mode = "passthrough" if self.key_pool is None else "pooled"
        name = type(self).__name__
        return f"<{name} {self.provider.name} {self.origin} {mode} over {type(self._inner).__name__}>"


def _concrete(public: type[Any], library: Any) -> type[Any]:
    """``public`` combined with the library's ``BaseTransport`` (or ``AsyncBaseTransport``), made once per library,
    so instances are real transports of the library they were built for."""
    cache: dict[str, type[Any]] = public.__dict__["_classes"]
    cls = cache.get(library.__name__)
    if cls is None:
        base = library.AsyncBaseTransport if public._async else library.BaseTransport
        namespace = {"__module__": public.__module__, "__qualname__": public.__qualname__}
        cls = cache[library.__name__] = type(public.__name__, (public, base), namespace)
    return cls


def _new(cls: type[Any], public: type[Any], provider: Any, kwargs: dict[str, Any]) -> Any:
    if cls is public:  # the public name: pick the library now, from transport= or the provider's SDK
        cls = _concrete(public, _choose_library(_provider(provider, _base(kwargs)), kwargs.get("transport")))
    return object.__new__(cls)


def _base(kwargs: dict[str, Any]) -> str | None:
    value = kwargs.get("base_url")
    return None if value is None else str(value)


class KeyPoolTransport(_Pooled, _SyncBases):
    """A sync httpx/httpx2 transport that injects a pool's keys into requests to the provider's origin and fails
    over between them per request, like ``byok_client.OpenAI``.

    ``provider`` is a name (``"openai"``, ``"anthropic"``, ``"gemini"``, ``"azure-openai"``, ``"groq"``...) or a
    ``Provider``. Keys come from ``api_keys`` or ``key_pool`` (else ``settings``, ``config`` and the environment,
    as for the clients; with none, requests pass through with the caller's own key). ``base_url`` is the API's
    address (default: the provider's, or its ``*_BASE_URL`` variable); only requests to its origin get a key.
    ``transport`` is the inner transport (default: ``HTTPTransport()`` of the library the provider's installed SDK
    uses); the instance is a ``BaseTransport`` of that same library. Raises ``ByokConfigError`` for bad input.
    """

    _classes: ClassVar[dict[str, type[Any]]] = {}

    def __new__(cls, provider: str | Provider, *args: Any, **kwargs: Any) -> Self:
        made: Self = _new(cls, KeyPoolTransport, provider, kwargs)
        return made

    def handle_request(self, request: Any) -> Any:
        """Send ``request``: with the pool's keys and failover when it goes to the pool's origin."""
        return _sync_send(self._inner.handle_request, request, self._binding)

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self._inner.__exit__(exc_type, exc_value, traceback)

    def close(self) -> None:
        """Close the inner transport."""
        self._inner.close()


class AsyncKeyPoolTransport(_Pooled, _AsyncBases):
    """The async twin of ``KeyPoolTransport``: an ``AsyncBaseTransport`` of the chosen library around
    ``transport`` (default: that library's ``AsyncHTTPTransport()``)."""

    _classes: ClassVar[dict[str, type[Any]]] = {}
    _async = True

    def __new__(cls, provider: str | Provider, *args: Any, **kwargs: Any) -> Self:
        made: Self = _new(cls, AsyncKeyPoolTransport, provider, kwargs)
        return made

    async def handle_async_request(self, request: Any) -> Any:
        """Send ``request``: with the pool's keys and failover when it goes to the pool's origin."""
        return await _async_send(self._inner.handle_async_request, request, self._binding)

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc_value, traceback)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()


# -- ready clients --------------------------------------------------------------------------------------------------
def _install_pooled(client: Any, pooled: _Pooled) -> Any:
    """Route every transport of ``client`` (``pooled`` wraps its default one; each mount, e.g. a proxy, gets a
    twin) through ``pooled``'s pool."""
    client._transport = pooled
    for pattern, transport in list(client._mounts.items()):
        if transport is not None:
            client._mounts[pattern] = pooled._share(transport)
    return client


def _prepare(
    chosen: Provider,
    base_url: str | None,
    client_kwargs: dict[str, Any],
    *keys: Any,
) -> tuple[Any, KeyPool | PoolPlan | None]:
    """The HTTP library and the resolved keys, checked before a client exists (so bad input leaks none)."""
    library = _choose_library(chosen, client_kwargs.get("transport"))
    address = base_url if base_url is not None else _default_base_url(chosen)
    _url_parts(address)
    resolved = resolve_keys(chosen, *keys)
    # The client's base URL too, so `client.post("/chat/completions")` works; SDKs send absolute URLs anyway.
    client_kwargs.setdefault("base_url", address)
    return library, resolved


def http_client(
    provider: str | Provider,
    *,
    api_keys: Iterable[str | Key] | None = None,
    key_pool: KeyPool | None = None,
    base_url: str | None = None,
    on_event: EventCallback | Sequence[EventCallback] | None = None,
    settings: Settings | None = None,
    config: ConfigPath | None = None,
    strategy: Any = None,
    **client_kwargs: Any,
) -> Any:
    """A ready sync ``Client`` (httpx2 or httpx: the library the provider's installed SDK uses, or that of
    ``transport=``) whose requests to the provider get the pool's keys and failover; hand it to any code that
    takes an HTTP client (``ChatOpenAI(http_client=...)``). ``client_kwargs`` go to the client's constructor
    (``timeout``, ``proxy``, ``verify``, ``transport`` as the inner transport...); its own transports, proxy mounts
    included, are wrapped, so they behave as the library built them. ``base_url`` (default: the provider's) is also
    the client's, unless ``client_kwargs`` name another."""
    chosen = _provider(provider, None if base_url is None else str(base_url))
    library, resolved = _prepare(chosen, base_url, client_kwargs, api_keys, key_pool, settings, config, strategy)
    client = library.Client(**client_kwargs)
    return _install_pooled(client, KeyPoolTransport._built(chosen, resolved, base_url, client._transport, on_event))


def async_http_client(
    provider: str | Provider,
    *,
    api_keys: Iterable[str | Key] | None = None,
    key_pool: KeyPool | None = None,
    base_url: str | None = None,
    on_event: EventCallback | Sequence[EventCallback] | None = None,
    settings: Settings | None = None,
    config: ConfigPath | None = None,
    strategy: Any = None,
    **client_kwargs: Any,
) -> Any:
    """The async twin of ``http_client``: a ready ``AsyncClient`` (``ChatOpenAI(http_async_client=...)``)."""
    chosen = _provider(provider, None if base_url is None else str(base_url))
    library, resolved = _prepare(chosen, base_url, client_kwargs, api_keys, key_pool, settings, config, strategy)
    client = library.AsyncClient(**client_kwargs)
    return _install_pooled(
        client, AsyncKeyPoolTransport._built(chosen, resolved, base_url, client._transport, on_event)
    )
