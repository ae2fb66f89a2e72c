"""`Key`: an API key that never reveals its value by accident."""

from __future__ import annotations

import hashlib
from typing import Any, NoReturn

from .._errors import ByokConfigError

__all__ = ["Key", "fingerprint_of"]


def fingerprint_of(value: str) -> str:
    """The short, non-reversible fingerprint shown for a key value (8 hex digits of its SHA-256)."""
    return hashlib.sha256(value.encode()).hexdigest()[:8]


class Key:
    """An API key with a label, and optionally a ``weight`` (for the weighted strategy) and ``max_in_flight``
    (concurrent requests it should carry; more spill over to other keys, and when every key is full the one with
    the fewest in flight serves: the cap never refuses a request).

    ``repr``/``str`` show only the label (or ``key-<fingerprint>``), equality and hashing go by the value's
    digest, and pickling is refused so the value never lands in a pickle. ``get_secret_value()`` returns the value.

    Raises ``ByokConfigError`` for a value that is not a non-empty string without whitespace or control characters,
    a weight that is not positive, or a ``max_in_flight`` below 1.
    """

    __slots__ = ("__weakref__", "_digest", "_value", "fingerprint", "label", "max_in_flight", "weight")

    _value: str
    _digest: str
    fingerprint: str
    label: str
    weight: float
    max_in_flight: int | None

    def __init__(
        self, value: str, label: str | None = None, *, weight: float = 1.0, max_in_flight: int | None = None
    ) -> None:
        if isinstance(value, Key):
            value = value.get_secret_value()
        if not isinstance(value, str):
            raise ByokConfigError(f"a key must be a str, not {type(value).__name__}")
        if not value:
            raise ByokConfigError("a key is empty")
        if label is not None and not isinstance(label, str):
            raise ByokConfigError(f"a key label must be a str, not {type(label).__name__}")
        digest = hashlib.sha256(value.encode()).hexdigest()
        name = label or f"key-{digest[:8]}"
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
            # A newline inside a header value is header injection; a space is a copy-paste slip.
            raise ByokConfigError(f"key {name!r} contains whitespace or control characters")
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "_digest", digest)
        object.__setattr__(self, "fingerprint", digest[:8])
        object.__setattr__(self, "label", name)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < float("inf"):
            raise ByokConfigError(f"key {name!r}: weight must be a positive number, got {weight!r}")
        if max_in_flight is not None and (
            isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1
        ):
            raise ByokConfigError(f"key {name!r}: max_in_flight must be an int >= 1 or None, got {max_in_flight!r}")
        object.__setattr__(self, "weight", float(weight))
        object.__setattr__(self, "max_in_flight", max_in_flight)

    @classmethod
    def coerce(cls, item: str | Key, label: str | None = None) -> Key:
        """Return ``item`` if it is a ``Key``, else a new ``Key`` with ``label``."""
        if isinstance(item, Key):
            return item
        return cls(item, label)

    def get_secret_value(self) -> str:
        """The key's value. The only way to read it."""
        return self._value

    def with_label(self, label: str) -> Key:
        """The same key under another label."""
        return Key(self._value, label, weight=self.weight, max_in_flight=self.max_in_flight)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Key is immutable")

    def __repr__(self) -> str:
        return f"Key({self.label!r}, fingerprint={self.fingerprint!r})"

    def __str__(self) -> str:
        return self.label

    def __format__(self, spec: str) -> str:
        return format(self.label, spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Key) and other._digest == self._digest

    def __hash__(self) -> int:
        return hash(self._digest)

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"Key {self.label!r} cannot be pickled: it holds a secret")

    def __copy__(self) -> Key:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Key:
        return self
