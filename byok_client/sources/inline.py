"""Keys given in code."""

from __future__ import annotations

from collections.abc import Iterable

from ..core.keys import Key
from .base import KeySource

__all__ = ["InlineSource"]


class InlineSource(KeySource):
    """A fixed list of keys (``api_keys=[...]``). Strings are labelled ``inline[i]``."""

    name = "inline"

    def __init__(self, keys: Iterable[str | Key]) -> None:
        self._keys = [k if isinstance(k, Key) else Key(k, f"inline[{i}]") for i, k in enumerate(keys)]

    def load(self) -> list[Key]:
        return list(self._keys)
