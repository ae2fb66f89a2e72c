"""Key sources and secret stores: one module per place keys come from (imported on first use)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .base import KeySource, SecretStore

if TYPE_CHECKING:
    from .callable import CallableSource, KeysFunction
    from .dotenv import DotenvSource, read_dotenv
    from .env import EnvSecrets, EnvSource, env_keys, env_secret_name, plain_names, split_key_list
    from .inline import InlineSource
    from .keyring import KeyringSource, KeyringStore
    from .secrets_dir import SecretsDir, SecretsDirSource
    from .vault_file import VaultFile, VaultFileSource

_MODULES = {
    "CallableSource": "callable",
    "KeysFunction": "callable",
    "DotenvSource": "dotenv",
    "read_dotenv": "dotenv",
    "EnvSecrets": "env",
    "EnvSource": "env",
    "env_keys": "env",
    "env_secret_name": "env",
    "plain_names": "env",
    "split_key_list": "env",
    "InlineSource": "inline",
    "KeyringSource": "keyring",
    "KeyringStore": "keyring",
    "SecretsDir": "secrets_dir",
    "SecretsDirSource": "secrets_dir",
    "VaultFile": "vault_file",
    "VaultFileSource": "vault_file",
}

__all__ = [
    "CallableSource",
    "DotenvSource",
    "EnvSecrets",
    "EnvSource",
    "InlineSource",
    "KeySource",
    "KeyringSource",
    "KeyringStore",
    "KeysFunction",
    "SecretStore",
    "SecretsDir",
    "SecretsDirSource",
    "VaultFile",
    "VaultFileSource",
    "env_keys",
    "env_secret_name",
    "plain_names",
    "read_dotenv",
    "split_key_list",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'byok_client.sources' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
