"""Which providers the ``byok`` command knows and where their keys come from, through the clients' own resolution
(``clients._common.resolve_keys``, the config file and the sources): the CLI sees exactly what a client would."""

from __future__ import annotations

import argparse
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import ByokConfigError
from ..core.keys import Key
from ..providers.base import Provider
from ..sources.env import EnvSource, plain_names

if TYPE_CHECKING:
    from ..config import ByokConfig, KeyRef
    from ..settings import Settings

__all__ = ["KeyInfo", "ProviderInfo", "ProviderKeys", "config_path", "gather", "provider_arg", "registry"]

ALIASES = {"google": "gemini", "azure_openai": "azure-openai", "azure": "azure-openai"}


@dataclass(frozen=True)
class ProviderInfo:
    """A provider as the CLI uses it: its module's ``Provider``, where its API lives and how to list models."""

    name: str
    provider: Provider
    base_url: str | None  # the SDK's default; None when it depends on your account (Azure)
    models_path: str  # appended to the base URL
    sdk_header: str  # where the SDK puts its key; Provider.inject replaces it
    extra_headers: dict[str, str] = field(default_factory=dict)

    def default_base_url(self) -> str | None:
        """The base URL a client of this provider would use, reading the SDKs' own env variables."""
        if self.name == "openai":
            return os.environ.get("OPENAI_BASE_URL") or self.base_url
        if self.name == "anthropic":
            return os.environ.get("ANTHROPIC_BASE_URL") or self.base_url
        if self.name == "azure-openai":
            endpoint = os.environ.get("AZURE_OPENAI_ENDPOINT")
            return endpoint.rstrip("/") + "/openai/v1" if endpoint else None
        return self.base_url


@functools.cache
def registry() -> dict[str, ProviderInfo]:
    """Every provider the clients know, by name."""
    from ..providers.anthropic import AnthropicProvider
    from ..providers.gemini import GeminiProvider
    from ..providers.openai import COMPATIBLE, AzureOpenAIProvider, OpenAIProvider

    infos = [
        ProviderInfo("openai", OpenAIProvider(), "https://api.openai.com/v1", "/models", "authorization"),
        ProviderInfo("azure-openai", AzureOpenAIProvider(), None, "/models", "api-key"),
        *(
            ProviderInfo(c.name, OpenAIProvider(c.name, c.env_prefix), c.base_url, "/models", "authorization")
            for c in COMPATIBLE
        ),
        ProviderInfo(
            "anthropic",
            AnthropicProvider(),
            "https://api.anthropic.com",
            "/v1/models",
            "x-api-key",
            {"anthropic-version": "2023-06-01"},
        ),
        ProviderInfo(
            "gemini", GeminiProvider(), "https://generativelanguage.googleapis.com", "/v1beta/models", "x-goog-api-key"
        ),
    ]
    return {info.name: info for info in infos}


def provider_arg(text: str) -> str:
    """``--provider`` for argparse: a known provider name or alias (``google``), else a one-line error."""
    name = ALIASES.get(text.lower(), text.lower())
    if name not in registry():
        raise argparse.ArgumentTypeError(f"unknown provider {text!r} (known: {', '.join(sorted(registry()))})")
    return name


@dataclass(frozen=True)
class KeyInfo:
    """One resolved key: the key (never printed), where it came from, and its config reference if any."""

    provider: str
    key: Key
    source: str
    ref: KeyRef | None = None

    @property
    def label(self) -> str:
        return self.key.label

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint


@dataclass
class ProviderKeys:
    """A provider's keys, or passthrough (no managed keys: the SDK's own key goes out)."""

    info: ProviderInfo
    keys: list[KeyInfo]
    warnings: list[str] = field(default_factory=list)
    allowed_origins: tuple[str, ...] | None = None

    def passthrough(self) -> str:
        """What a client sends without managed keys: the SDK's own variable when set."""
        own = [name for name in plain_names(self.info.provider.env_numbered) if os.environ.get(name, "").strip()]
        if own:
            return f"passthrough: the SDK's own key ({own[0]}) goes out untouched"
        return "passthrough: no managed keys, the SDK's own credentials are used"


def config_path(given: str | None, settings: Settings) -> Path | None:
    """The config file a client would read: ``--config``, ``BYOK_CONFIG`` (through settings) or none."""
    chosen = given or (str(settings.config) if settings.config else None) or os.environ.get("BYOK_CONFIG") or None
    return Path(chosen) if chosen else None


def _has_anything(info: ProviderInfo, settings: Settings, loaded: ByokConfig | None) -> bool:
    """Whether the provider is configured anywhere a client looks (to list only those without ``--provider``)."""
    if loaded is not None and loaded.entry(info.name) is not None:
        return True
    if loaded is not None and loaded.only_allow_configured_providers:
        return False
    if settings.provider(info.name).api_keys:
        return True
    if any(os.environ.get(name, "").strip() for name in plain_names(info.provider.env_numbered)):
        return True
    return bool(EnvSource(info.provider.env_list, info.provider.env_numbered).load())


def gather(selected: str | None, config: Path | None, settings: Settings) -> list[ProviderKeys]:
    """The keys of ``selected`` (or of every provider configured anywhere), resolved as a client would resolve
    them. Raises ``ByokConfigError`` for a bad file, a missing secret or a refused provider."""
    import warnings

    from ..clients._common import PoolPlan, resolve_keys
    from ..config import ConfigSource, InlineKeyWarning, load_config

    loaded = load_config(config, settings.env) if config is not None else None
    names = [selected] if selected else list(registry())
    result: list[ProviderKeys] = []
    for name in names:
        info = registry()[name]
        if selected is None and not _has_anything(info, settings, loaded):
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InlineKeyWarning)
            resolved = resolve_keys(info.provider, None, None, settings, config)
            keys: list[KeyInfo] = []
            if isinstance(resolved, PoolPlan):
                if resolved.keys is not None:
                    for item in resolved.keys:
                        key = Key.coerce(item)
                        keys.append(KeyInfo(name, key, f"settings {key.label.split('[')[0]} (env or .env)"))
                for source in resolved.sources or ():
                    if isinstance(source, ConfigSource):
                        for ref, key, origin in source.load_refs():
                            keys.append(KeyInfo(name, key, f"{source.path} line {ref.line} ({origin})", ref))
                    elif isinstance(source, EnvSource):
                        keys.extend(KeyInfo(name, key, f"env {key.label.split('[')[0]}") for key in source.load())
                    else:
                        keys.extend(KeyInfo(name, key, source.name) for key in source.load())
            elif resolved is not None:  # a KeyPool: resolve_keys only returns one when given one
                raise ByokConfigError("unexpected key pool")
        messages = [str(w.message) for w in caught if issubclass(w.category, InlineKeyWarning)]
        entry = loaded.entry(name) if loaded is not None else None
        own = settings.provider(name).allowed_origins
        allowed = tuple(own) if own is not None else (entry.allowed_origins if entry is not None else None)
        result.append(ProviderKeys(info, keys, messages, allowed))
    return result
