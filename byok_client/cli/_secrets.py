"""``byok secrets``: secrets for ``${secrets.get('vault', 'name')}``, kept in the OS keyring when a usable backend
exists, else in a JSON vault file (``BYOK_SECRETS_FILE``, default ``~/.config/byok/secrets.json``) created 0600.

The keyring cannot list its entries, so the names (never the values) of what ``byok secrets set`` put there are
kept in ``keyring-index.json`` next to the default vault file, for ``byok secrets list``."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

from .._errors import ByokConfigError
from ..config import default_secrets_file
from ..core.keys import Key
from ..sources.vault_file import VaultFile

__all__ = ["list_secrets", "read_value", "remove_secret", "set_secret", "store_kind", "vault_path"]


def vault_path() -> Path:
    """The vault file: ``BYOK_SECRETS_FILE`` or the default path."""
    chosen = os.environ.get("BYOK_SECRETS_FILE")
    return Path(chosen) if chosen else default_secrets_file()


def _index_path() -> Path:
    return default_secrets_file().with_name("keyring-index.json")


def keyring_usable() -> bool:
    """Whether the ``keyring`` package is installed and has a real backend (not the fail / null ones)."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return False
    try:
        backend = keyring.get_keyring()
    except Exception:
        return False
    if isinstance(backend, fail.Keyring) or type(backend).__module__.endswith(".null"):
        return False
    chained = getattr(backend, "backends", None)
    return not (chained is not None and not chained)


def store_kind(requested: str | None) -> str:
    """``keyring`` or ``file``: as requested, else the keyring when usable and no vault file is named."""
    if requested == "keyring" and not keyring_usable():
        raise ByokConfigError("no usable keyring backend (install one, or use --store file)")
    if requested:
        return requested
    if os.environ.get("BYOK_SECRETS_FILE") or not keyring_usable():
        return "file"
    return "keyring"


def read_value(vault: str, name: str) -> str:
    """The secret's value: from stdin when it is not a terminal, else a hidden prompt. Never from argv."""
    if sys.stdin is None:
        raise ByokConfigError("no standard input to read the secret from")
    prompt = f"value for {vault}/{name} (hidden): "
    value = (getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.read()).strip()
    if not value:
        raise ByokConfigError(f"secret {vault}/{name}: the value is empty")
    Key(value, f"{vault}/{name}")  # the same checks a key gets (no whitespace inside), naming only the label
    return value


def _check_private(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise ByokConfigError(f"vault-file {path}: not a regular file")
    if os.name == "posix" and mode & 0o077:
        raise ByokConfigError(
            f"vault-file {path}: refused, it is accessible to its group or other users (mode {mode & 0o777:o}); "
            f"run: chmod 600 {path}"
        )


def _read_vaults(path: Path) -> dict[str, dict[str, str]]:
    _check_private(path)
    if not path.exists():
        return {}
    return {vault: dict(secrets) for vault, secrets in VaultFile(path).vaults().items()}


def _write_private(path: Path, document: dict[str, Any]) -> None:
    """Write JSON atomically into a 0600 file (created so, never widened), in a 0700 directory if new."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".byok-", dir=path.parent)  # mkstemp creates the file 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=2, sort_keys=True)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _index() -> dict[str, list[str]]:
    path = _index_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(v): sorted(str(n) for n in names) for v, names in data.items() if isinstance(names, list)}


def set_secret(vault: str, name: str, value: str, kind: str) -> str:
    """Store the secret; returns where (``keyring`` or the vault file's path)."""
    if kind == "keyring":
        import keyring

        keyring.set_password(vault, name, value)
        index = _index()
        index[vault] = sorted({*index.get(vault, []), name})
        _write_private(_index_path(), index)
        return "keyring"
    path = vault_path()
    vaults = _read_vaults(path)
    vaults.setdefault(vault, {})[name] = value
    _write_private(path, vaults)
    return str(path)


def list_secrets() -> list[dict[str, str]]:
    """Every vault and name in the vault file and the keyring index (names only)."""
    rows: list[dict[str, str]] = []
    path = vault_path()
    for vault, secrets in _read_vaults(path).items():
        rows.extend({"vault": vault, "name": name, "store": str(path)} for name in secrets)
    for vault, names in _index().items():
        rows.extend({"vault": vault, "name": name, "store": "keyring"} for name in names)
    return sorted(rows, key=lambda r: (r["vault"], r["name"], r["store"]))


def remove_secret(vault: str, name: str, kind: str | None) -> list[str]:
    """Remove the secret from the vault file and/or the keyring; returns where it was removed from."""
    removed = []
    if kind in (None, "file"):
        path = vault_path()
        vaults = _read_vaults(path)
        if name in vaults.get(vault, {}):
            del vaults[vault][name]
            if not vaults[vault]:
                del vaults[vault]
            _write_private(path, vaults)
            removed.append(str(path))
    if kind in (None, "keyring") and keyring_usable():
        import keyring
        import keyring.errors

        try:
            keyring.delete_password(vault, name)
            removed.append("keyring")
        except keyring.errors.PasswordDeleteError:
            pass
        index = _index()
        if name in index.get(vault, []):
            index[vault] = [n for n in index[vault] if n != name]
            _write_private(_index_path(), {v: n for v, n in index.items() if n})
    return removed
