"""byok_client: bring-your-own-keys for the official OpenAI, Anthropic and Gemini SDKs, client-side.

``from byok_client import OpenAI`` gives a real ``openai.OpenAI`` subclass that injects keys from a pool and fails
over to the next key when the provider blames the key. SDK classes are imported lazily: importing byok_client
imports no SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import ByokConfigError, ByokError, MissingDependencyError, NoUsableKeyError
from ._pool import KeyPool
from .clients._lines import UnsupportedSDKVersionError
from .clients._lines import supported as _supported_line
from .core.keys import Key
from .core.policy import Attempt, FailoverPolicy, Failure, Verdict
from .logging import KeyScrubFilter, install_scrub_filter

if TYPE_CHECKING:
    from . import genai
    from .clients.anthropic import Anthropic, AsyncAnthropic
    from .clients.openai import AsyncOpenAI, OpenAI
    from .core.selection import ALL, KeyView
    from .events import (
        AttemptCompleted,
        FailedOver,
        KeyDisabled,
        KeyQuotaExhausted,
        KeyRateLimited,
        KeyRecovered,
        KeysReloaded,
        PoolCapacityLow,
        PoolCapacityRestored,
        PoolEvent,
        PoolExhausted,
    )
    from .settings import Settings
    from .stats import CapacityStats, ErrorRates, KeyStatus, PoolStats
    from .transports.pool import AsyncKeyPoolTransport, KeyPoolTransport, async_http_client, http_client

__version__ = "0.1.0"

install_scrub_filter()  # our own log records never carry a key value


def attempts_of(error_or_response: Any) -> tuple[Attempt, ...]:
    """The attempt history (key labels, statuses, failure classes) of a request whose keys all failed, from the
    SDK's exception (``err``) or its ``err.response``; empty if the request did not go through a pool."""
    from .transports._shell import ATTEMPTS

    response = getattr(error_or_response, "response", error_or_response)
    extensions = getattr(response, "extensions", None)
    attempts = extensions.get(ATTEMPTS, ()) if isinstance(extensions, dict) else ()
    return tuple(attempts)


__all__ = [
    "ALL",
    "Anthropic",
    "AsyncAnthropic",
    "AsyncKeyPoolTransport",
    "AsyncOpenAI",
    "Attempt",
    "AttemptCompleted",
    "ByokConfigError",
    "ByokError",
    "CapacityStats",
    "ErrorRates",
    "FailedOver",
    "FailoverPolicy",
    "Failure",
    "Key",
    "KeyDisabled",
    "KeyPool",
    "KeyPoolTransport",
    "KeyQuotaExhausted",
    "KeyRateLimited",
    "KeyRecovered",
    "KeyScrubFilter",
    "KeyStatus",
    "KeyView",
    "KeysReloaded",
    "MissingDependencyError",
    "NoUsableKeyError",
    "OpenAI",
    "PoolCapacityLow",
    "PoolCapacityRestored",
    "PoolEvent",
    "PoolExhausted",
    "PoolStats",
    "Settings",
    "UnsupportedSDKVersionError",
    "Verdict",
    "__version__",
    "async_http_client",
    "attempts_of",
    "genai",
    "http_client",
]

# name -> (module, SDK distribution, extra)
_LAZY: dict[str, tuple[str, str, str]] = {
    "OpenAI": ("byok_client.clients.openai", "openai", "openai"),
    "AsyncOpenAI": ("byok_client.clients.openai", "openai", "openai"),
    "Anthropic": ("byok_client.clients.anthropic", "anthropic", "anthropic"),
    "AsyncAnthropic": ("byok_client.clients.anthropic", "anthropic", "anthropic"),
    "genai": ("byok_client.genai", "google", "google"),
    "Settings": ("byok_client.settings", "pydantic_settings", "settings"),
}
# Cheap on first use, not at import: the event, snapshot and strategy types.
_LAZY.update({name: ("byok_client.events", "", "") for name in (
    "AttemptCompleted", "FailedOver", "KeyDisabled", "KeyQuotaExhausted", "KeyRateLimited", "KeyRecovered",
    "KeysReloaded", "PoolCapacityLow", "PoolCapacityRestored", "PoolEvent", "PoolExhausted",
)})  # fmt: skip
_LAZY.update(
    {name: ("byok_client.stats", "", "") for name in ("CapacityStats", "ErrorRates", "KeyStatus", "PoolStats")}
)
_LAZY.update({name: ("byok_client.core.selection", "", "") for name in ("ALL", "KeyView")})
# No HTTP library is imported here: the transports import the one they are built on, when built.
_LAZY.update({name: ("byok_client.transports.pool", "", "") for name in (
    "AsyncKeyPoolTransport", "KeyPoolTransport", "async_http_client", "http_client",
)})  # fmt: skip


_DISTRIBUTIONS = {"google": "google-genai"}  # import name -> what to pip install

if not TYPE_CHECKING:  # type checkers see every name; at run time only those whose SDK is here and supported
    # `from byok_client import *` and help(byok_client) then work with any one SDK installed; naming a missing
    # SDK's class still raises MissingDependencyError (or UnsupportedSDKVersionError) on first use.
    __all__ = [
        name
        for name in __all__
        if name not in _LAZY
        or _LAZY[name][1] not in ("openai", "anthropic", "google")
        or _supported_line(_DISTRIBUTIONS.get(_LAZY[name][1], _LAZY[name][1])) is not None
    ]


def __getattr__(name: str) -> Any:
    try:
        module_name, package, extra = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'byok_client' has no attribute {name!r}") from None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if package and exc.name is not None and exc.name.split(".")[0] in (package, "httpx2"):
            missing = exc.name.split(".")[0]
            raise MissingDependencyError(_DISTRIBUTIONS.get(missing, missing), extra) from exc
        raise
    value = module if module_name.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
