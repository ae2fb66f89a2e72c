"""The interfaces every key source and secret store implements."""

from __future__ import annotations

import asyncio
import os
import sys
import warnings
from abc import ABC, abstractmethod
from pathlib import Path

from .._errors import ByokConfigError
from ..core.keys import Key

__all__ = ["KeySource", "SecretStore", "read_text_file", "user_stacklevel", "warn_user"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# Frames of these packages sit between a user's call and ours (an SDK constructor calling back into a byok client):
# a warning skips them too, so it lands on the user's line.
_PASS_THROUGH = ("openai", "anthropic", "google", "httpx", "httpx2", "pydantic", "pydantic_settings")


def _library_frame(filename: str) -> bool:
    if filename.startswith(_PACKAGE_DIR):
        return True
    parts = filename.replace("\\", "/").split("/")
    return "site-packages" in parts and any(name in parts for name in _PASS_THROUGH)


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning raised by the caller point at the first frame outside
    byok_client (and the SDKs it calls through): the user's line, however deep inside the library we are."""
    frame = sys._getframe(1)  # the function that will call warnings.warn
    level = 1
    while frame is not None and _library_frame(frame.f_code.co_filename):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the user's line (see ``user_stacklevel``)."""
    warnings.warn(message, category, stacklevel=user_stacklevel())


def read_text_file(path: Path, where: str, kind: str) -> str:
    """A file's text (UTF-8, a BOM skipped). Raises ``ByokConfigError`` starting with ``where`` when the file is
    missing, a directory, unreadable or not UTF-8 (naming the line, never the content: it may hold a key)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ByokConfigError(f"{where}: {kind} not found") from None
    except IsADirectoryError:
        raise ByokConfigError(f"{where}: is a directory, not a {kind}") from None
    except OSError as e:
        raise ByokConfigError(f"{where}: cannot read {kind} ({e.strerror or type(e).__name__})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ByokConfigError(f"{where}: line {line}: not valid UTF-8") from None


class KeySource(ABC):
    """Somewhere keys come from. ``load()`` returns them in order, each labelled with where it came from (never
    its value), and raises ``ByokConfigError`` naming the file, line or field when the source is bad.

    A pool built from sources re-reads them on ``reload()``, when a file in ``watched_files()`` changes, and every
    ``refresh_interval`` seconds (None: only on change or reload).
    """

    name: str = "source"
    refresh_interval: float | None = None

    @abstractmethod
    def load(self) -> list[Key]:
        """The keys, in order."""

    async def aload(self) -> list[Key]:
        """``load()`` without blocking the event loop (file and keyring reads run in a worker thread)."""
        return await asyncio.to_thread(self.load)

    def watched_files(self) -> tuple[Path, ...]:
        """Files whose change (mtime or size) means the keys may have changed."""
        return ()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class SecretStore(ABC):
    """A place that answers ``${secrets.get('vault', 'name')}``: ``get`` returns the value or None if absent."""

    name: str = "store"

    @abstractmethod
    def get(self, vault: str, name: str) -> str | None:
        """The secret ``name`` in ``vault``, or None. Raises ``ByokConfigError`` if the store itself is unreadable."""

    def watched_files(self) -> tuple[Path, ...]:
        """Files whose change means any secret may have changed."""
        return ()

    def file_of(self, vault: str, name: str) -> Path | None:
        """The file that holds (or would hold) this secret, to watch for changes; None if not file-based."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
