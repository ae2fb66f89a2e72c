"""Secrets from a JSON file ``{"<vault>": {"<name>": "<value>"}}`` (the shape of ``secrets create --secret-data``)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from .._errors import ByokConfigError
from ..core.keys import Key
from .base import KeySource, SecretStore, read_text_file

__all__ = ["VaultFile", "VaultFileSource"]

_Vaults = dict[str, dict[str, str]]


class VaultFile(SecretStore):
    """Secrets from a JSON vault file, ``{"<vault>": {"<name>": "<value>"}}``.

    The file is parsed again only when its (mtime_ns, size, inode) changed since the last read. A missing,
    unreadable or malformed file (bad JSON, a vault that is not an object, a value that is not a string) raises
    ``ByokConfigError`` naming the file and the line, column or vault/name, never a value. ``get`` strips the value
    and returns None for an absent or blank one. With ``private=True`` (the file ``byok secrets set`` writes), a
    file that its group or other users can access is refused.
    """

    def __init__(self, path: str | os.PathLike[str], *, private: bool = False) -> None:
        self.path = Path(path)
        self.private = private
        self.name = f"vault-file {self.path}"
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._vaults: _Vaults = {}

    def vaults(self) -> _Vaults:
        """The whole file, ``{vault: {name: value}}`` in file order (parsed again only if the file changed)."""
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                raise ByokConfigError(f"vault-file {self.path}: file not found") from None
            except OSError as e:
                raise ByokConfigError(
                    f"vault-file {self.path}: cannot read ({e.strerror or type(e).__name__})"
                ) from None
            if self.private and os.name == "posix" and st.st_mode & 0o077:
                raise ByokConfigError(
                    f"vault-file {self.path}: refused, it is accessible to its group or other users "
                    f"(mode {st.st_mode & 0o777:o}); run: chmod 600 {self.path}"
                )
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self._stamp:
                self._vaults = self._parse(self._read())
                self._stamp = stamp
            return self._vaults

    def _read(self) -> str:
        return read_text_file(self.path, f"vault-file {self.path}", "file")

    def _parse(self, text: str) -> _Vaults:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as e:  # e.msg is a fixed description; e.doc (the text) is never shown
            raise ByokConfigError(
                f"vault-file {self.path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
            ) from None
        if not isinstance(document, dict):
            raise ByokConfigError(
                f"vault-file {self.path}: the top level must be an object of vaults, not {_json_type(document)}"
            )
        vaults: _Vaults = {}
        for vault, secrets in document.items():
            if not isinstance(secrets, dict):
                raise ByokConfigError(
                    f"vault-file {self.path}: vault {vault!r} must be an object of secrets, not {_json_type(secrets)}"
                )
            for name, value in secrets.items():
                if not isinstance(value, str):
                    raise ByokConfigError(
                        f"vault-file {self.path}: secret {vault}/{name} must be a string, not {_json_type(value)}"
                    )
            vaults[vault] = secrets
        return vaults

    def get(self, vault: str, name: str) -> str | None:
        value = self.vaults().get(vault, {}).get(name)
        return value.strip() if value is not None and value.strip() else None

    def watched_files(self) -> tuple[Path, ...]:
        return (self.path,)

    def file_of(self, vault: str, name: str) -> Path:
        """The vault file: every secret lives in it."""
        return self.path


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


class VaultFileSource(KeySource):
    """Keys from one vault of a JSON vault file (see ``VaultFile``), labelled ``vault-file:<vault>/<name>``.

    With ``names``, those secrets in that order (a missing or blank one is an error); with ``names=None``, every
    secret of the vault in file order, skipping blank values (an empty vault gives no keys, a missing one is an
    error).
    """

    def __init__(self, path: str | os.PathLike[str], vault: str, names: Sequence[str] | None = None) -> None:
        if isinstance(names, str):
            raise ByokConfigError(f"vault-file: names must be a list of secret names, not the str {names!r}")
        self.store = VaultFile(path)
        self.vault = vault
        self.names = None if names is None else tuple(names)
        if self.names == ():
            raise ByokConfigError(f"vault-file {vault}: names is empty (use names=None for every secret)")
        self.name = f"vault-file {self.store.path} {vault}"

    def load(self) -> list[Key]:
        secrets = self.store.vaults().get(self.vault)
        if secrets is None:
            raise ByokConfigError(f"vault-file {self.store.path}: no vault {self.vault!r}")
        if self.names is None:
            return [Key(v.strip(), f"vault-file:{self.vault}/{n}") for n, v in secrets.items() if v.strip()]
        keys = []
        for name in self.names:
            value = secrets.get(name)
            if value is None:
                raise ByokConfigError(f"vault-file {self.store.path}: no secret {self.vault}/{name}")
            if not value.strip():
                raise ByokConfigError(f"vault-file {self.store.path}: secret {self.vault}/{name} is empty")
            keys.append(Key(value.strip(), f"vault-file:{self.vault}/{name}"))
        return keys

    def watched_files(self) -> tuple[Path, ...]:
        return (self.store.path,)
