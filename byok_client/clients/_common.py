"""What every byok client subclass shares: resolving its pool and marking its requests for the transport."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from .._errors import ByokConfigError
from .._failover import EXTENSION, Binding, origin_of
from .._keys import Key
from .._pool import KeyPool
from ..providers.base import Provider
from ..sources.env import env_keys

__all__ = [
    "ByokClientMixin",
    "carry_pool",
    "make_pool",
    "origin_text",
    "passthrough_stays",
    "resolve_keys",
]


def resolve_keys(
    provider: Provider,
    api_keys: Iterable[str | Key] | None,
    key_pool: KeyPool | None,
) -> KeyPool | list[str | Key] | None:
    """What a client's keys are: ``key_pool``, else ``api_keys``, else the provider's env variables; None
    (passthrough) when there are no keys at all. Raises ``ByokConfigError`` on bad input."""
    if key_pool is not None and api_keys is not None:
        raise ByokConfigError("pass either api_keys= or key_pool=, not both")
    if key_pool is not None:
        if not isinstance(key_pool, KeyPool):
            raise ByokConfigError(f"key_pool must be a byok_client.KeyPool, not {type(key_pool).__name__}")
        return key_pool
    if api_keys is not None:
        if isinstance(api_keys, str | Key):
            raise ByokConfigError("api_keys takes a sequence of keys, e.g. api_keys=[key], not a single key")
        keys = list(api_keys)
        if not keys:
            raise ByokConfigError("api_keys is empty; leave it out to use the SDK's own key")
        return keys
    found: list[str | Key] = list(env_keys(provider.env_list, provider.env_numbered))
    return found or None


def make_pool(resolved: KeyPool | list[str | Key] | None, provider: Provider, base_url: Any) -> KeyPool | None:
    """A pool for resolved keys, scoped so clients of the same provider and origin share key health."""
    if resolved is None or isinstance(resolved, KeyPool):
        return resolved
    return KeyPool(resolved, scope=f"{provider.name} {origin_text(base_url)}")


class ByokClientMixin:
    """Mixed into each SDK subclass. ``key_pool`` is None in passthrough mode."""

    _byok_provider: Provider
    key_pool: KeyPool | None
    _byok_binding: tuple[Any, Binding] | None

    def _byok_bind(self, request: Any, base_url: Any) -> None:
        """Attach this client's binding to ``request`` (cached per base URL, which the SDK lets users change)."""
        pool = self.key_pool
        if pool is None:
            return
        cached = self._byok_binding
        if cached is None or cached[0] is not base_url or cached[1].pool is not pool:
            binding = Binding(pool, self._byok_provider, origin_of(base_url.scheme, base_url.host, base_url.port))
            cached = self._byok_binding = (base_url, binding)
        request.extensions[EXTENSION] = cached[1]


def origin_text(base_url: Any) -> str:
    """``scheme://host:port`` of a URL, the scope in which clients share key health."""
    scheme, host, port = origin_of(base_url.scheme, base_url.host, base_url.port)
    return f"{scheme}://{host}:{port}"


def carry_pool(
    client: ByokClientMixin,
    api_keys: Iterable[str | Key] | None,
    key_pool: KeyPool | None,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """The keyword arguments that give a copy its pool: the new one if given, else the original's."""
    if api_keys is not None or key_pool is not None:
        return {**extra, "api_keys": api_keys, "key_pool": key_pool}
    if client.key_pool is not None:
        return {**extra, "key_pool": client.key_pool}
    return dict(extra)


_C = TypeVar("_C", bound=ByokClientMixin)


def passthrough_stays(original: ByokClientMixin, copied: _C, extra: Mapping[str, Any]) -> _C:
    # A copy of a passthrough client stays passthrough even if key env variables appeared since.
    if original.key_pool is None and "key_pool" not in extra:
        copied.key_pool = None
    return copied
