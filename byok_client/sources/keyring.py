"""Secrets from the OS keyring (macOS Keychain, Windows Credential Locker, Secret Service) via the optional
``keyring`` package: service = vault, username = name."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .._errors import ByokConfigError, MissingDependencyError
from ..core.keys import Key
from .base import KeySource, SecretStore

__all__ = ["KeyringSource", "KeyringStore"]


def _get_password() -> Callable[[str, str], str | None]:
    try:
        import keyring
    except ImportError as e:
        raise MissingDependencyError("keyring", "keyring") from e
    return keyring.get_password


def _read(vault: str, name: str) -> str | None:
    get_password = _get_password()
    try:
        value = get_password(vault, name)
    except Exception as e:
        from keyring.errors import KeyringError

        # keyring's own errors say what is wrong with the backend; another library's message is left to the cause.
        detail = f": {e}" if isinstance(e, KeyringError) else ""
        raise ByokConfigError(f"keyring: reading {vault}/{name} failed ({type(e).__name__}{detail})") from e
    if value is not None and not isinstance(value, str):
        raise ByokConfigError(f"keyring: {vault}/{name} is a {type(value).__name__}, not a str")
    return value.strip() if value is not None and value.strip() else None


class KeyringStore(SecretStore):
    """Secrets from the OS keyring: ``get(vault, name)`` is ``keyring.get_password(vault, name)`` (stripped; None
    if absent or blank). A backend error is a ``ByokConfigError``; without the ``keyring`` extra,
    ``MissingDependencyError``."""

    name = "keyring"

    def get(self, vault: str, name: str) -> str | None:
        return _read(vault, name)


class KeyringSource(KeySource):
    """Keys from the OS keyring: password of service ``vault``, username ``name``, for each name in order,
    labelled ``keyring:<vault>/<name>``. A missing one is a ``ByokConfigError``. Read again every
    ``refresh_interval`` seconds (keyring entries have no file to watch)."""

    def __init__(self, vault: str, names: Sequence[str], refresh_interval: float = 60.0) -> None:
        if isinstance(names, str):
            raise ByokConfigError(f"keyring: names must be a list of usernames, not the str {names!r}")
        self.vault = vault
        self.names = tuple(names)
        if not self.names:
            raise ByokConfigError(f"keyring {vault}: names is empty")
        if refresh_interval <= 0:
            raise ByokConfigError(f"keyring {vault}: refresh_interval must be > 0, not {refresh_interval!r}")
        self.refresh_interval = refresh_interval
        self.name = f"keyring {vault}"

    def load(self) -> list[Key]:
        keys = []
        for name in self.names:
            value = _read(self.vault, name)
            if value is None:
                raise ByokConfigError(f"keyring: no password for service {self.vault!r}, username {name!r}")
            keys.append(Key(value, f"keyring:{self.vault}/{name}"))
        return keys
