"""`Key`: an API key that never reveals its value by accident."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from .._errors import ByokConfigError

__all__ = ["Key", "coerce_keys", "fingerprint_of", "key_problem"]


def fingerprint_of(value: str) -> str:
    """The short, non-reversible fingerprint shown for a key value (8 hex digits of its SHA-256)."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def key_problem(value: str) -> str | None:
    """What is wrong with a key value, in words that never quote it ("contains whitespace (character 12)"), or
    None for a valid key: a non-empty string of printable ASCII without whitespace. Real API keys are exactly
    that; anything else is a copy-paste slip (a space, a zero-width space, a Cyrillic look-alike, an é), and a
    newline would be header injection."""
    if not value:
        return "is empty"
    if value.isascii() and value.isprintable() and " " not in value:
        return None
    for index, char in enumerate(value, start=1):
        code = ord(char)
        if 32 < code < 127:
            continue
        if char.isspace():
            kind = "whitespace" if code < 128 else "non-ASCII whitespace"
        elif code < 128:
            kind = "a control character"
        else:
            kind = "a non-ASCII character"
        return f"contains {kind} (character {index}); a key must be printable ASCII without whitespace"
    return None


class Key:
    """An API key with a label, and optionally a ``weight`` (for the weighted strategy) and ``max_in_flight``
    (concurrent requests it should carry; more spill over to other keys, and when every key is full the one with
    the fewest in flight serves: the cap never refuses a request), and ``rpm`` / ``tpm`` / ``rpd``: a ceiling of
    requests a minute, tokens a minute and requests a day the pool keeps the key under (on top of the limits it
    learns from the provider's rate-limit headers; see ``byok_client.core.budget``).

    ``repr``/``str`` show only the label (or ``key-<fingerprint>``), equality and hashing go by the value's
    digest, and pickling is refused so the value never lands in a pickle. ``get_secret_value()`` returns the value.

    Raises ``ByokConfigError`` for a value that is not a non-empty string of printable ASCII without whitespace
    (the message says what is wrong and where, never the value), a weight that is not positive, or a
    ``max_in_flight`` below 1, or an ``rpm``/``tpm``/``rpd`` that is not an int >= 1.
    """

    __slots__ = (
        "__weakref__",
        "_digest",
        "_value",
        "fingerprint",
        "label",
        "max_in_flight",
        "rpd",
        "rpm",
        "tpm",
        "weight",
    )

    _value: str
    _digest: str
    fingerprint: str
    label: str
    weight: float
    max_in_flight: int | None
    rpm: int | None
    tpm: int | None
    rpd: int | None

    def __init__(
        self,
        value: str,
        label: str | None = None,
        *,
        weight: float = 1.0,
        max_in_flight: int | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
        rpd: int | None = None,
    ) -> None:
        if isinstance(value, Key):
            value = value.get_secret_value()
        if not isinstance(value, str):
            raise ByokConfigError(f"a key must be a str, not {type(value).__name__}")
        if not value:
            raise ByokConfigError("a key is empty")
        if label is not None and not isinstance(label, str):
            raise ByokConfigError(f"a key label must be a str, not {type(label).__name__}")
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
        name = label or f"key-{digest[:8]}"
        problem = key_problem(value)
        if problem is not None:
            raise ByokConfigError(f"key {name!r} {problem}")
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
        for field, limit in (("rpm", rpm), ("tpm", tpm), ("rpd", rpd)):
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
                raise ByokConfigError(f"key {name!r}: {field} must be an int >= 1 or None, got {limit!r}")
            object.__setattr__(self, field, limit)
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
        return Key(
            self._value,
            label,
            weight=self.weight,
            max_in_flight=self.max_in_flight,
            rpm=self.rpm,
            tpm=self.tpm,
            rpd=self.rpd,
        )

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


def coerce_keys(items: object, existing: Iterable[Key] = ()) -> list[Key]:
    """Check a whole ``api_keys`` argument and return its keys, in order.

    ``items`` must be an iterable (a list, a tuple, a generator) of ``str`` or ``Key``; surrounding whitespace of
    a ``str`` is dropped, and a ``str`` equal to one of the ``existing`` keys becomes that key (its label kept:
    ``pool.reload([...])`` with plain strings).

    Raises ``ByokConfigError`` naming the position, never the value, for: an argument of the wrong type (a single
    str or Key, bytes, a dict, a set, whose order would change from run to run, a number), an item of the wrong
    type ("key #3 must be a str or Key, not bytes"), an empty or invalid key, and a duplicate."""
    if isinstance(items, str | Key):
        raise ByokConfigError(f"api_keys must be a list of keys, not a single {type(items).__name__}: wrap it in [...]")
    if isinstance(items, bytes | bytearray | memoryview | Mapping | set | frozenset) or not isinstance(items, Iterable):
        raise ByokConfigError(f"api_keys must be a list or tuple of str or Key, not {type(items).__name__}")
    known = {key: key for key in existing}
    result: list[Key] = []
    seen: dict[Key, int] = {}
    for position, item in enumerate(items, start=1):
        if isinstance(item, Key):
            key = item
        elif isinstance(item, str):
            value = item.strip()
            problem = key_problem(value)
            if problem is not None:
                raise ByokConfigError(f"key #{position} {problem}")
            key = Key(value)
            key = known.get(key, key)
        else:
            raise ByokConfigError(f"key #{position} must be a str or Key, not {type(item).__name__}")
        if key in seen:
            raise ByokConfigError(f"key #{position} ({key.label}) duplicates key #{seen[key]}")
        seen[key] = position
        result.append(key)
    return result
