"""What a client tells its transport about each request, and the registry of placeholder tokens.

A client attaches a ``Binding`` to each request (a request extension); google-genai has no request hook, so its
client hands the SDK a per-client placeholder token instead, which the transport looks up in ``TOKENS``.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._pool import KeyPool
    from .events import EventCallback
    from .providers.base import Provider

__all__ = ["EXTENSION", "TOKENS", "TOKEN_PREFIX", "Binding", "Origin", "TokenRegistry", "origin_of"]

EXTENSION = "byok_client"
"""The request extension under which a client attaches its ``Binding`` for the transport."""

Origin = tuple[str, str, int]


class Binding:
    """The pool, the provider, the origins (scheme, host, port) that may receive a managed key, and the client's
    own ``on_event`` listeners."""

    __slots__ = ("listeners", "origin", "origins", "pool", "provider")

    def __init__(
        self,
        pool: KeyPool,
        provider: Provider,
        origin: Origin,
        listeners: tuple[EventCallback, ...] = (),
        origins: frozenset[Origin] = frozenset(),
    ) -> None:
        self.pool = pool
        self.provider = provider
        self.origin = origin
        self.origins = origins | {origin}
        self.listeners = listeners


_DEFAULT_PORTS = {"http": 80, "https": 443}


@functools.lru_cache(maxsize=1024)  # called on every request, with the few origins a process talks to
def origin_of(scheme: str, host: str, port: int | None) -> Origin:
    """A normalised origin: lower-case scheme and host, explicit port."""
    scheme = scheme.lower()
    return (scheme, host.lower(), port if port is not None else _DEFAULT_PORTS.get(scheme, 0))


def parse_origins(origins: object) -> frozenset[Origin]:
    """``allowed_origins=``: origin URLs (``https://host[:port]``) as normalised origins. Raises ``ByokConfigError``
    for anything that is not a list of http(s) origins."""
    from urllib.parse import urlsplit

    from ._errors import ByokConfigError

    if origins is None:
        return frozenset()
    if isinstance(origins, str | bytes) or not isinstance(origins, list | tuple | set | frozenset):
        raise ByokConfigError(f"allowed_origins must be a list of origin URLs, not {type(origins).__name__}")
    parsed: set[Origin] = set()
    for position, item in enumerate(origins, start=1):
        try:
            parts = urlsplit(item) if isinstance(item, str) else None
            port = parts.port if parts is not None else None
        except ValueError:
            parts = None
        if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ByokConfigError(f"allowed_origins #{position} must be an http(s) URL such as https://host:port")
        if parts.path not in ("", "/") or parts.query or parts.username is not None:
            raise ByokConfigError(f"allowed_origins #{position} must be an origin only: scheme, host and port")
        parsed.add(origin_of(parts.scheme, parts.hostname, port))
    return frozenset(parsed)


TOKEN_PREFIX = "byok-managed-key-"


class TokenRegistry:
    """Placeholder tokens → the binding each stands for. Entries leave with their client (a finalizer)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, Binding] = {}

    def register(self, token: str, binding: Binding) -> None:
        """Make ``token`` (sent by the SDK as its key) stand for ``binding``."""
        with self._lock:
            self._tokens[token] = binding

    def unregister(self, token: str) -> None:
        """Forget ``token`` (its client is gone)."""
        with self._lock:
            self._tokens.pop(token, None)

    def lookup(self, value: str) -> Binding | None:
        """The binding a placeholder credential value stands for (``Bearer`` prefix allowed)."""
        return self._tokens.get(value.removeprefix("Bearer "))

    def clear(self) -> None:
        """Forget every token (for tests)."""
        with self._lock:
            self._tokens.clear()

    def __len__(self) -> int:
        return len(self._tokens)


TOKENS = TokenRegistry()
"""This process's placeholder tokens."""
