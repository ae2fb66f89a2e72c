"""Where key health lives: in this process (the default) or shared by a fleet through Redis or Valkey.

``make_state(spec)`` turns what a user wrote (``state=`` on a pool or client, a setting, a config file) into a
``StateBackend``.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from .._errors import ByokConfigError
from ..core.state import InMemoryState, StateBackend, StateChange
from .redis import RedisState, StateUnavailableError, redact_url

__all__ = [
    "InMemoryState",
    "RedisState",
    "StateBackend",
    "StateChange",
    "StateUnavailableError",
    "close_shared",
    "make_state",
    "redact_url",
    "shared_state",
]

_URL_SCHEMES = ("redis://", "rediss://", "unix://")


def make_state(spec: Any = None, *, prefix: str = "byok") -> StateBackend:
    """The state backend ``spec`` names.

    - ``None``: ``InMemoryState()``, health shared only by the pools of this process.
    - ``"redis://[user:password@]host[:port][/db][?prefix=name]"``, ``"rediss://..."`` (TLS) or
      ``"unix:///path/to/redis.sock"``: a ``RedisState`` on that server (``prefix`` unless the URL names one).
    - an object implementing ``StateBackend`` (``attach``, ``publish``, ``count``, ``close``): used as is.

    Raises ``ByokConfigError`` for anything else (the message never shows a URL's password) and
    ``MissingDependencyError`` for a Redis URL when redis-py is not installed (``pip install 'byok-client[redis]'``).
    """
    if spec is None:
        return InMemoryState()
    if isinstance(spec, str):
        if spec.lower().startswith(_URL_SCHEMES):
            return RedisState.from_url(spec, prefix=prefix)
        raise ByokConfigError(
            f"state must be a redis://, rediss:// or unix:// URL, or a StateBackend object, got {redact_url(spec)!r}",
        )
    if isinstance(spec, StateBackend):
        return spec
    raise ByokConfigError(
        f"state must be None, a redis://, rediss:// or unix:// URL, or an object with attach, publish, count and "
        f"close, got {type(spec).__name__}",
    )


_SHARED: dict[tuple[str, str], StateBackend] = {}
_SHARED_LOCK = threading.Lock()


def shared_state(spec: Any, *, prefix: str = "byok") -> StateBackend:
    """``make_state(spec)``, one backend per URL and prefix in this process (pools and clients naming the same
    Redis share one connection and thread), flushed and closed when the interpreter exits."""
    if not isinstance(spec, str):
        return make_state(spec, prefix=prefix)
    with _SHARED_LOCK:
        found = _SHARED.get((spec, prefix))
        if found is None:
            found = _SHARED[(spec, prefix)] = make_state(spec, prefix=prefix)
            if len(_SHARED) == 1:
                atexit.register(close_shared)
        return found


def close_shared() -> None:
    """Close every backend ``shared_state`` made (at exit, or in tests)."""
    with _SHARED_LOCK:
        backends = list(_SHARED.values())
        _SHARED.clear()
    for backend in backends:
        backend.close()
