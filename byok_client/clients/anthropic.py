"""``byok_client.Anthropic`` / ``AsyncAnthropic``: the anthropic SDK's clients with a managed key pool."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

import anthropic
import anthropic._client as _sdk_client
import httpx2
from anthropic._constants import DEFAULT_MAX_RETRIES
from anthropic._middleware import MiddlewareInput
from anthropic._types import NotGiven, OpenTelemetryClientOption, not_given
from anthropic.lib.credentials import AccessTokenProvider, AsyncAccessTokenProvider, TokenCache
from httpx2 import Timeout
from typing_extensions import override

from .._pool import KeyPool
from ..core.keys import Key
from ..providers.anthropic import AnthropicProvider
from ..providers.base import PLACEHOLDER_KEY
from ..transports import install
from ._common import (
    ByokClientMixin,
    ConfigPath,
    carry_pool,
    listeners,
    make_pool,
    passthrough_stays,
    resolve_keys,
)

if TYPE_CHECKING:
    from ..events import EventCallback
    from ..settings import Settings

__all__ = ["Anthropic", "AsyncAnthropic"]

_PROVIDER = AnthropicProvider()


def _split_config(config: Mapping[str, Any] | ConfigPath | None) -> tuple[Mapping[str, Any] | None, ConfigPath | None]:
    """anthropic's own ``config`` is a mapping (credentials); a path is byok_client's config file."""
    if isinstance(config, str | os.PathLike):
        return None, config
    return config, None


def _sdk_key(resolved: object, api_key: str | None, *explicit: object) -> str | None:
    # With managed keys, an explicit placeholder also stops the SDK's own credential discovery (env, profiles).
    if resolved is not None and api_key is None and all(e is None for e in explicit):
        return PLACEHOLDER_KEY
    return api_key


class Anthropic(ByokClientMixin, anthropic.Anthropic):
    """``anthropic.Anthropic`` with a pool of API keys, injected and failed over per request.

    Takes every ``anthropic.Anthropic`` argument plus ``api_keys`` or ``key_pool`` and ``settings``; ``config``
    keeps the SDK's meaning for a mapping and names byok_client's config file for a path. Without them, keys come
    from ``BYOK_ANTHROPIC__API_KEYS``, ``BYOK_CONFIG``, then ``ANTHROPIC_API_KEYS`` or ``ANTHROPIC_API_KEY_1..N``;
    with none, the SDK's own key or auth token is used untouched. Raises ``ByokConfigError`` for invalid keys,
    settings or config.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        auth_token: str | None = None,
        credentials: AccessTokenProvider | None = None,
        config: Mapping[str, Any] | ConfigPath | None = None,
        profile: str | None = None,
        webhook_key: str | None = None,
        base_url: str | httpx2.URL | None = None,
        timeout: float | Timeout | NotGiven | None = not_given,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        open_telemetry: OpenTelemetryClientOption = None,
        http_client: httpx2.Client | None = None,
        middleware: Sequence[MiddlewareInput] | None = None,
        _strict_response_validation: bool = False,
        _token_cache: TokenCache | NotGiven | None = not_given,
        api_keys: Iterable[str | Key] | None = None,
        key_pool: KeyPool | None = None,
        settings: Settings | None = None,
        strategy: Any = None,
        on_event: EventCallback | Sequence[EventCallback] | None = None,
    ) -> None:
        self._byok_provider = _PROVIDER
        sdk_config, byok_config = _split_config(config)
        resolved = resolve_keys(_PROVIDER, api_keys, key_pool, settings, byok_config, strategy)
        self._byok_binding = None
        self._byok_listeners = listeners(on_event)
        super().__init__(
            api_key=_sdk_key(resolved, api_key, auth_token, credentials, sdk_config, profile),
            auth_token=auth_token,
            credentials=credentials,
            config=sdk_config,
            profile=profile,
            webhook_key=webhook_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            default_query=default_query,
            open_telemetry=open_telemetry,
            http_client=http_client,
            middleware=middleware,
            _strict_response_validation=_strict_response_validation,
            _token_cache=_token_cache,
        )
        self.key_pool = make_pool(resolved, _PROVIDER, self.base_url)
        install(self._client)

    @override
    def _prepare_request(self, request: httpx2.Request) -> None:
        super()._prepare_request(request)
        self._byok_bind(request, self._base_url)  # the attribute behind the SDK's base_url property

    @override
    def copy(
        self,
        *,
        api_key: str | None = None,
        auth_token: str | None = None,
        credentials: AccessTokenProvider | NotGiven | None = not_given,
        config: Mapping[str, Any] | ConfigPath | None = None,
        profile: str | None = None,
        webhook_key: str | None = None,
        base_url: str | httpx2.URL | None = None,
        timeout: float | Timeout | NotGiven | None = not_given,
        http_client: httpx2.Client | None = None,
        max_retries: int | NotGiven = not_given,
        open_telemetry: OpenTelemetryClientOption = None,
        default_headers: Mapping[str, str] | None = None,
        set_default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        set_default_query: Mapping[str, object] | None = None,
        middleware: Sequence[MiddlewareInput] | NotGiven | None = not_given,
        _extra_kwargs: Mapping[str, Any] = {},
        api_keys: Iterable[str | Key] | None = None,
        key_pool: KeyPool | None = None,
        settings: Settings | None = None,
        strategy: Any = None,
        on_event: EventCallback | Sequence[EventCallback] | None = None,
    ) -> Self:
        """Like ``anthropic.Anthropic.copy``; the copy keeps this client's pool unless ``api_keys`` or
        ``key_pool`` is given."""
        sdk_config, byok_config = _split_config(config)
        extra = carry_pool(self, api_keys, key_pool, _extra_kwargs, settings, byok_config, strategy, on_event)
        copied = super().copy(
            api_key=api_key,
            auth_token=auth_token,
            credentials=credentials,
            config=sdk_config,
            profile=profile,
            webhook_key=webhook_key,
            base_url=base_url,
            timeout=timeout,
            http_client=http_client,
            max_retries=max_retries,
            open_telemetry=open_telemetry,
            default_headers=default_headers,
            set_default_headers=set_default_headers,
            default_query=default_query,
            set_default_query=set_default_query,
            middleware=middleware,
            _extra_kwargs=extra,
        )
        return passthrough_stays(self, copied, extra)

    with_options = copy


class AsyncAnthropic(ByokClientMixin, anthropic.AsyncAnthropic):
    """``anthropic.AsyncAnthropic`` with a pool of API keys; see ``byok_client.Anthropic``."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        auth_token: str | None = None,
        credentials: AccessTokenProvider | AsyncAccessTokenProvider | None = None,
        config: Mapping[str, Any] | ConfigPath | None = None,
        profile: str | None = None,
        webhook_key: str | None = None,
        base_url: str | httpx2.URL | None = None,
        timeout: float | Timeout | NotGiven | None = not_given,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        open_telemetry: OpenTelemetryClientOption = None,
        http_client: httpx2.AsyncClient | None = None,
        middleware: Sequence[MiddlewareInput] | None = None,
        _strict_response_validation: bool = False,
        _token_cache: TokenCache | NotGiven | None = not_given,
        api_keys: Iterable[str | Key] | None = None,
        key_pool: KeyPool | None = None,
        settings: Settings | None = None,
        strategy: Any = None,
        on_event: EventCallback | Sequence[EventCallback] | None = None,
    ) -> None:
        self._byok_provider = _PROVIDER
        sdk_config, byok_config = _split_config(config)
        resolved = resolve_keys(_PROVIDER, api_keys, key_pool, settings, byok_config, strategy)
        self._byok_binding = None
        self._byok_listeners = listeners(on_event)
        super().__init__(
            api_key=_sdk_key(resolved, api_key, auth_token, credentials, sdk_config, profile),
            auth_token=auth_token,
            credentials=credentials,
            config=sdk_config,
            profile=profile,
            webhook_key=webhook_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            default_query=default_query,
            open_telemetry=open_telemetry,
            http_client=http_client,
            middleware=middleware,
            _strict_response_validation=_strict_response_validation,
            _token_cache=_token_cache,
        )
        self.key_pool = make_pool(resolved, _PROVIDER, self.base_url)
        install(self._client)

    @override
    async def _prepare_request(self, request: httpx2.Request) -> None:
        await super()._prepare_request(request)
        self._byok_bind(request, self._base_url)  # the attribute behind the SDK's base_url property

    @override
    def copy(
        self,
        *,
        api_key: str | None = None,
        auth_token: str | None = None,
        credentials: AccessTokenProvider | AsyncAccessTokenProvider | NotGiven | None = not_given,
        config: Mapping[str, Any] | ConfigPath | None = None,
        profile: str | None = None,
        webhook_key: str | None = None,
        base_url: str | httpx2.URL | None = None,
        timeout: float | Timeout | NotGiven | None = not_given,
        http_client: httpx2.AsyncClient | None = None,
        max_retries: int | NotGiven = not_given,
        open_telemetry: OpenTelemetryClientOption = None,
        default_headers: Mapping[str, str] | None = None,
        set_default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        set_default_query: Mapping[str, object] | None = None,
        middleware: Sequence[MiddlewareInput] | NotGiven | None = not_given,
        _extra_kwargs: Mapping[str, Any] = {},
        api_keys: Iterable[str | Key] | None = None,
        key_pool: KeyPool | None = None,
        settings: Settings | None = None,
        strategy: Any = None,
        on_event: EventCallback | Sequence[EventCallback] | None = None,
    ) -> Self:
        """Like ``anthropic.AsyncAnthropic.copy``; the copy keeps this client's pool unless ``api_keys`` or
        ``key_pool`` is given."""
        sdk_config, byok_config = _split_config(config)
        extra = carry_pool(self, api_keys, key_pool, _extra_kwargs, settings, byok_config, strategy, on_event)
        copied = super().copy(
            api_key=api_key,
            auth_token=auth_token,
            credentials=credentials,
            config=sdk_config,
            profile=profile,
            webhook_key=webhook_key,
            base_url=base_url,
            timeout=timeout,
            http_client=http_client,
            max_retries=max_retries,
            open_telemetry=open_telemetry,
            default_headers=default_headers,
            set_default_headers=set_default_headers,
            default_query=default_query,
            set_default_query=set_default_query,
            middleware=middleware,
            _extra_kwargs=extra,
        )
        return passthrough_stays(self, copied, extra)

    with_options = copy


# The SDK runs its credential chain (profiles, workload identity) and hands credentials to copies only for
# `type(client) in (Anthropic, AsyncAnthropic)`; our subclasses are drop-ins, so they count as those too.
_sdk_is_base_client = _sdk_client._is_base_client


def _is_base_client(client: object) -> bool:
    return _sdk_is_base_client(client) or type(client) in (Anthropic, AsyncAnthropic)


_sdk_client._is_base_client = _is_base_client
