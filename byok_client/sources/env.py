"""Keys from environment variables: the plain one (``OPENAI_API_KEY``), numbered (``OPENAI_API_KEY_1``, ...) and a
list (``OPENAI_API_KEYS=a,b``), in that order, as one pool; and
secrets from ``BYOK_SECRET_<VAULT>_<NAME>`` variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from ..core.keys import Key
from .base import KeySource, SecretStore

__all__ = ["EnvSecrets", "EnvSource", "env_keys", "env_secret_name", "plain_names", "split_key_list"]


def split_key_list(text: str) -> list[str]:
    """Split a comma- or newline-separated key list; blanks are ignored."""
    return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]


def plain_names(numbered_prefixes: Sequence[str]) -> tuple[str, ...]:
    """The plain variable of each numbered prefix: ``OPENAI_API_KEY_`` -> ``OPENAI_API_KEY``."""
    return tuple(name for prefix in numbered_prefixes if (name := prefix.rstrip("_")))


def env_keys(
    list_vars: Sequence[str],
    numbered_prefixes: Sequence[str],
    environ: Mapping[str, str] | None = None,
    plain_vars: Sequence[str] | None = None,
) -> list[Key]:
    """The keys the environment holds, as one ordered pool:

    1. the plain variables (``OPENAI_API_KEY``; by default each numbered prefix without its ``_``),
    2. the numbered variables, prefix by prefix, in number order (``OPENAI_API_KEY_1``, ``_2``, ``_10``),
    3. the list variables in order (``OPENAI_API_KEYS``, comma- or newline-separated, blanks ignored).

    A value met twice is kept once, at its first place. A plain variable alone forms no pool (``[]``): it is the
    SDK's own key, which then passes through untouched. Each key is labelled with its variable
    (``OPENAI_API_KEY``, ``OPENAI_API_KEY_2``, ``OPENAI_API_KEYS[0]``), never its value.
    """
    env = os.environ if environ is None else environ
    numbered: list[Key] = []
    for prefix in numbered_prefixes:
        pattern = re.compile(re.escape(prefix) + r"(\d+)")
        found = sorted((int(m.group(1)), name) for name in env if (m := pattern.fullmatch(name)) and env[name].strip())
        numbered.extend(Key(env[name].strip(), name) for _, name in found)
    listed = [
        Key(value, f"{name}[{i}]") for name in list_vars for i, value in enumerate(split_key_list(env.get(name, "")))
    ]
    if not numbered and not listed:
        return []
    plain = [
        Key(env[name].strip(), name)
        for name in (plain_names(numbered_prefixes) if plain_vars is None else plain_vars)
        if env.get(name, "").strip()
    ]
    return list(dict.fromkeys([*plain, *numbered, *listed]))


class EnvSource(KeySource):
    """Keys from environment variables, read again on every ``load()``: the plain variables, then the numbered
    ones, then the list variables, as one pool (see ``env_keys`` for the order; a plain variable alone gives no
    keys, so the SDK's own key passes through)."""

    def __init__(
        self,
        list_vars: Sequence[str],
        numbered_prefixes: Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
        plain_vars: Sequence[str] | None = None,
    ) -> None:
        self.list_vars = tuple(list_vars)
        self.numbered_prefixes = tuple(numbered_prefixes)
        self.plain_vars = plain_names(self.numbered_prefixes) if plain_vars is None else tuple(plain_vars)
        self._environ = environ
        self.name = "env " + "/".join(self.plain_vars + tuple(p + "N" for p in self.numbered_prefixes) + self.list_vars)

    def load(self) -> list[Key]:
        return env_keys(self.list_vars, self.numbered_prefixes, self._environ, self.plain_vars)


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
