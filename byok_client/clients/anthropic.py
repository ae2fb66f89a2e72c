"""``byok_client.Anthropic`` / ``AsyncAnthropic``: the anthropic SDK's clients with a managed key pool.

The classes are generic over the supported anthropic lines (0.x, 1.x, 2.x): they take byok_client's arguments and
pass every other keyword to the SDK untouched, and advertise the installed SDK's exact signature. What differs
between lines lives in ``byok_client.clients._lines.anthropic_v<major>``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

from typing_extensions import override

from .._pool import KeyPool
from ..core.keys import Key
from ..providers.anthropic import AnthropicProvider
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
)

_LINE = _lines.adapter("anthropic")  # before importing anthropic: an unsupported release gets the clear error

import anthropic  # noqa: E402

__all__ = ["Anthropic", "AsyncAnthropic"]

_PROVIDER = AnthropicProvider()


def _split_config(config: Mapping[str, Any] | ConfigPath | None, kwargs: dict[str, Any]) -> ConfigPath | None:
    """anthropic's own ``config`` is a mapping (credentials) and goes to the SDK in ``kwargs``; a path is
    byok_client's config file, returned."""
    if isinstance(config, str | os.PathLike):
        return config
    if config is not None:
        kwargs["config"] = config
    return None


class Anthropic(ByokClientMixin, anthropic.Anthropic):
    """``anthropic.Anthropic`` with a pool of API keys, injected and failed over per request.

    Takes every ``anthropic.Anthropic`` argument of the installed release plus ``api_keys`` or ``key_pool`` and
    ``settings``; ``config`` keeps the SDK's meaning for a mapping and names byok_client's config file for a path.
    Without them, keys come from ``BYOK_ANTHROPIC__API_KEYS``, ``BYOK_CONFIG``, then ``ANTHROPIC_API_KEYS`` or
    ``ANTHROPIC_API_KEY_1..N``; with none, the SDK's own key or auth token is used untouched. Raises
    ``ByokConfigError`` for invalid keys, settings or config.
    """

    def __init__(
        self,
        *,
        config: Mapping[str, Any] | ConfigPath | None = None,
        api_keys: Iterable[str | Key] | None = None,
        key_pool: KeyPool | None = None,
        settings: Settings | None = None,
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
        byok_config = _split_config(config, kwargs)
        resolved = resolve_keys(_PROVIDER, api_keys, key_pool, settings, byok_config, strategy, options)
        self._byok_binding = None
        self._byok_listeners = listeners(on_event)
        # With managed keys, an explicit placeholder also stops the SDK's own credential discovery (env, profiles).
        kwargs["api_key"] = sdk_api_key(resolved, kwargs, _LINE.CREDENTIAL_ARGS)
        super().__init__(**kwargs)
        self.key_pool = make_pool(resolved, _PROVIDER, self.base_url)
        self._byok_remember(self.base_url, settings, byok_config, strategy, options)
        install(self._client)

    @override
    def _prepare_request(self, request: Any) -> None:
        super()._prepare_request(request)
        self._byok_bind(request, self._base_url)  # the attribute behind the SDK's base_url property

    @override
    def copy(
        self,
        *,
        config: Mapping[str, Any] | ConfigPath | None = None,
        api_keys: Iterable[str | Key] | None = None,
        key_pool: KeyPool | None = None,
        settings: Settings | None = None,
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
        """Like ``anthropic.Anthropic.copy``; the copy keeps this client's pool unless ``api_keys`` or
        ``key_pool`` is given."""
        byok_config = _split_config(config, kwargs)
        extra = carry_pool(
            self,
            api_keys,
            key_pool,
            _extra_kwargs,
            settings,
            byok_config,
            strategy,
            on_event,
            PoolOptions(cooldown_scope, allowed_origins, state, on_exhausted, max_wait),
            kwargs.get("base_url"),
        )
        copied = super().copy(_extra_kwargs=extra, **kwargs)
        return passthrough_stays(self, copied, extra)

    with_options = copy


class AsyncAnthropic(ByokClientMixin, anthropic.AsyncAnthropic):
    """``anthropic.AsyncAnthropic`` with a pool of API keys; see ``byok_client.Anthropic``."""

    def __init__(
        self,
        *,
        config: Mapping[str, Any] | ConfigPath | None = None,
        api_keys: Iterable[str | Key] | None = None,
        key_pool: KeyPool | None = None,
        settings: Settings | None = None,
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
        byok_config = _split_config(config, kwargs)
        resolved = resolve_keys(_PROVIDER, api_keys, key_pool, settings, byok_config, strategy, options)
        self._byok_binding = None
        self._byok_listeners = listeners(on_event)
        kwargs["api_key"] = sdk_api_key(resolved, kwargs, _LINE.CREDENTIAL_ARGS)
        super().__init__(**kwargs)
        self.key_pool = make_pool(resolved, _PROVIDER, self.base_url)
        self._byok_remember(self.base_url, settings, byok_config, strategy, options)
        install(self._client)

    @override
    async def _prepare_request(self, request: Any) -> None:
        await super()._prepare_request(request)
        self._byok_bind(request, self._base_url)  # the attribute behind the SDK's base_url property

    @override
    def copy(
        self,
        *,
        config: Mapping[str, Any] | ConfigPath | None = None,
        api_keys: Iterable[str | Key] | None = None,
        key_pool: KeyPool | None = None,
        settings: Settings | None = None,
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
        """Like ``anthropic.AsyncAnthropic.copy``; the copy keeps this client's pool unless ``api_keys`` or
        ``key_pool`` is given."""
        byok_config = _split_config(config, kwargs)
        extra = carry_pool(
            self,
            api_keys,
            key_pool,
            _extra_kwargs,
            settings,
            byok_config,
            strategy,
            on_event,
            PoolOptions(cooldown_scope, allowed_origins, state, on_exhausted, max_wait),
            kwargs.get("base_url"),
        )
        copied = super().copy(_extra_kwargs=extra, **kwargs)
        return passthrough_stays(self, copied, extra)

    with_options = copy


for _ours, _sdk in ((Anthropic, anthropic.Anthropic), (AsyncAnthropic, anthropic.AsyncAnthropic)):
    _lines.merge_signature(_ours.__init__, _sdk.__init__, replaced=("config",))
    _lines.merge_signature(_ours.copy, _sdk.copy, replaced=("config",))
_LINE.count_as_base_clients(Anthropic, AsyncAnthropic)
