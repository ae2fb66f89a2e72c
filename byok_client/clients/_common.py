"""What every byok client subclass shares: resolving its pool and marking its requests for the transport."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

from .._binding import EXTENSION, Binding, Origin, origin_of
from .._errors import ByokConfigError, NoUsableKeyError
from .._pool import KeyPool
from ..core.budget import OnExhausted
from ..core.keys import Key
from ..core.policy import FailoverPolicy
from ..core.pool import CooldownScope
from ..events import EventCallback
from ..providers.base import PLACEHOLDER_KEY, Provider
from ..settings import Settings  # a real import: typing.get_type_hints resolves the clients' annotations
from ..sources.base import KeySource
from ..sources.env import EnvSource

__all__ = [
    "ByokClientMixin",
    "CooldownScope",
    "OnExhausted",
    "PoolOptions",
    "EventCallback",
    "Settings",
    "URLParts",
    "sdk_api_key",
    "url_parts",
    "carry_pool",
    "PoolPlan",
    "make_pool",
    "origin_text",
    "listeners",
    "passthrough_stays",
    "resolve_keys",
]


ConfigPath = str | os.PathLike[str]


class PoolPlan:
    """How to build a client's pool once its base URL is known."""

    __slots__ = (
        "allowed_origins",
        "cooldown_scope",
        "keys",
        "max_wait",
        "on_exhausted",
        "policy",
        "sources",
        "state",
        "strategy",
    )

    def __init__(
        self,
        keys: list[str | Key] | None = None,
        sources: list[KeySource] | None = None,
        policy: FailoverPolicy | None = None,
        strategy: Any = None,  # a name, a callable, a filter list or a CelStrategy
        options: PoolOptions | None = None,
    ) -> None:
        self.keys = keys
        self.sources = sources
        self.policy = policy
        self.strategy = strategy
        chosen = options or PoolOptions()
        self.cooldown_scope = chosen.cooldown_scope
        self.allowed_origins = chosen.allowed_origins
        self.state = chosen.state
        self.on_exhausted = chosen.on_exhausted
        self.max_wait = chosen.max_wait


class PoolOptions(NamedTuple):
    """A client's pool options (``cooldown_scope=``, ``allowed_origins=``, ``state=``, ``on_exhausted=``,
    ``max_wait=``), each None when not given: then settings, then the config file decide."""

    cooldown_scope: Any = None
    allowed_origins: Any = None
    state: Any = None
    on_exhausted: Any = None
    max_wait: Any = None

    def given(self) -> bool:
        return any(value is not None for value in self)

    def filled(
        self, cooldown_scope: Any, allowed_origins: Any, state: Any, on_exhausted: Any = None, max_wait: Any = None
    ) -> PoolOptions:
        """These options, with what is not given taken from the arguments."""
        return PoolOptions(
            self.cooldown_scope if self.cooldown_scope is not None else cooldown_scope,
            self.allowed_origins if self.allowed_origins is not None else allowed_origins,
            self.state if self.state is not None else state,
            self.on_exhausted if self.on_exhausted is not None else on_exhausted,
            self.max_wait if self.max_wait is not None else max_wait,
        )


def _byok_env_present() -> bool:
    return any(name.startswith("BYOK_") for name in os.environ) or os.path.isfile(".env")


def resolve_keys(
    provider: Provider,
    api_keys: Iterable[str | Key] | None,
    key_pool: KeyPool | None,
    settings: Settings | None = None,
    config: ConfigPath | None = None,
    strategy: Any = None,
    options: PoolOptions | None = None,
) -> KeyPool | PoolPlan | None:
    """Where a client's keys come from, in precedence order: ``key_pool``; ``api_keys``; the settings' keys
    (``BYOK_<PROVIDER>__API_KEYS``); the config file (``config=``, ``settings.config`` or ``BYOK_CONFIG``); the
    provider's env variables (``OPENAI_API_KEYS``...). None means passthrough. Raises ``ByokConfigError`` on bad
    input, for a provider the config file does not allow, or when strict mode finds no keys.

    ``options`` (``cooldown_scope``, ``allowed_origins``, ``state``, ``on_exhausted``, ``max_wait``) come from the
    arguments, else the provider's settings (``BYOK_<P>__COOLDOWN_SCOPE``, ``__ALLOWED_ORIGINS``, ``BYOK_STATE_URL``,
    ``__ON_EXHAUSTED``, ``__MAX_WAIT``), else the config file."""
    options = options or PoolOptions()
    if key_pool is not None and api_keys is not None:
        raise ByokConfigError("pass either api_keys= or key_pool=, not both")
    if key_pool is not None and strategy is not None:
        raise ByokConfigError("strategy= belongs to the KeyPool you pass as key_pool=")
    if key_pool is not None and options.given():
        raise ByokConfigError(
            "cooldown_scope=, allowed_origins=, state=, on_exhausted= and max_wait= belong to the KeyPool you pass "
            "as key_pool="
        )
    if key_pool is not None:
        if not isinstance(key_pool, KeyPool):
            raise ByokConfigError(f"key_pool must be a byok_client.KeyPool, not {type(key_pool).__name__}")
        return key_pool
    if settings is not None and not isinstance(settings, Settings):
        raise ByokConfigError(f"settings must be a byok_client.Settings, not {type(settings).__name__}")
    if settings is None and _byok_env_present():
        from ..settings import load_settings

        settings = load_settings()
    own = settings.provider(provider.name) if settings is not None else None
    policy = own.policy() if own is not None else None
    if strategy is None and own is not None:
        strategy = own.strategy
    if own is not None:
        options = options.filled(own.cooldown_scope, own.allowed_origins, None, own.on_exhausted, own.max_wait)
    if settings is not None:
        options = options.filled(None, None, settings.state_url)
    if api_keys is not None:
        if isinstance(api_keys, str | Key):
            raise ByokConfigError("api_keys takes a sequence of keys, e.g. api_keys=[key], not a single key")
        keys = list(api_keys)
        if not keys:
            raise ByokConfigError("api_keys is empty; leave it out to use the SDK's own key")
        return PoolPlan(keys=keys, policy=policy, strategy=strategy, options=options)
    if own is not None and own.api_keys:
        return PoolPlan(keys=list(own.keys(provider.name)), policy=policy, strategy=strategy, options=options)
    path = config or (settings.config if settings is not None else None) or os.environ.get("BYOK_CONFIG") or None
    if path is not None:
        from ..config import ConfigSource, default_stores, load_config

        loaded = load_config(path, settings.env if settings is not None else None)
        entry = loaded.entry(provider.name)
        if entry is None and loaded.only_allow_configured_providers:
            raise ByokConfigError(
                f"provider {provider.name!r} is not configured in {path} and only_allow_configured_providers is true"
            )
        if entry is not None:
            if not entry.api_keys:
                return _passthrough(provider, settings)  # listed without keys: passthrough by choice
            stores = default_stores(
                settings.secrets_dir if settings is not None else None,
                settings.secrets_file if settings is not None else None,
            )
            source = ConfigSource(path, provider.name, environment=loaded.environment, stores=stores, loaded=loaded)
            if strategy is None and entry.api_key_selection is not None:
                strategy = _selection(entry.api_key_selection, f"{path}: {entry.where}.api_key_selection")
            options = options.filled(
                entry.cooldown_scope, entry.allowed_origins, loaded.state, entry.on_exhausted, entry.max_wait
            )
            if entry.max_cooldown is not None:
                policy = (policy or FailoverPolicy()).replace(max_cooldown=entry.max_cooldown)
            return PoolPlan(sources=[source], policy=policy, strategy=strategy, options=options)
        options = options.filled(None, None, loaded.state)
    env = EnvSource(provider.env_list, provider.env_numbered)
    if env.load():
        return PoolPlan(sources=[env], policy=policy, strategy=strategy, options=options)
    return _passthrough(provider, settings)


def _selection(value: Any, where: str) -> Any:
    """A config file's ``api_key_selection``: ``{strategy: <name>}`` or ``{strategy: [CEL expressions]}``."""
    if not isinstance(value, dict) or "strategy" not in value:
        raise ByokConfigError(f"{where}: must be a mapping with a 'strategy'")
    chosen = value["strategy"]
    if isinstance(chosen, str) and "(" not in chosen and "." not in chosen:
        return chosen  # a strategy name, checked by KeyPool
    from ..cel import CelStrategy

    return CelStrategy([chosen] if isinstance(chosen, str) else chosen, where=f"{where}.strategy")


def _passthrough(provider: Provider, settings: Settings | None) -> PoolPlan | None:
    """None (passthrough), unless strict mode forbids it."""
    if settings is not None and settings.is_strict(provider.name):
        raise ByokConfigError(f"no {provider.name} keys configured and strict mode is on (BYOK_STRICT)")
    return None


def make_pool(resolved: KeyPool | PoolPlan | None, provider: Provider, base_url: Any) -> KeyPool | None:
    """A pool for resolved keys, scoped so clients of the same provider and origin share key health."""
    if resolved is None or isinstance(resolved, KeyPool):
        return resolved
    scope = f"{provider.name} {origin_text(base_url)}"
    strategy = resolved.strategy if resolved.strategy is not None else "ordered"
    common: dict[str, Any] = {
        "policy": resolved.policy,
        "scope": scope,
        "strategy": strategy,
        "cooldown_scope": resolved.cooldown_scope or "model",
        "allowed_origins": resolved.allowed_origins,
        "state": resolved.state,
    }
    if resolved.on_exhausted is not None:
        common["on_exhausted"] = resolved.on_exhausted
    if resolved.max_wait is not None:
        common["max_wait"] = resolved.max_wait
    if resolved.sources is not None:
        return KeyPool(sources=resolved.sources, **common)
    return KeyPool(resolved.keys, **common)


def listeners(on_event: EventCallback | Sequence[EventCallback] | None) -> tuple[EventCallback, ...]:
    """A client's ``on_event=`` as a tuple of callables (raises ``ByokConfigError`` for anything else)."""
    if on_event is None:
        return ()
    callbacks = (on_event,) if callable(on_event) else tuple(on_event)
    for callback in callbacks:
        if not callable(callback):
            raise ByokConfigError(f"on_event callbacks must be callable, not {type(callback).__name__}")
    return callbacks


class ByokClientMixin:
    """Mixed into each SDK subclass. ``key_pool`` is None in passthrough mode.

    Keys stay on their origin: the pool serves the base URL the client was built with (and the pool's
    ``allowed_origins``). A client whose ``base_url`` is changed to another origin resolves keys for that URL as a
    fresh client would (provider by host, its env names, its config entry), else sends none of the pool's keys.
    """

    _byok_provider: Provider
    _byok_listeners: tuple[EventCallback, ...] = ()
    key_pool: KeyPool | None
    _byok_binding: tuple[Any, Binding] | None
    _byok_home: Origin | None = None
    _byok_inputs: tuple[Any, Any, Any, PoolOptions] | None = None
    _byok_elsewhere: dict[Origin, Binding] | None = None

    def _byok_remember(self, base_url: Any, settings: Any, config: Any, strategy: Any, options: PoolOptions) -> None:
        """Where this client's pool belongs, and how to resolve keys for another base URL."""
        self._byok_home = origin_of(base_url.scheme, base_url.host, base_url.port)
        self._byok_inputs = (settings, config, strategy, options)
        self._byok_elsewhere = None

    def _byok_provider_for(self, base_url: Any) -> Provider:
        """The provider a request to ``base_url`` talks to (OpenAI clients read it from the host)."""
        return self._byok_provider

    def _byok_bind(self, request: Any, base_url: Any) -> None:
        """Attach this client's binding to ``request`` (cached per base URL, which the SDK lets users change)."""
        pool = self.key_pool
        if pool is None:
            return
        cached = self._byok_binding
        if cached is None or cached[0] is not base_url or (cached[1].pool is not pool and cached[1].pool is not None):
            cached = self._byok_binding = (base_url, self._byok_binding_for(pool, base_url))
        binding = cached[1]
        if binding.pool._none_enabled:
            # Raised here, before the SDK's send: some SDKs (anthropic) wrap transport errors as connection errors.
            raise NoUsableKeyError(self._byok_provider.name, binding.pool._disabled())
        request.extensions[EXTENSION] = binding

    def _byok_binding_for(self, pool: KeyPool, base_url: Any) -> Binding:
        origin = origin_of(base_url.scheme, base_url.host, base_url.port)
        home = self._byok_home if self._byok_home is not None else origin
        if origin == home or origin in pool.allowed_origins:
            return Binding(pool, self._byok_provider, origin, self._byok_listeners, pool.allowed_origins)
        # Another origin: never the old pool. Its own keys as a fresh client would find them, else none.
        elsewhere = self._byok_elsewhere
        if elsewhere is None:
            elsewhere = self._byok_elsewhere = {}
        found = elsewhere.get(origin)
        if found is None:
            settings, config, strategy, options = self._byok_inputs or (None, None, None, PoolOptions())
            provider = self._byok_provider_for(base_url)
            resolved = resolve_keys(provider, None, None, settings, config, strategy, options)
            other = make_pool(resolved, provider, base_url)
            if other is None:  # no keys for that origin: the old pool's binding only strips our placeholder there
                found = Binding(pool, self._byok_provider, home, self._byok_listeners, pool.allowed_origins)
            else:
                found = Binding(other, provider, origin, self._byok_listeners, other.allowed_origins)
            elsewhere[origin] = found
        return found


def origin_text(base_url: Any) -> str:
    """``scheme://host:port`` of a URL, the scope in which clients share key health."""
    scheme, host, port = origin_of(base_url.scheme, base_url.host, base_url.port)
    return f"{scheme}://{host}:{port}"


def carry_pool(
    client: ByokClientMixin,
    api_keys: Iterable[str | Key] | None,
    key_pool: KeyPool | None,
    extra: Mapping[str, Any],
    settings: Settings | None = None,
    config: ConfigPath | None = None,
    strategy: Any = None,
    on_event: EventCallback | Sequence[EventCallback] | None = None,
    options: PoolOptions | None = None,
    base_url: Any = None,
) -> dict[str, Any]:
    """The keyword arguments that give a copy its pool (built from what is given, else the original's pool) and
    its ``on_event`` listeners (the given ones, else the original's). A copy to another origin (``base_url``) does
    not take the original's pool unless the pool allows that origin: it resolves keys as a fresh client would."""
    options = options or PoolOptions()
    carried: dict[str, Any] = dict(extra)
    carried["on_event"] = on_event if on_event is not None else (client._byok_listeners or None)
    given = (api_keys, key_pool, settings, config, strategy)
    if any(value is not None for value in given) or options.given():
        carried.update(api_keys=api_keys, key_pool=key_pool, settings=settings, config=config, strategy=strategy)
        carried.update(cooldown_scope=options.cooldown_scope, allowed_origins=options.allowed_origins)
        carried.update(state=options.state, on_exhausted=options.on_exhausted, max_wait=options.max_wait)
    elif client.key_pool is not None:
        if base_url is not None and not _same_origin(client, client.key_pool, base_url):
            inputs = client._byok_inputs or (None, None, None, PoolOptions())
            carried.update(settings=inputs[0], config=inputs[1], strategy=inputs[2])
            carried.update(inputs[3]._asdict())
        else:
            carried["key_pool"] = client.key_pool
    return carried


def _same_origin(client: ByokClientMixin, pool: KeyPool, base_url: Any) -> bool:
    url = url_parts(base_url)
    origin = origin_of(url.scheme or "https", url.host, url.port)
    return origin == client._byok_home or origin in pool.allowed_origins


_C = TypeVar("_C", bound=ByokClientMixin)


def passthrough_stays(original: ByokClientMixin, copied: _C, extra: Mapping[str, Any]) -> _C:
    """A copy of a passthrough client stays passthrough (even if key env variables appeared since), unless the
    copy was given keys, a pool, settings or a config file of its own."""
    own = ("key_pool", "api_keys", "settings", "config", "strategy")
    if original.key_pool is None and all(extra.get(name) is None for name in own):
        copied.key_pool = None
    return copied


def sdk_api_key(resolved: object, kwargs: Mapping[str, Any], credential_args: Sequence[str]) -> Any:
    """The ``api_key`` to hand the SDK: a placeholder when managed keys stand in for the SDK's own credentials
    (so its constructor neither demands nor discovers one), else what the user gave."""
    api_key = kwargs.get("api_key")
    if resolved is not None and api_key is None and all(kwargs.get(name) is None for name in credential_args):
        return PLACEHOLDER_KEY
    if resolved is None and api_key == PLACEHOLDER_KEY:
        return None  # a copy of a managed client to an origin without keys: the SDK's own key, as a fresh client
    return api_key


class URLParts(NamedTuple):
    """``scheme``/``host``/``port`` of a URL, the parts ``origin_of`` reads."""

    scheme: str
    host: str
    port: int | None


def url_parts(url: object) -> URLParts:
    """The parts of a URL (a string or an SDK's URL object), read without importing an HTTP library."""
    parts = urlsplit(str(url))
    return URLParts(parts.scheme, parts.hostname or "", parts.port)
