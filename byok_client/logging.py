"""A logging filter that scrubs API keys from log records.

``register_keys`` records the keys a pool uses (``KeyPool`` calls it whenever keys are installed);
``KeyScrubFilter`` replaces each registered value in a record's message, exception and stack text with
``[key:<label>]`` and any ``?key=...`` / ``&key=...`` query parameter with ``key=***``.

``install_scrub_filter()`` adds the filter to the ``byok_client`` logger. A logger's filters only see records
logged on that very logger (not those propagated from child loggers), so to scrub everything a process logs, add a
``KeyScrubFilter()`` to your handlers instead: ``handler.addFilter(KeyScrubFilter())``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import weakref
from collections.abc import Iterable

from .core.keys import Key

__all__ = ["KeyScrubFilter", "install_scrub_filter", "register_keys"]

# value -> Key, held weakly: a value is forgotten (and no longer scrubbed) once no pool holds its Key.
_registry: weakref.WeakValueDictionary[str, Key] = weakref.WeakValueDictionary()
_version = 0
_lock = threading.Lock()

_QUERY_KEY = re.compile(r"([?&]key=)(?!\[key:)[^&\s'\"]+", re.IGNORECASE)
# Provider keys are made of these characters; a value made only of them is found by token lookup (O(text) whatever
# the number of keys). Rarer values go through a trie regex.
_TOKEN_CHARS = "A-Za-z0-9_\\-.~+/"
_TOKEN = re.compile(f"[{_TOKEN_CHARS}]+")
_PLAIN_VALUE = re.compile(f"[{_TOKEN_CHARS}]+")


def register_keys(keys: Iterable[Key]) -> None:
    """Remember ``keys`` so ``KeyScrubFilter`` replaces their values with ``[key:<label>]``, for as long as the
    keys exist. Registering a key again updates its label. Never raises for a non-``Key`` item: it is skipped.
    """
    global _version
    items = [k for k in keys if isinstance(k, Key)]
    if not items:
        return
    with _lock:
        changed = False
        for key in items:
            current = _registry.get(key.get_secret_value())
            if current is None or current.label != key.label:
                _registry[key.get_secret_value()] = key
                changed = True
        if changed:
            _version += 1


def _reset_registry() -> None:
    """Forget every registered key (for tests)."""
    global _version
    with _lock:
        _registry.clear()
        _version += 1


_Trie = dict[str, "_Trie"]


def _trie_pattern(values: Iterable[str]) -> str:
    """A regex matching any of ``values``, built from their trie so matching costs O(text), not O(text * keys).

    Longer values win over their own prefixes (the optional groups are greedy).
    """
    end = ""  # a child marking "a value ends here"; real edges are single characters
    root: _Trie = {}
    for value in values:
        node = root
        for char in value:
            node = node.setdefault(char, {})
        node[end] = {}

    # Iterative post-order emission: values may be long, so no recursion on their length.
    out: dict[int, str] = {}
    stack: list[tuple[_Trie, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        children = [(char, child) for char, child in node.items() if char != end]
        if not expanded:
            stack.append((node, True))
            stack.extend((child, False) for _, child in children)
            continue
        alternatives = [re.escape(char) + out.pop(id(child)) for char, child in children]
        optional = end in node
        if not alternatives:
            out[id(node)] = ""
        elif len(alternatives) == 1 and not optional:
            out[id(node)] = alternatives[0]
        else:
            group = "(?:" + "|".join(alternatives) + ")"
            out[id(node)] = group + "?" if optional else group
    return out[id(root)]


class KeyScrubFilter(logging.Filter):
    """Replaces registered key values with ``[key:<label>]`` and ``key=`` query parameters with ``key=***``.

    The record is formatted once (``getMessage()``), scrubbed, and stored back as ``msg`` with empty ``args``;
    an exception is formatted, scrubbed and stored in ``exc_text`` (``exc_info`` is cleared). Records without a
    secret are left as they were. The filter never raises and always returns True.
    """

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._cache_lock = threading.Lock()
        # (registry version, value -> label, regex of the values outside the token alphabet or None), swapped whole
        # so a reader on another thread never pairs new values with old labels.
        self._cache: tuple[int, dict[str, str], re.Pattern[str] | None] = (-1, {}, None)

    def _compiled(self) -> tuple[dict[str, str], re.Pattern[str] | None]:
        """The value -> label map and the regex for unusual values, rebuilt only when the registry changed."""
        version, labels, pattern = self._cache
        if version == _version:
            return labels, pattern
        with self._cache_lock:
            with _lock:
                version = _version
                labels = {value: key.label for value, key in _registry.items()}
            if self._cache[0] != version:
                unusual = [v for v in labels if not _PLAIN_VALUE.fullmatch(v)]
                pattern = re.compile(_trie_pattern(unusual)) if unusual else None
                self._cache = (version, labels, pattern)
            return self._cache[1], self._cache[2]

    def scrub(self, text: str) -> str:
        """``text`` with every registered key value and ``key=`` query parameter replaced."""
        labels, pattern = self._compiled()
        if labels:

            def token(match: re.Match[str]) -> str:
                word = match.group(0)
                label = labels.get(word)
                if label is not None:
                    return f"[key:{label}]"
                stripped = word.rstrip("./+~-_")  # a key at the end of a sentence or path
                label = labels.get(stripped) if stripped != word else None
                return f"[key:{label}]{word[len(stripped) :]}" if label is not None else word

            text = _TOKEN.sub(token, text)
        if pattern is not None:
            text = pattern.sub(lambda m: f"[key:{labels.get(m.group(0), '?')}]", text)
        return _QUERY_KEY.sub(r"\1***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub ``record`` in place; always True."""
        with contextlib.suppress(Exception):  # a filter that raises would break logging
            self._scrub_record(record)
        return True

    def _scrub_record(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        scrubbed = self.scrub(message)
        if scrubbed != message:
            record.msg = scrubbed
            record.args = ()
        before = record.exc_text
        if not before and record.exc_info and record.exc_info[0] is not None:
            before = logging.Formatter().formatException(record.exc_info)
        if before:
            after = self.scrub(before)
            if after != before:
                record.exc_text = after
                # Handlers would otherwise format the raw exception again.
                record.exc_info = None
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)


def install_scrub_filter(logger: logging.Logger | None = None) -> KeyScrubFilter:
    """Add a ``KeyScrubFilter`` to ``logger`` (default: the ``byok_client`` logger) unless it has one; return it."""
    target = logger if logger is not None else logging.getLogger("byok_client")
    for existing in target.filters:
        if isinstance(existing, KeyScrubFilter):
            return existing
    scrub_filter = KeyScrubFilter()
    target.addFilter(scrub_filter)
    return scrub_filter
