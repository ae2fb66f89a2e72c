"""Keys from a function you write: sync or ``async def``, returning the keys."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeAlias

from .._errors import ByokConfigError
from ..core.keys import Key
from .base import KeySource

__all__ = ["CallableSource", "KeysFunction"]

KeysFunction: TypeAlias = Callable[[], Iterable[str | Key] | Awaitable[Iterable[str | Key]]]
"""A function returning the keys, or an awaitable of them."""


class _Pending:
    """An awaitable result, not yet awaited."""

    def __init__(self, awaitable: Awaitable[object]) -> None:
        self.awaitable = awaitable


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class CallableSource(KeySource):
    """Keys from ``fn()``: an iterable of ``str``/``Key``, or an awaitable of one (``async def``).

    Strings are labelled ``<name>[i]`` (``name`` defaults to the function's ``__qualname__``). ``load()`` runs an
    async ``fn`` with ``asyncio.run`` when no event loop runs in this thread, and refuses to (``ByokConfigError``)
    inside a running loop: use ``aload()`` there, which awaits it (a sync ``fn`` runs in a worker thread).

    An exception from ``fn``, a result that is not an iterable, or an item that is not a ``str``/``Key`` raises
    ``ByokConfigError`` naming the source; the original exception is its ``__cause__`` and its message is not
    repeated (it may hold a key).
    """

    def __init__(self, fn: KeysFunction, refresh_interval: float | None = 300.0, name: str | None = None) -> None:
        if not callable(fn):
            raise ByokConfigError(f"CallableSource: fn must be callable, not {type(fn).__name__}")
        if refresh_interval is not None and refresh_interval <= 0:
            raise ByokConfigError(f"CallableSource: refresh_interval must be > 0 or None, not {refresh_interval!r}")
        self._fn = fn
        self.refresh_interval = refresh_interval
        self.name = name or getattr(fn, "__qualname__", None) or type(fn).__qualname__

    def load(self) -> list[Key]:
        if _loop_running() and inspect.iscoroutinefunction(self._fn):
            raise self._use_aload()
        result = self._call()
        if isinstance(result, _Pending):
            if _loop_running():
                if inspect.iscoroutine(result.awaitable):
                    result.awaitable.close()  # never awaited, on purpose: no "never awaited" warning
                raise self._use_aload()
            return self._keys(asyncio.run(self._await(result.awaitable)))
        return result

    async def aload(self) -> list[Key]:
        if inspect.iscoroutinefunction(self._fn):
            result = self._call()
        else:
            result = await asyncio.to_thread(self._call)
        if isinstance(result, _Pending):
            return self._keys(await self._await(result.awaitable))
        return result

    def _call(self) -> list[Key] | _Pending:
        """Call ``fn``; its keys, or the awaitable it returned."""
        try:
            result = self._fn()
        except Exception as e:
            raise self._failed(e) from e
        if inspect.isawaitable(result):
            return _Pending(result)
        return self._keys(result)

    async def _await(self, awaitable: Awaitable[object]) -> object:
        try:
            return await awaitable
        except Exception as e:
            raise self._failed(e) from e

    def _keys(self, result: object) -> list[Key]:
        if isinstance(result, str | bytes) or not isinstance(result, Iterable):
            raise ByokConfigError(
                f"key source {self.name!r} returned {_a(type(result).__name__)}, not an iterable of str or Key"
            )
        keys = []
        try:
            for i, item in enumerate(result):
                if isinstance(item, Key):
                    keys.append(item)
                elif isinstance(item, str):
                    try:
                        keys.append(Key(item, f"{self.name}[{i}]"))
                    except ByokConfigError as e:  # "a key is empty" does not say whose: add the source
                        raise ByokConfigError(f"key source {self.name!r}: item {i}: {e}") from e
                else:
                    raise ByokConfigError(
                        f"key source {self.name!r}: item {i} is {_a(type(item).__name__)}, not a str or Key"
                    )
        except ByokConfigError:
            raise
        except Exception as e:  # raised while iterating a generator
            raise self._failed(e) from e
        return keys

    def _failed(self, e: Exception) -> ByokConfigError:
        return ByokConfigError(
            f"key source {self.name!r} raised {type(e).__name__} (message withheld: see the chained exception)"
        )

    def _use_aload(self) -> ByokConfigError:
        return ByokConfigError(
            f"key source {self.name!r} is async and an event loop is running in this thread: use aload() "
            "(load() would block the loop)"
        )


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"
