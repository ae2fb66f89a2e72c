"""Secrets mounted as files, ``<dir>/<vault>/<name>``: the Docker and Kubernetes secret mount shape."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from .._errors import ByokConfigError
from ..core.keys import Key
from .base import KeySource, SecretStore

__all__ = ["SecretsDir", "SecretsDirSource"]


def _check_part(what: str, part: str) -> str:
    """``part`` if it is a plain file name; ``ByokConfigError`` for anything that could leave the directory."""
    if not isinstance(part, str) or not part or part == "." or any(bad in part for bad in ("/", "\\", "..", "\0")):
        raise ByokConfigError(f"secrets-dir: invalid {what} {part!r}: it must be a plain file name")
    return part


def _read_secret(path: Path) -> str | None:
    """The stripped content of ``path`` ("" if blank), or None if it does not exist."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise ByokConfigError(f"secrets-dir: {path} is {kind}, not a secret file")
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except NotADirectoryError:  # the vault is a file: there is no such secret
        return None
    except OSError as e:
        raise ByokConfigError(f"secrets-dir: cannot read {path} ({e.strerror or type(e).__name__})") from None
    try:
        return data.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise ByokConfigError(f"secrets-dir: {path} is not valid UTF-8") from None


class SecretsDir(SecretStore):
    """Secrets as files under ``directory``: ``get("openai", "key-1")`` reads ``<directory>/openai/key-1``,
    stripped of surrounding whitespace.

    A missing (or empty) file is None; a directory or an unreadable file where the secret should be is a
    ``ByokConfigError``, and so is a vault or name that is not a plain file name (no path traversal).
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.name = f"secrets-dir {self.directory}"

    def file_of(self, vault: str, name: str) -> Path:
        """The file that holds ``vault``/``name``. Raises ``ByokConfigError`` for a vault or name that is not a
        plain file name."""
        return self.directory / _check_part("vault", vault) / _check_part("secret name", name)

    def get(self, vault: str, name: str) -> str | None:
        return _read_secret(self.file_of(vault, name)) or None


class SecretsDirSource(KeySource):
    """Keys from the files of ``<directory>/<vault>/``, labelled ``secrets-dir:<vault>/<name>``.

    With ``names``, those secrets in that order (a missing or empty one is an error). With ``names=None``, every
    regular file of the vault directory sorted by name, skipping hidden entries (Kubernetes' ``..data``) and
    empty files; an empty vault directory gives no keys, a missing one is an error.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        vault: str,
        names: Sequence[str] | None = None,
    ) -> None:
        if isinstance(names, str):
            raise ByokConfigError(f"secrets-dir: names must be a list of secret names, not the str {names!r}")
        self.store = SecretsDir(directory)
        self.vault = _check_part("vault", vault)
        self.names = None if names is None else tuple(_check_part("secret name", n) for n in names)
        if self.names == ():
            raise ByokConfigError(f"secrets-dir {self.vault}: names is empty (use names=None for every file)")
        self.name = f"secrets-dir {self.store.directory / self.vault}"

    @property
    def vault_dir(self) -> Path:
        """``<directory>/<vault>``."""
        return self.store.directory / self.vault

    def load(self) -> list[Key]:
        if self.names is None:
            return self._load_all()
        keys = []
        for name in self.names:
            path = self.store.file_of(self.vault, name)
            value = _read_secret(path)
            if value is None:
                raise ByokConfigError(f"secrets-dir: secret {self.vault}/{name} not found ({path})")
            if not value:
                raise ByokConfigError(f"secrets-dir: secret {self.vault}/{name} is empty ({path})")
            keys.append(Key(value, f"secrets-dir:{self.vault}/{name}"))
        return keys

    def _list(self) -> list[str]:
        """The vault directory's visible regular files, sorted."""
        directory = self.vault_dir
        try:
            with os.scandir(directory) as entries:
                return sorted(e.name for e in entries if not e.name.startswith(".") and e.is_file())
        except FileNotFoundError:
            raise ByokConfigError(f"secrets-dir: vault directory {directory} not found") from None
        except NotADirectoryError:
            raise ByokConfigError(f"secrets-dir: {directory} is not a directory") from None
        except OSError as e:
            raise ByokConfigError(f"secrets-dir: cannot list {directory} ({e.strerror or type(e).__name__})") from None

    def _load_all(self) -> list[Key]:
        keys = []
        for name in self._list():
            value = _read_secret(self.vault_dir / name)
            if value:  # removed since the listing (None) or empty (""): skipped
                keys.append(Key(value, f"secrets-dir:{self.vault}/{name}"))
        return keys

    def watched_files(self) -> tuple[Path, ...]:
        """The named files; for ``names=None`` the vault directory (for added or removed files) and every file
        in it now (empty ones too, for when they are filled), whether or not ``load()`` ran yet."""
        if self.names is not None:
            return tuple(self.store.file_of(self.vault, name) for name in self.names)
        try:
            names = self._list()
        except ByokConfigError:
            names = []
        return (self.vault_dir, *(self.vault_dir / name for name in names))
