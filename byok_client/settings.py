"""``byok_client.Settings``: configuration from ``BYOK_*`` environment variables and ``.env``, on pydantic-settings.

```sh
BYOK_OPENAI__API_KEYS=sk-a,sk-b        # keys per provider (comma- or newline-separated)
BYOK_OPENAI__QUOTA_COOLDOWN=600        # failover policy per provider
BYOK_OPENAI__STRATEGY=round_robin      # key selection
BYOK_CONFIG=byok.yaml                  # a config file (YAML or TOML), BYOK_ENV picks its environment
BYOK_SECRETS_DIR=/run/secrets          # <dir>/<vault>/<name> files for ${secrets.get('vault', 'name')}
BYOK_SECRETS_FILE=secrets.json         # {"<vault>": {"<name>": "<value>"}}
BYOK_STRICT=true                       # no passthrough: a client without keys refuses to start
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ._errors import ByokConfigError
from .core.keys import Key
from .core.policy import FailoverPolicy
from .sources.env import split_key_list

__all__ = ["STRATEGIES", "ProviderSettings", "Settings", "load_settings"]

STRATEGIES = ("ordered", "round_robin", "weighted", "random", "least_loaded")


class ProviderSettings(BaseModel):
    """Settings for one provider (``BYOK_<PROVIDER>__<FIELD>``)."""

    model_config = ConfigDict(extra="forbid")

    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    strategy: str | None = None
    rate_limit_cooldown: float | None = Field(default=None, ge=0)
    quota_cooldown: float | None = Field(default=None, ge=0)
    retry_after_cap: float | None = Field(default=None, ge=0, le=120)
    strict: bool | None = None

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
        """The keys, labelled ``BYOK_<PROVIDER>__API_KEYS[i]``."""
        prefix = f"BYOK_{provider.upper().replace('-', '_')}__API_KEYS"
        return [Key(secret.get_secret_value(), f"{prefix}[{i}]") for i, secret in enumerate(self.api_keys)]

    def policy(self) -> FailoverPolicy | None:
        """A failover policy with the cooldowns set here, or None when none is set."""
        changes = {
            name: value
            for name in ("rate_limit_cooldown", "quota_cooldown", "retry_after_cap")
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
