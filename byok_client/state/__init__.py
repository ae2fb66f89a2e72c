"""Where key health lives: in this process (the default) or shared by a fleet through Redis or Valkey.

``make_state(spec)`` turns what a user wrote (``state=`` on a pool or client, a setting, a config file) into a
``StateBackend``.
"""

from __future__ import annotations

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
    "make_state",
    "redact_url",
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
