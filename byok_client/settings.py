"""``byok_client.Settings``: configuration from ``BYOK_*`` environment variables and ``.env``, on pydantic-settings.

```sh
BYOK_OPENAI__API_KEYS=sk-a,sk-b        # keys per provider (comma- or newline-separated)
BYOK_OPENAI__QUOTA_COOLDOWN=600        # failover policy per provider
BYOK_OPENAI__STRATEGY=round_robin      # key selection
BYOK_CONFIG=byok.yaml                  # a config file (YAML or TOML), BYOK_ENV picks its environment
BYOK_SECRETS_DIR=/run/secrets          # <dir>/<vault>/<name> files for ${secrets.get('vault', 'name')}
BYOK_SECRETS_FILE=secrets.json         # {"<vault>": {"<name>": "<value>"}}
BYOK_STRICT=true                       # no passthrough: a client without keys refuses to start
BYOK_STATE_URL=redis://localhost:6379  # shared key health for a fleet (redis:// or rediss://)
BYOK_OPENAI__COOLDOWN_SCOPE=model      # a rate limit cools the key for that model only (or: key)
BYOK_OPENAI__ALLOWED_ORIGINS=https://api.openai.com,https://eu.api.openai.com   # where managed keys may go
BYOK_OPENAI__MAX_COOLDOWN=300          # no cooldown longer than this (seconds)
BYOK_OPENAI__ON_EXHAUSTED=wait         # every key spent: wait for budget (or: fail, send)
BYOK_OPENAI__MAX_WAIT=10               # ...for at most this long (seconds), then fail
BYOK_OPENAI__RPM=60                    # a ceiling for each key of BYOK_OPENAI__API_KEYS (also __TPM, __RPD)
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ._errors import ByokConfigError
from .config import STRATEGIES, mask_url, normalise_origin
from .core.keys import Key
from .core.policy import FailoverPolicy
from .sources.env import split_key_list

__all__ = ["STRATEGIES", "ProviderSettings", "Settings", "load_settings"]


class ProviderSettings(BaseModel):
    """Settings for one provider (``BYOK_<PROVIDER>__<FIELD>``)."""

    model_config = ConfigDict(extra="forbid")

    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    strategy: str | None = None
    rate_limit_cooldown: float | None = Field(default=None, ge=0)
    quota_cooldown: float | None = Field(default=None, ge=0)
    retry_after_cap: float | None = Field(default=None, ge=0, le=120)
    strict: bool | None = None
    cooldown_scope: Literal["model", "key"] | None = None
    allowed_origins: Annotated[list[str] | None, NoDecode] = None
    max_cooldown: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    on_exhausted: Literal["wait", "fail", "send"] | None = None
    max_wait: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)
    rpd: int | None = Field(default=None, gt=0)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("must list at least one origin URL")
        return list(dict.fromkeys(normalise_origin(origin) for origin in value))

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return split_key_list(value) if isinstance(value, str) else value

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str | None) -> str | None:
        if value is not None and value not in STRATEGIES:
            raise ValueError(f"unknown strategy {value!r}; one of {', '.join(STRATEGIES)}")
        return value

    def keys(self, provider: str) -> list[Key]:
        """The keys, labelled ``BYOK_<PROVIDER>__API_KEYS[i]``, each with the ``rpm``/``tpm``/``rpd`` set here."""
        prefix = f"BYOK_{provider.upper().replace('-', '_')}__API_KEYS"
        return [
            Key(secret.get_secret_value(), f"{prefix}[{i}]", rpm=self.rpm, tpm=self.tpm, rpd=self.rpd)
            for i, secret in enumerate(self.api_keys)
        ]

    def policy(self) -> FailoverPolicy | None:
        """A failover policy with the cooldowns set here, or None when none is set."""
        changes = {
            name: value
            for name in ("rate_limit_cooldown", "quota_cooldown", "retry_after_cap", "max_cooldown")
            if (value := getattr(self, name)) is not None
        }
        return FailoverPolicy().replace(**changes) if changes else None


class Settings(BaseSettings):
    """byok_client's settings, read from ``BYOK_*`` environment variables and a ``.env`` file.

    Pass one to a client as ``settings=``; without one, a client reads them from the environment whenever a
    ``BYOK_*`` variable is set. Raises ``ByokConfigError`` (through ``load_settings``) naming the bad field.
    """

    model_config = SettingsConfigDict(
        env_prefix="BYOK_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    openai: ProviderSettings = Field(default_factory=ProviderSettings)
    azure_openai: ProviderSettings = Field(default_factory=ProviderSettings)
    anthropic: ProviderSettings = Field(default_factory=ProviderSettings)
    gemini: ProviderSettings = Field(default_factory=ProviderSettings)
    groq: ProviderSettings = Field(default_factory=ProviderSettings)
    deepseek: ProviderSettings = Field(default_factory=ProviderSettings)
    mistral: ProviderSettings = Field(default_factory=ProviderSettings)
    together: ProviderSettings = Field(default_factory=ProviderSettings)
    openrouter: ProviderSettings = Field(default_factory=ProviderSettings)
    ollama: ProviderSettings = Field(default_factory=ProviderSettings)

    config: Path | None = None
    env: str | None = None
    secrets_dir: Path | None = None
    secrets_file: Path | None = None
    strict: bool = False
    state_url: str | None = Field(default=None, repr=False)

    @field_validator("state_url")
    @classmethod
    def _state_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            parts = urlsplit(value.strip())
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            raise ValueError("is not a valid URL") from None
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ValueError(f"must be a redis:// or rediss:// URL with a host, not {mask_url(value.strip())!r}")
        return value.strip()

    def provider(self, name: str) -> ProviderSettings:
        """The settings of one of our provider names (``openai``, ``azure-openai``, ``gemini``...)."""
        value = getattr(self, name.replace("-", "_"), None)
        return value if isinstance(value, ProviderSettings) else ProviderSettings()

    def is_strict(self, name: str) -> bool:
        """Whether a client of this provider must have managed keys (no passthrough)."""
        own = self.provider(name).strict
        return own if own is not None else self.strict


def load_settings(**values: Any) -> Settings:
    """``Settings(**values)`` with validation errors turned into one ``ByokConfigError`` naming each field."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"BYOK_{'__'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ByokConfigError(f"invalid byok settings: {problems}") from None
