"""``byok_client.OpenAI`` / ``AsyncOpenAI``: the openai SDK's clients with a managed key pool.

The classes are generic over the supported openai lines (1.x, 2.x, 3.x): they take byok_client's arguments and
pass every other keyword to the SDK untouched, and advertise the installed SDK's exact signature. What differs
between lines lives in ``byok_client.clients._lines.openai_v<major>``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

from typing_extensions import override

from .._pool import KeyPool
from ..core.keys import Key
from ..providers.base import Provider
from ..providers.openai import openai_provider_for
from ..transports import install
from . import _lines
from ._common import (
    ByokClientMixin,
    ConfigPath,
    CooldownScope,
    EventCallback,
    OnExhausted,
    PoolOptions,
    Settings,
    carry_pool,
    listeners,
    make_pool,
    passthrough_stays,
    resolve_keys,
    sdk_api_key,
    url_parts,
)

_LINE = _lines.adapter("openai")  # before importing openai: an unsupported release gets the clear error

import openai  # noqa: E402

__all__ = ["AsyncOpenAI", "OpenAI"]


def provider_for_base_url(base_url: object) -> Provider:
    """The provider an OpenAI-SDK client talks to, from its base URL (or ``OPENAI_BASE_URL``): OpenAI, Azure OpenAI
    or a known OpenAI-compatible host. It decides the key env variables and how errors read."""
    if not isinstance(base_url, str) and not hasattr(base_url, "host"):  # None or the SDK's NotGiven
        base_url = os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
    url = url_parts(base_url)
    return openai_provider_for(url.host, url.port)


class OpenAI(ByokClientMixin, openai.OpenAI):
    """``openai.OpenAI`` with a pool of API keys, injected and failed over per request.

    Takes every ``openai.OpenAI`` argument of the installed release, plus ``api_keys`` (keys tried in order) or
    ``key_pool`` (a shared ``KeyPool``), ``settings`` (a ``byok_client.Settings``) and ``config`` (a YAML/TOML
    config file). Without them, keys come from ``BYOK_OPENAI__API_KEYS``, ``BYOK_CONFIG``, then ``OPENAI_API_KEYS``
    or ``OPENAI_API_KEY_1..N`` (each OpenAI-compatible host has its own names); with no keys at all the client
    behaves exactly like ``openai.OpenAI``. ``key_pool`` is the pool in use (None in passthrough). Raises
    ``ByokConfigError`` for invalid keys, settings or config.
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
        self._byok_provider = provider_for_base_url(kwargs.get("base_url"))
        options = PoolOptions(cooldown_scope, allowed_origins, state, on_exhausted, max_wait)
        resolved = resolve_keys(self._byok_provider, api_keys, key_pool, settings, config, strategy, options)
        self._byok_binding = None
        self._byok_listeners = listeners(on_event)
        kwargs["api_key"] = sdk_api_key(resolved, kwargs, _LINE.CREDENTIAL_ARGS)
        super().__init__(**kwargs)
        self.key_pool = make_pool(resolved, self._byok_provider, self.base_url)
        self._byok_remember(self.base_url, settings, config, strategy, options)
        install(self._client)

    @override
    def _byok_provider_for(self, base_url: Any) -> Provider:
        return provider_for_base_url(base_url)

    @override
    def _prepare_request(self, request: Any) -> None:
        super()._prepare_request(request)
        self._byok_bind(request, self._base_url)  # the attribute behind the SDK's base_url property

    @override
    def copy(
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
        _extra_kwargs: Mapping[str, Any] = {},
        **kwargs: Any,
    ) -> Self:
        """Like ``openai.OpenAI.copy``; the copy keeps this client's pool unless ``api_keys`` or ``key_pool``
        is given."""
        extra = carry_pool(
            self,
            api_keys,
            key_pool,
            _extra_kwargs,
            settings,
            config,
            strategy,
            on_event,
            PoolOptions(cooldown_scope, allowed_origins, state, on_exhausted, max_wait),
            kwargs.get("base_url"),
        )
        copied = super().copy(_extra_kwargs=extra, **kwargs)
        return passthrough_stays(self, copied, extra)

    with_options = copy


class AsyncOpenAI(ByokClientMixin, openai.AsyncOpenAI):
    """``openai.AsyncOpenAI`` with a pool of API keys; see ``byok_client.OpenAI``."""

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
        self._byok_provider = provider_for_base_url(kwargs.get("base_url"))
        options = PoolOptions(cooldown_scope, allowed_origins, state, on_exhausted, max_wait)
        resolved = resolve_keys(self._byok_provider, api_keys, key_pool, settings, config, strategy, options)
        self._byok_binding = None
        self._byok_listeners = listeners(on_event)
        kwargs["api_key"] = sdk_api_key(resolved, kwargs, _LINE.CREDENTIAL_ARGS)
        super().__init__(**kwargs)
        self.key_pool = make_pool(resolved, self._byok_provider, self.base_url)
        self._byok_remember(self.base_url, settings, config, strategy, options)
        install(self._client)

    @override
    def _byok_provider_for(self, base_url: Any) -> Provider:
        return provider_for_base_url(base_url)

    @override
    async def _prepare_request(self, request: Any) -> None:
        await super()._prepare_request(request)
        self._byok_bind(request, self._base_url)  # the attribute behind the SDK's base_url property

    @override
    def copy(
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
        _extra_kwargs: Mapping[str, Any] = {},
        **kwargs: Any,
    ) -> Self:
        """Like ``openai.AsyncOpenAI.copy``; the copy keeps this client's pool unless ``api_keys`` or
        ``key_pool`` is given."""
        extra = carry_pool(
            self,
            api_keys,
            key_pool,
            _extra_kwargs,
            settings,
            config,
            strategy,
            on_event,
            PoolOptions(cooldown_scope, allowed_origins, state, on_exhausted, max_wait),
            kwargs.get("base_url"),
        )
        copied = super().copy(_extra_kwargs=extra, **kwargs)
        return passthrough_stays(self, copied, extra)

    with_options = copy


for _ours, _sdk in ((OpenAI, openai.OpenAI), (AsyncOpenAI, openai.AsyncOpenAI)):
    _lines.merge_signature(_ours.__init__, _sdk.__init__)
    _lines.merge_signature(_ours.copy, _sdk.copy)
