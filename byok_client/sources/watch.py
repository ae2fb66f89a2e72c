"""Watching a pool's key sources: file signatures, refresh intervals and (re)loading. All the I/O of a pool's
sources lives here; the pool itself only installs the keys it is given."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Sequence

from .._errors import ByokConfigError
from ..core.keys import Key
from .base import KeySource

__all__ = ["SourceWatcher"]

FileSignature = tuple[int, int] | None


def _signature(path: str) -> FileSignature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


class SourceWatcher:
    """Loads keys from ``sources`` and tells when they should be loaded again: a watched file changed (checked at
    most once per ``check_interval``) or a source's ``refresh_interval`` passed. Only one caller at a time checks;
    the others go on with the keys they have."""

    def __init__(self, sources: Sequence[KeySource], clock: Callable[[], float], check_interval: float = 1.0) -> None:
        self.sources: tuple[KeySource, ...] = tuple(sources)
        self._clock = clock
        self._check_interval = check_interval
        self._next_check = clock() + check_interval
        intervals = [s.refresh_interval for s in self.sources if s.refresh_interval]
        self._refresh_interval: float | None = min(intervals) if intervals else None
        self._next_timed = clock() + (self._refresh_interval or 0.0)
        self._files: dict[str, FileSignature] = {}
        self._checking = threading.Lock()

    def due(self) -> bool:
        """Cheap, no I/O: whether a check is due (the request path calls this on every request)."""
        return bool(self.sources) and self._clock() >= self._next_check

    def try_begin(self) -> bool:
        """Claim the check; False if another thread or task is checking."""
        return self._checking.acquire(blocking=False)

    def end(self) -> None:
        self._checking.release()

    def changed(self) -> bool:
        """Whether the sources should be read again (stats the watched files)."""
        now = self._clock()
        self._next_check = now + self._check_interval
        if self._refresh_interval is not None and now >= self._next_timed:
            return True
        return any(_signature(path) != sig for path, sig in self._files.items())

    def _signatures(self) -> dict[str, FileSignature]:
        return {str(f): _signature(str(f)) for s in self.sources for f in s.watched_files()}

    def _watch(self, before: dict[str, FileSignature]) -> None:
        """Remember the files to watch: known ones as they were before the read (so a change during the read is
        seen next time), files the read just learned of (a config's secret files) as they are now."""
        self._files = {path: before.get(path, sig) for path, sig in self._signatures().items()}
        if self._refresh_interval is not None:
            self._next_timed = self._clock() + self._refresh_interval

    def load(self) -> list[Key]:
        """Every source's keys, in order. Raises ``ByokConfigError`` when a source fails or none yields a key."""
        before = self._signatures()
        keys = self._checked([key for source in self.sources for key in source.load()])
        self._watch(before)
        return keys

    async def aload(self) -> list[Key]:
        """``load()`` for the event loop: async sources awaited, file work in a worker thread."""
        before = await asyncio.to_thread(self._signatures)
        keys = self._checked([key for source in self.sources for key in await source.aload()])
        await asyncio.to_thread(self._watch, before)
        return keys

    def adopt(self, keys: list[Key]) -> list[Key]:
        """Keys already loaded (by ``KeyPool.acreate``): checked, and their files watched from now."""
        checked = self._checked(keys)
        self._watch(self._signatures())
        return checked

    def _checked(self, keys: list[Key]) -> list[Key]:
        if not keys:
            names = ", ".join(s.name for s in self.sources)
            raise ByokConfigError(f"the key sources returned no keys ({names})")
        return keys
