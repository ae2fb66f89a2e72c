"""byok_client: bring-your-own-keys for the official OpenAI, Anthropic and Gemini SDKs, client-side.

``from byok_client import OpenAI`` gives a real ``openai.OpenAI`` subclass that injects keys from a pool and fails
over to the next key when the provider blames the key. SDK classes are imported lazily: importing byok_client
imports no SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import ByokConfigError, ByokError, MissingDependencyError, NoUsableKeyError
from ._keys import Key
from ._policy import Attempt, FailoverPolicy, Failure, Verdict
from ._pool import KeyPool, KeyStatus

if TYPE_CHECKING:
    from . import genai
    from .clients.anthropic import Anthropic, AsyncAnthropic
    from .clients.openai import AsyncOpenAI, OpenAI
    from .settings import Settings

__version__ = "0.1.0"

__all__ = [
    "Anthropic",
    "AsyncAnthropic",
    "AsyncOpenAI",
    "Attempt",
    "ByokConfigError",
    "ByokError",
    "FailoverPolicy",
    "Failure",
    "Key",
    "KeyPool",
    "KeyStatus",
    "MissingDependencyError",
    "NoUsableKeyError",
    "OpenAI",
    "Settings",
    "Verdict",
    "__version__",
    "genai",
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


def __getattr__(name: str) -> Any:
    try:
        module_name, package, extra = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'byok_client' has no attribute {name!r}") from None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] in (package, "httpx2"):
            raise MissingDependencyError(exc.name.split(".")[0], extra) from exc
        raise
    value = module if module_name.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
