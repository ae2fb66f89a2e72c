"""Key selection written in CEL, as the AI gateway's ``api_key_selection.strategy`` (extra ``cel``).

```yaml
providers:
  - id: openai
    api_key_selection:
      strategy:
        - "ai.keys.filter(k, k.quota.remaining_requests > 100)"
        - "ai.keys"
```

Each expression gets ``ai.keys`` (the usable keys, in pool order) and must return a list of them; the first
expression that returns a non-empty list wins and its first key is used. Each key has ``k.label``,
``k.quota.remaining_requests``, ``k.quota.remaining_tokens`` (a very large number until the provider reports one),
``k.error_rate.total``, ``k.error_rate.rate_limit``, ``k.error_rate.timeout`` (shares over the last minute),
``k.in_flight`` and ``k.weight``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._errors import ByokConfigError, MissingDependencyError
from .core.selection import KeyView

__all__ = ["CelStrategy"]

_UNKNOWN = 2**53  # "plenty": a key the provider has not reported on yet is not filtered out by quota checks


class CelStrategy:
    """A strategy (pass as ``strategy=``) from CEL expressions tried in order. Raises ``ByokConfigError`` for an
    expression that does not compile, ``MissingDependencyError`` without the ``cel`` extra."""

    def __init__(self, expressions: Sequence[str], where: str = "api_key_selection.strategy") -> None:
        try:
            import cel
        except ImportError:
            raise MissingDependencyError("common-expression-language", "cel") from None
        if isinstance(expressions, str) or not expressions:
            raise ByokConfigError(f"{where}: must be a non-empty list of CEL expressions")
        self.expressions = tuple(expressions)
        self._programs = []
        for i, expression in enumerate(self.expressions):
            if not isinstance(expression, str):
                raise ByokConfigError(f"{where}[{i}]: must be a CEL expression string, not {type(expression).__name__}")
            try:
                self._programs.append(cel.compile(expression))
            except ValueError as exc:
                raise ByokConfigError(f"{where}[{i}]: not a valid CEL expression: {exc}") from None
        self._where = where

    def __call__(self, keys: list[KeyView]) -> KeyView | None:
        context = {"ai": {"keys": [_as_map(k) for k in keys]}}
        for i, program in enumerate(self._programs):
            try:
                result = program.execute(context)
            except Exception as exc:
                raise ByokConfigError(f"{self._where}[{i}]: evaluation failed: {exc}") from None
            if isinstance(result, list) and result:
                first = result[0]
                if isinstance(first, dict) and isinstance(first.get("index"), int):
                    return keys[[k.index for k in keys].index(first["index"])]
        return None

    def __repr__(self) -> str:
        return f"CelStrategy({list(self.expressions)!r})"


def _as_map(key: KeyView) -> dict[str, Any]:
    return {
        "index": key.index,
        "label": key.label,
        "weight": key.weight,
        "in_flight": key.in_flight,
        "quota": {
            "remaining_requests": _UNKNOWN if key.remaining_requests is None else key.remaining_requests,
            "remaining_tokens": _UNKNOWN if key.remaining_tokens is None else key.remaining_tokens,
        },
        "error_rate": {
            "total": key.error_rate_total,
            "rate_limit": key.error_rate_rate_limit,
            "timeout": key.error_rate_timeout,
        },
    }
