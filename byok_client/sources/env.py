"""Keys from environment variables: a list (``OPENAI_API_KEYS=a,b``) or numbered (``OPENAI_API_KEY_1``, ...); and
secrets from ``BYOK_SECRET_<VAULT>_<NAME>`` variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from ..core.keys import Key
from .base import KeySource, SecretStore

__all__ = ["EnvSecrets", "EnvSource", "env_keys", "env_secret_name", "split_key_list"]


def split_key_list(text: str) -> list[str]:
    """Split a comma- or newline-separated key list; blanks are ignored."""
    return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]


def env_keys(
    list_vars: Sequence[str], numbered_prefixes: Sequence[str], environ: Mapping[str, str] | None = None
) -> list[Key]:
    """Keys from the first non-empty list variable, else from the numbered variables in number order.

    Each key is labelled with where it came from (``OPENAI_API_KEYS[0]``, ``OPENAI_API_KEY_2``), never its value.
    """
    env = os.environ if environ is None else environ
    for name in list_vars:
        values = split_key_list(env.get(name, ""))
        if values:
            return [Key(v, f"{name}[{i}]") for i, v in enumerate(values)]
    for prefix in numbered_prefixes:
        pattern = re.compile(re.escape(prefix) + r"(\d+)")
        numbered = sorted(
            (int(m.group(1)), name) for name in env if (m := pattern.fullmatch(name)) and env[name].strip()
        )
        if numbered:
            return [Key(env[name].strip(), name) for _, name in numbered]
    return []


class EnvSource(KeySource):
    """Keys from environment variables (see ``env_keys``), read again on every ``load()``."""

    def __init__(
        self,
        list_vars: Sequence[str],
        numbered_prefixes: Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.list_vars = tuple(list_vars)
        self.numbered_prefixes = tuple(numbered_prefixes)
        self._environ = environ
        self.name = "env " + "/".join(self.list_vars + tuple(p + "N" for p in self.numbered_prefixes))

    def load(self) -> list[Key]:
        return env_keys(self.list_vars, self.numbered_prefixes, self._environ)


def env_secret_name(vault: str, name: str) -> str:
    """``BYOK_SECRET_<VAULT>_<NAME>``, upper-cased, every non-alphanumeric character as ``_``."""
    return re.sub(r"[^A-Za-z0-9]", "_", f"BYOK_SECRET_{vault}_{name}").upper()


class EnvSecrets(SecretStore):
    """Secrets from ``BYOK_SECRET_<VAULT>_<NAME>`` (vault ``openai``, name ``key-one`` →
    ``BYOK_SECRET_OPENAI_KEY_ONE``)."""

    name = "env BYOK_SECRET_*"

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ

    def get(self, vault: str, name: str) -> str | None:
        env = os.environ if self._environ is None else self._environ
        value = env.get(env_secret_name(vault, name))
        return value.strip() if value is not None and value.strip() else None
