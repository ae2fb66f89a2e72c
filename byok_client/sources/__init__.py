"""Key sources and secret stores: one module per place keys come from."""

from .base import KeySource, SecretStore
from .callable import CallableSource, KeysFunction
from .dotenv import DotenvSource, read_dotenv
from .env import EnvSecrets, EnvSource, env_keys, env_secret_name, split_key_list
from .inline import InlineSource
from .keyring import KeyringSource, KeyringStore
from .secrets_dir import SecretsDir, SecretsDirSource
from .vault_file import VaultFile, VaultFileSource

__all__ = [
    "CallableSource",
    "DotenvSource",
    "EnvSecrets",
    "EnvSource",
    "InlineSource",
    "KeyringSource",
    "KeyringStore",
    "KeySource",
    "KeysFunction",
    "SecretStore",
    "SecretsDir",
    "SecretsDirSource",
    "VaultFile",
    "VaultFileSource",
    "env_keys",
    "env_secret_name",
    "read_dotenv",
    "split_key_list",
]
