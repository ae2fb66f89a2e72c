"""Keys from environment variables: a list (``OPENAI_API_KEYS=a,b``) or numbered (``OPENAI_API_KEY_1``, ...)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from .._keys import Key

__all__ = ["env_keys", "split_key_list"]


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
