"""``from byok_client import genai``: ``genai.Client`` is ``google.genai.Client`` with a managed key pool.

``genai.types`` and ``genai.errors`` are google-genai's own modules, so code written for ``from google import
genai`` keeps working after changing only the import.
"""

from __future__ import annotations

import importlib
import os
import secrets
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

from ._binding import TOKEN_PREFIX, TOKENS, Binding, origin_of
from ._pool import KeyPool
from .clients import _lines
from .clients._common import (
    ByokClientMixin,
    ConfigPath,
    CooldownScope,
    EventCallback,
    OnExhausted,
    PoolOptions,
    Settings,
    listeners,
    make_pool,
    resolve_keys,
    url_parts,
)
from .core.keys import Key
from .providers.base import CREDENTIAL_HEADERS
from .providers.gemini import GeminiProvider
from .transports import install, wrap_transport

_LINE = _lines.adapter("google-genai")  # before importing google.genai: an unsupported release gets a clear error

from google import genai as _genai  # noqa: E402
from google.genai import errors, types  # noqa: E402
from google.genai._api_client import BaseApiClient  # noqa: E402

__all__ = ["Client", "errors", "types"]

_PROVIDER = GeminiProvider()
_TRANSPORT_ARGS = ("verify", "cert", "trust_env", "http1", "http2", "limits")


def _vertex_mode(enterprise: bool | None, vertexai: bool | None) -> bool:
    chosen = enterprise if enterprise is not None else vertexai
    if chosen is None:
        chosen = os.environ.get("GOOGLE_GENAI_USE_VERTEXAI", "").lower() in ("1", "true")
    return bool(chosen)


def _with_transports(http_options: types.HttpOptions | types.HttpOptionsDict | None) -> types.HttpOptions:
    """A copy of the user's http options whose sync and async client args carry our transport.

    Setting the async transport also keeps google-genai on httpx2 instead of aiohttp, which would bypass us.
    The inner transports are built from the same args (TLS context included) google-genai would use.
    """
    if isinstance(http_options, types.HttpOptions):
        options = http_options.model_copy()
    else:
        options = types.HttpOptions.model_validate(http_options or {})
    if options.headers:
        # A credential header of the user's own would replace the placeholder and bypass the pool.
        options.headers = {k: v for k, v in options.headers.items() if k.lower() not in CREDENTIAL_HEADERS}
    if options.httpx_client is not None and options.httpx_async_client is not None:
        return options  # the user's clients: wrapped after construction
    # The library the SDK will build its clients with: the inner transports must be of that library.
    http: Any = importlib.import_module(_LINE.backend(options))
    sync_args, async_args = BaseApiClient._ensure_httpx_ssl_ctx(options)
    sync_args, async_args = dict(sync_args or {}), dict(async_args or {})
    if options.httpx_client is None:
        inner = sync_args.get("transport") or http.HTTPTransport(
            **{k: sync_args[k] for k in _TRANSPORT_ARGS if k in sync_args}
        )
        options.client_args = {**sync_args, "transport": wrap_transport(inner)}
    if options.httpx_async_client is None:
        inner = async_args.get("transport") or http.AsyncHTTPTransport(
            **{k: async_args[k] for k in _TRANSPORT_ARGS if k in async_args}
        )
        options.async_client_args = {**async_args, "transport": wrap_transport(inner)}
    return options


class Client(ByokClientMixin, _genai.Client):
    """``google.genai.Client`` with a pool of API keys, injected and failed over per request, sync and async
    (``client.aio``), also when aiohttp is installed.

    Takes every ``google.genai.Client`` argument plus ``api_keys`` or ``key_pool``, ``settings`` and ``config``;
    without them, keys come from ``BYOK_GEMINI__API_KEYS``, ``BYOK_CONFIG``, then ``GEMINI_API_KEYS`` /
    ``GOOGLE_API_KEYS`` or ``GEMINI_API_KEY_1..N`` / ``GOOGLE_API_KEY_1..N``. With no keys, or
    in Vertex AI mode without ``api_keys``, the client behaves exactly like ``google.genai.Client``. Whatever the
    user put in ``http_options`` is kept. Raises ``ByokConfigError`` for invalid keys.
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str | Key] | None = None,
        key_pool: KeyPool | None = None,
        settings: Settings | None = None,
        config: ConfigPath | None = None,
        strategy: Any = None,
        on_event: EventCallback | Sequence[EventCallback] | None = None,
        cooldown_scope: CooldownScope | None = None,
        allowed_origins: Iterable[str] | None = None,
        state: Any = None,
        on_exhausted: OnExhausted | None = None,
        max_wait: float | None = None,
        **kwargs: Any,
    ) -> None:
        self._byok_provider = _PROVIDER
        options = PoolOptions(cooldown_scope, allowed_origins, state, on_exhausted, max_wait)
        self._byok_binding = None
        self._byok_listeners = listeners(on_event)
        explicit = api_keys is not None or key_pool is not None
        resolved = None
        if explicit or not _vertex_mode(kwargs.get("enterprise"), kwargs.get("vertexai")):
            resolved = resolve_keys(_PROVIDER, api_keys, key_pool, settings, config, strategy, options)
        token: str | None = None
        if resolved is not None:
            token = TOKEN_PREFIX + secrets.token_hex(12)
            kwargs["api_key"] = token
            kwargs["http_options"] = _with_transports(kwargs.get("http_options"))
        super().__init__(**kwargs)
        self.key_pool = None
        if resolved is None or token is None:
            return
        api_client: Any = self._api_client
        base = types.HttpOptions.model_validate(api_client._http_options).base_url or ""
        url = url_parts(base)
        self.key_pool = make_pool(resolved, _PROVIDER, url)
        assert self.key_pool is not None
        origin = origin_of(url.scheme, url.host, url.port)
        TOKENS.register(token, Binding(self.key_pool, _PROVIDER, origin, self._byok_listeners))
        # `genai.Client(...).aio` outlives the Client but shares its API client: the token lives as long as that.
        weakref.finalize(api_client, TOKENS.unregister, token)
        for http_client in (
            getattr(api_client, "_httpx_client", None),
            getattr(api_client, "_async_httpx_client", None),
        ):
            if http_client is not None:  # the SDK's clients or the user's own: wrapped the same way
                install(http_client)


_lines.merge_signature(Client.__init__, _genai.Client.__init__)
