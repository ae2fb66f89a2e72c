"""``byok_client.OpenAI`` / ``AsyncOpenAI``: the openai SDK's clients with a managed key pool."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

import httpx2
import openai
from httpx2 import Timeout
from openai._client import _Provider
from openai._constants import DEFAULT_MAX_RETRIES
from openai._data_residency import DataResidency
from openai._types import NotGiven, not_given
from openai.auth import WorkloadIdentity, X509WorkloadIdentity
from typing_extensions import override

from .._pool import KeyPool
from ..core.keys import Key
from ..providers.base import PLACEHOLDER_KEY, Provider
from ..providers.openai import openai_provider_for
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

__all__ = ["AsyncOpenAI", "OpenAI"]


def provider_for_base_url(base_url: str | httpx2.URL | NotGiven | None) -> Provider:
    """The provider an OpenAI-SDK client talks to, from its base URL (or ``OPENAI_BASE_URL``): OpenAI, Azure OpenAI
    or a known OpenAI-compatible host. It decides the key env variables and how errors read."""
    if isinstance(base_url, NotGiven) or base_url is None:
        base_url = os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
    url = httpx2.URL(base_url) if isinstance(base_url, str) else base_url
    return openai_provider_for(url.host, url.port)


def _sdk_key(resolved: object, api_key: Any, workload_identity: object, provider: object) -> Any:
    # Managed keys stand in for the SDK's own, so its constructor must not demand OPENAI_API_KEY.
    if resolved is not None and api_key is None and workload_identity is None and provider is None:
        return PLACEHOLDER_KEY
    return api_key


class OpenAI(ByokClientMixin, openai.OpenAI):
    """``openai.OpenAI`` with a pool of API keys, injected and failed over per request.

    Takes every ``openai.OpenAI`` argument, plus ``api_keys`` (keys tried in order) or ``key_pool`` (a shared
    ``KeyPool``), ``settings`` (a ``byok_client.Settings``) and ``config`` (a YAML/TOML config file). Without them,
    keys come from ``BYOK_OPENAI__API_KEYS``, ``BYOK_CONFIG``, then ``OPENAI_API_KEYS`` or ``OPENAI_API_KEY_1..N``
    (each OpenAI-compatible host has its own names); with no keys at all the client behaves exactly like
    ``openai.OpenAI``. ``key_pool`` is the pool in use (None in passthrough). Raises ``ByokConfigError`` for
    invalid keys, settings or config.
    """

    def __init__(
        self,
        *,
        api_key: str | Callable[[], str] | None = None,
        admin_api_key: str | None = None,
        workload_identity: WorkloadIdentity | X509WorkloadIdentity | None = None,
        organization: str | None = None,
        project: str | None = None,
        webhook_secret: str | None = None,
        provider: _Provider | None = None,
        base_url: str | httpx2.URL | NotGiven | None = not_given,
        data_residency: DataResidency | None = None,
        websocket_base_url: str | httpx2.URL | None = None,
        timeout: float | Timeout | NotGiven | None = not_given,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        http_client: httpx2.Client | None = None,
        _strict_response_validation: bool = False,
        _enforce_credentials: bool = True,
        api_keys: Iterable[str | Key] | None = None,
        key_pool: KeyPool | None = None,
        settings: Settings | None = None,
        config: ConfigPath | None = None,
        strategy: Any = None,
        on_event: EventCallback | Sequence[EventCallback] | None = None,
    ) -> None:
        self._byok_provider = provider_for_base_url(base_url)
        resolved = resolve_keys(self._byok_provider, api_keys, key_pool, settings, config, strategy)
        self._byok_binding = None
        self._byok_listeners = listeners(on_event)
        super().__init__(
            api_key=_sdk_key(resolved, api_key, workload_identity, provider),
            admin_api_key=admin_api_key,
            workload_identity=workload_identity,
            organization=organization,
            project=project,
            webhook_secret=webhook_secret,
            provider=provider,
            base_url=base_url,
            data_residency=data_residency,
            websocket_base_url=websocket_base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            default_query=default_query,
            http_client=http_client,
            _strict_response_validation=_strict_response_validation,
            _enforce_credentials=_enforce_credentials,
        )
        self.key_pool = make_pool(resolved, self._byok_provider, self.base_url)
        install(self._client)

    @override
    def _prepare_request(self, request: httpx2.Request) -> None:
        super()._prepare_request(request)
        self._byok_bind(request, self._base_url)  # the attribute behind the SDK's base_url property

    @override
    def copy(
        self,
        *,
        api_key: str | Callable[[], str] | None = None,
        admin_api_key: str | None = None,
        workload_identity: WorkloadIdentity | X509WorkloadIdentity | None = None,
        provider: _Provider | NotGiven | None = not_given,
        organization: str | None = None,
        project: str | None = None,
        webhook_secret: str | None = None,
        websocket_base_url: str | httpx2.URL | None = None,
        base_url: str | httpx2.URL | NotGiven | None = not_given,
        data_residency: DataResidency | None = None,
        timeout: float | Timeout | NotGiven | None = not_given,
        http_client: httpx2.Client | None = None,
        max_retries: int | NotGiven = not_given,
        default_headers: Mapping[str, str] | None = None,
        set_default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        set_default_query: Mapping[str, object] | None = None,
        _enforce_credentials: bool | None = None,
        _extra_kwargs: Mapping[str, Any] = {},
        api_keys: Iterable[str | Key] | None = None,
        key_pool: KeyPool | None = None,
        settings: Settings | None = None,
        config: ConfigPath | None = None,
        strategy: Any = None,
        on_event: EventCallback | Sequence[EventCallback] | None = None,
    ) -> Self:
        """Like ``openai.OpenAI.copy``; the copy keeps this client's pool unless ``api_keys`` or ``key_pool``
        is given."""
        extra = carry_pool(self, api_keys, key_pool, _extra_kwargs, settings, config, strategy, on_event)
        copied = super().copy(
            api_key=api_key,
            admin_api_key=admin_api_key,
            workload_identity=workload_identity,
            provider=provider,
            organization=organization,
            project=project,
            webhook_secret=webhook_secret,
            websocket_base_url=websocket_base_url,
            base_url=base_url,
            data_residency=data_residency,
            timeout=timeout,
            http_client=http_client,
            max_retries=max_retries,
            default_headers=default_headers,
            set_default_headers=set_default_headers,
            default_query=default_query,
            set_default_query=set_default_query,
            _enforce_credentials=_enforce_credentials,
            _extra_kwargs=extra,
        )
        return passthrough_stays(self, copied, extra)

    with_options = copy


class AsyncOpenAI(ByokClientMixin, openai.AsyncOpenAI):
    """``openai.AsyncOpenAI`` with a pool of API keys; see ``byok_client.OpenAI``."""

    def __init__(
        self,
        *,
        api_key: str | Callable[[], Awaitable[str]] | None = None,
        admin_api_key: str | None = None,
        workload_identity: WorkloadIdentity | X509WorkloadIdentity | None = None,
        organization: str | None = None,
        project: str | None = None,
        webhook_secret: str | None = None,
        provider: _Provider | None = None,
        base_url: str | httpx2.URL | NotGiven | None = not_given,
        data_residency: DataResidency | None = None,
        websocket_base_url: str | httpx2.URL | None = None,
        timeout: float | Timeout | NotGiven | None = not_given,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        http_client: httpx2.AsyncClient | None = None,
        _strict_response_validation: bool = False,
        _enforce_credentials: bool = True,
        api_keys: Iterable[str | Key] | None = None,
        key_pool: KeyPool | None = None,
        settings: Settings | None = None,
        config: ConfigPath | None = None,
        strategy: Any = None,
        on_event: EventCallback | Sequence[EventCallback] | None = None,
    ) -> None:
        self._byok_provider = provider_for_base_url(base_url)
        resolved = resolve_keys(self._byok_provider, api_keys, key_pool, settings, config, strategy)
        self._byok_binding = None
        self._byok_listeners = listeners(on_event)
        super().__init__(
            api_key=_sdk_key(resolved, api_key, workload_identity, provider),
            admin_api_key=admin_api_key,
            workload_identity=workload_identity,
            organization=organization,
            project=project,
            webhook_secret=webhook_secret,
            provider=provider,
            base_url=base_url,
            data_residency=data_residency,
            websocket_base_url=websocket_base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            default_query=default_query,
            http_client=http_client,
            _strict_response_validation=_strict_response_validation,
            _enforce_credentials=_enforce_credentials,
        )
        self.key_pool = make_pool(resolved, self._byok_provider, self.base_url)
        install(self._client)

    @override
    async def _prepare_request(self, request: httpx2.Request) -> None:
        await super()._prepare_request(request)
        self._byok_bind(request, self._base_url)  # the attribute behind the SDK's base_url property

    @override
    def copy(
        self,
        *,
        api_key: str | Callable[[], Awaitable[str]] | None = None,
        admin_api_key: str | None = None,
        workload_identity: WorkloadIdentity | X509WorkloadIdentity | None = None,
        provider: _Provider | NotGiven | None = not_given,
        organization: str | None = None,
        project: str | None = None,
        webhook_secret: str | None = None,
        websocket_base_url: str | httpx2.URL | None = None,
        base_url: str | httpx2.URL | NotGiven | None = not_given,
        data_residency: DataResidency | None = None,
        timeout: float | Timeout | NotGiven | None = not_given,
        http_client: httpx2.AsyncClient | None = None,
        max_retries: int | NotGiven = not_given,
        default_headers: Mapping[str, str] | None = None,
        set_default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        set_default_query: Mapping[str, object] | None = None,
        _enforce_credentials: bool | None = None,
        _extra_kwargs: Mapping[str, Any] = {},
        api_keys: Iterable[str | Key] | None = None,
        key_pool: KeyPool | None = None,
        settings: Settings | None = None,
        config: ConfigPath | None = None,
        strategy: Any = None,
        on_event: EventCallback | Sequence[EventCallback] | None = None,
    ) -> Self:
        """Like ``openai.AsyncOpenAI.copy``; the copy keeps this client's pool unless ``api_keys`` or
        ``key_pool`` is given."""
        extra = carry_pool(self, api_keys, key_pool, _extra_kwargs, settings, config, strategy, on_event)
        copied = super().copy(
            api_key=api_key,
            admin_api_key=admin_api_key,
            workload_identity=workload_identity,
            provider=provider,
            organization=organization,
            project=project,
            webhook_secret=webhook_secret,
            websocket_base_url=websocket_base_url,
            base_url=base_url,
            data_residency=data_residency,
            timeout=timeout,
            http_client=http_client,
            max_retries=max_retries,
            default_headers=default_headers,
            set_default_headers=set_default_headers,
            default_query=default_query,
            set_default_query=set_default_query,
            _enforce_credentials=_enforce_credentials,
            _extra_kwargs=extra,
        )
        return passthrough_stays(self, copied, extra)

    with_options = copy
