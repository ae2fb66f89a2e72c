"""Key sources and secret stores on real files: .env, secrets directories, JSON vault files, the keyring, callables."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.errors
import pytest

import byok_client.sources as sources
from byok_client._errors import ByokConfigError, MissingDependencyError
from byok_client.core.keys import Key
from byok_client.sources import (
    CallableSource,
    DotenvSource,
    KeyringSource,
    KeyringStore,
    SecretsDir,
    SecretsDirSource,
    VaultFile,
    VaultFileSource,
    read_dotenv,
)

SECRET = "sk-live-SECRETVALUE0123456789"
AS_ROOT = pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")


def values(keys: list[Key]) -> list[str]:
    return [k.get_secret_value() for k in keys]


def labels(keys: list[Key]) -> list[str]:
    return [k.label for k in keys]


def named(path: Path) -> str:
    """A ``match=`` pattern for a message that names ``path``."""
    return re.escape(str(path))


def write_unreadable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0)
    return path


# --- .env -------------------------------------------------------------------------------------------------------


def test_read_dotenv_syntax(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    text = (
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "export EXPORTED=1\n"
        "  SPACED  =  padded value  \n"
        "INLINE=abc # a comment\n"
        "HASH=abc#def\n"
        "SINGLE='lit # \\n $X'  # comment\n"
        'DOUBLE="a\\nb\\t\\"c\\" \\\\ \\q"\n'
        'MULTI="one\n'
        'two"\n'
        "EMPTY=\n"
        "EMPTY_QUOTED=''\n"
        "DUP=first\n"
        "DUP=second\n"
    )
    env.write_bytes(text.replace("\n", "\r\n").encode())
    assert read_dotenv(env) == {
        "PLAIN": "value",
        "EXPORTED": "1",
        "SPACED": "padded value",
        "INLINE": "abc",
        "HASH": "abc#def",
        "SINGLE": "lit # \\n $X",
        "DOUBLE": 'a\nb\t"c" \\ \\q',
        "MULTI": "one\ntwo",
        "EMPTY": "",
        "EMPTY_QUOTED": "",
        "DUP": "second",
    }


def test_read_dotenv_bom_and_no_final_newline(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_bytes(b"\xef\xbb\xbfA=1\nB=2")
    assert read_dotenv(str(env)) == {"A": "1", "B": "2"}


def test_dotenv_source_list_var(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f"OTHER=x\nOPENAI_API_KEYS=sk-a, sk-b,{SECRET}\nOPENAI_API_KEY_1=sk-numbered\n")
    source = DotenvSource(env, ["OPENAI_API_KEYS"], ["OPENAI_API_KEY_"])
    keys = source.load()
    assert values(keys) == ["sk-numbered", "sk-a", "sk-b", SECRET]  # numbered first, then the list
    assert labels(keys) == [
        ".env:OPENAI_API_KEY_1",
        ".env:OPENAI_API_KEYS[0]",
        ".env:OPENAI_API_KEYS[1]",
        ".env:OPENAI_API_KEYS[2]",
    ]
    assert source.watched_files() == (env,)
    assert SECRET not in repr(source) and SECRET not in repr(keys)


def test_dotenv_source_numbered_in_number_order(tmp_path: Path) -> None:
    env = tmp_path / "prod.env"
    env.write_text("OPENAI_API_KEY_10=sk-ten\nOPENAI_API_KEY_2=sk-two\nOPENAI_API_KEY_1=sk-one\nOPENAI_API_KEY_3=\n")
    keys = DotenvSource(env, ["OPENAI_API_KEYS"], ["OPENAI_API_KEY_"]).load()
    assert values(keys) == ["sk-one", "sk-two", "sk-ten"]
    assert labels(keys) == ["prod.env:OPENAI_API_KEY_1", "prod.env:OPENAI_API_KEY_2", "prod.env:OPENAI_API_KEY_10"]


def test_dotenv_source_quoted_multiline_list(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text('OPENAI_API_KEYS="sk-a\nsk-b"\nANTHROPIC_API_KEYS="sk-c\\nsk-d"\n')
    assert values(DotenvSource(env, ["OPENAI_API_KEYS"]).load()) == ["sk-a", "sk-b"]
    assert values(DotenvSource(env, ["ANTHROPIC_API_KEYS"]).load()) == ["sk-c", "sk-d"]


def test_dotenv_source_rereads_on_every_load(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("OPENAI_API_KEYS=sk-a\n")
    source = DotenvSource(env, ["OPENAI_API_KEYS"])
    assert values(source.load()) == ["sk-a"]
    env.write_text("OPENAI_API_KEYS=sk-b,sk-c\n")
    assert values(source.load()) == ["sk-b", "sk-c"]


def test_dotenv_missing_file(tmp_path: Path) -> None:
    env = tmp_path / "missing.env"
    with pytest.raises(ByokConfigError, match=named(env) + ".*not found"):
        DotenvSource(env, ["OPENAI_API_KEYS"]).load()
    with pytest.raises(ByokConfigError, match=named(env)):
        read_dotenv(env)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (f"OPENAI_API_KEYS=sk-a\n{SECRET}\n", 2, "malformed line, expected NAME=value"),
        (f"# comment\n\nBAD NAME={SECRET}\n", 3, "malformed line, expected NAME=value"),
        (f"A=1\n={SECRET}\n", 2, "malformed line, expected NAME=value"),
        (f'A=1\nOPENAI_API_KEYS="{SECRET}\nB=2\n', 2, "unterminated double-quoted value"),
        (f"OPENAI_API_KEYS='{SECRET}\n", 1, "unterminated single-quoted value"),
        (f'A=1\r\nOPENAI_API_KEYS="{SECRET}"{SECRET}\r\n', 2, "unexpected text after the closing quote"),
    ],
)
def test_dotenv_malformed_line_named_without_content(tmp_path: Path, text: str, line: int, reason: str) -> None:
    env = tmp_path / ".env"
    env.write_text(text)
    with pytest.raises(ByokConfigError, match=f"{named(env)}: line {line}: {reason}") as info:
        DotenvSource(env, ["OPENAI_API_KEYS"]).load()
    assert SECRET not in str(info.value)


def test_dotenv_invalid_utf8_names_line(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_bytes(b"A=1\nB=\xff\xfe\n")
    with pytest.raises(ByokConfigError, match=f"{named(env)}: line 2: not valid UTF-8"):
        read_dotenv(env)


def test_dotenv_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ByokConfigError, match=named(tmp_path) + ".*directory"):
        DotenvSource(tmp_path, ["OPENAI_API_KEYS"]).load()


@AS_ROOT
def test_dotenv_unreadable(tmp_path: Path) -> None:
    env = write_unreadable(tmp_path / ".env", f"OPENAI_API_KEYS={SECRET}\n")
    with pytest.raises(ByokConfigError, match=named(env) + ".*cannot read") as info:
        DotenvSource(env, ["OPENAI_API_KEYS"]).load()
    assert SECRET not in str(info.value)


def test_dotenv_without_the_variables_is_an_error(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("OTHER=1\nOPENAI_API_KEYS=\n")
    with pytest.raises(ByokConfigError, match=named(env) + ".*none of OPENAI_API_KEYS, OPENAI_API_KEY_N"):
        DotenvSource(env, ["OPENAI_API_KEYS"], ["OPENAI_API_KEY_"]).load()


def test_dotenv_bad_key_value_names_file_and_label(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f'OPENAI_API_KEY_1="{SECRET} tail"\n')
    with pytest.raises(ByokConfigError, match=named(env) + ".*OPENAI_API_KEY_1.*whitespace") as info:
        DotenvSource(env, [], ["OPENAI_API_KEY_"]).load()
    assert SECRET not in str(info.value)


def test_dotenv_source_needs_variables() -> None:
    with pytest.raises(ByokConfigError, match="no list_vars"):
        DotenvSource(".env", [])
    with pytest.raises(ByokConfigError, match="sequences"):
        DotenvSource(".env", "OPENAI_API_KEYS")


# --- secrets directory ------------------------------------------------------------------------------------------


@pytest.fixture
def secrets(tmp_path: Path) -> Path:
    root = tmp_path / "secrets"
    vault = root / "openai"
    vault.mkdir(parents=True)
    (vault / "key-b").write_text("sk-b\n")
    (vault / "key-a").write_text("  sk-a \r\n")
    (vault / "key-c").write_text(SECRET)
    return root


def test_secrets_dir_store(secrets: Path) -> None:
    store = SecretsDir(secrets)
    assert store.get("openai", "key-a") == "sk-a"
    assert store.get("openai", "nope") is None
    assert store.get("no-vault", "key-a") is None
    (secrets / "openai" / "blank").write_text(" \n")
    assert store.get("openai", "blank") is None
    (secrets / "file-vault").write_text("x")
    assert store.get("file-vault", "key-a") is None
    assert SecretsDir(secrets / "missing").get("openai", "key-a") is None
    assert store.file_of("openai", "nope") == secrets / "openai" / "nope"


def test_secrets_dir_store_directory_where_a_file_should_be(secrets: Path) -> None:
    (secrets / "openai" / "nested").mkdir()
    with pytest.raises(ByokConfigError, match=named(secrets / "openai" / "nested") + " is a directory"):
        SecretsDir(secrets).get("openai", "nested")


@AS_ROOT
def test_secrets_dir_store_unreadable(secrets: Path) -> None:
    path = write_unreadable(secrets / "openai" / "locked", SECRET)
    with pytest.raises(ByokConfigError, match=named(path)) as info:
        SecretsDir(secrets).get("openai", "locked")
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("vault", "name"),
    [
        ("..", "passwd"),
        ("openai", ".."),
        ("../openai", "key-a"),
        ("openai", "../openai/key-a"),
        ("openai/x", "key-a"),
        ("openai", "sub/key-a"),
        ("openai", "sub\\key-a"),
        ("openai", "key\0a"),
        ("openai", "a..b"),
        ("", "key-a"),
        ("openai", "."),
    ],
)
def test_secrets_dir_refuses_path_traversal(secrets: Path, vault: str, name: str) -> None:
    with pytest.raises(ByokConfigError, match="plain file name"):
        SecretsDir(secrets).get(vault, name)
    with pytest.raises(ByokConfigError, match="plain file name"):
        SecretsDir(secrets).file_of(vault, name)
    with pytest.raises(ByokConfigError, match="plain file name"):
        SecretsDirSource(secrets, vault, [name])


def test_secrets_dir_source_named_in_order(secrets: Path) -> None:
    source = SecretsDirSource(secrets, "openai", ["key-c", "key-a"])
    keys = source.load()
    assert values(keys) == [SECRET, "sk-a"]
    assert labels(keys) == ["secrets-dir:openai/key-c", "secrets-dir:openai/key-a"]
    assert source.watched_files() == (secrets / "openai" / "key-c", secrets / "openai" / "key-a")


def test_secrets_dir_source_named_missing_or_empty(secrets: Path) -> None:
    with pytest.raises(ByokConfigError, match="openai/key-z not found"):
        SecretsDirSource(secrets, "openai", ["key-a", "key-z"]).load()
    (secrets / "openai" / "blank").write_text("\n")
    with pytest.raises(ByokConfigError, match="openai/blank is empty"):
        SecretsDirSource(secrets, "openai", ["blank"]).load()
    (secrets / "openai" / "nested").mkdir()
    with pytest.raises(ByokConfigError, match=named(secrets / "openai" / "nested") + " is a directory"):
        SecretsDirSource(secrets, "openai", ["nested"]).load()


def test_secrets_dir_source_all_sorted_skipping_hidden_empty_and_dirs(secrets: Path) -> None:
    vault = secrets / "openai"
    (vault / ".hidden").write_text("sk-hidden")
    (vault / "blank").write_text("  \n")
    (vault / "subdir").mkdir()
    (vault / "subdir" / "inner").write_text("sk-inner")
    source = SecretsDirSource(secrets, "openai")
    assert source.watched_files() == (vault, vault / "blank", vault / "key-a", vault / "key-b", vault / "key-c")
    keys = source.load()
    assert labels(keys) == ["secrets-dir:openai/key-a", "secrets-dir:openai/key-b", "secrets-dir:openai/key-c"]
    assert values(keys) == ["sk-a", "sk-b", SECRET]
    assert source.watched_files() == (vault, vault / "blank", vault / "key-a", vault / "key-b", vault / "key-c")


def test_secrets_dir_source_kubernetes_layout(tmp_path: Path) -> None:
    vault = tmp_path / "openai"
    data = vault / "..2024_01_01_00_00_00.000000001"
    data.mkdir(parents=True)
    (data / "key-1").write_text("sk-one\n")
    (data / "key-2").write_text("sk-two\n")
    (vault / "..data").symlink_to(data.name)
    for name in ("key-2", "key-1"):
        (vault / name).symlink_to(Path("..data") / name)
    keys = SecretsDirSource(tmp_path, "openai").load()
    assert labels(keys) == ["secrets-dir:openai/key-1", "secrets-dir:openai/key-2"]
    assert values(keys) == ["sk-one", "sk-two"]


def test_secrets_dir_source_empty_vault_and_missing_vault(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".keep").write_text("")
    assert SecretsDirSource(tmp_path, "empty").load() == []
    with pytest.raises(ByokConfigError, match=named(tmp_path / "nope") + " not found"):
        SecretsDirSource(tmp_path, "nope").load()
    assert SecretsDirSource(tmp_path, "nope").watched_files() == (tmp_path / "nope",)  # watched until it appears
    (tmp_path / "file").write_text("x")
    with pytest.raises(ByokConfigError, match=named(tmp_path / "file") + " is not a directory"):
        SecretsDirSource(tmp_path, "file").load()


def test_secrets_dir_source_sees_changes(secrets: Path) -> None:
    source = SecretsDirSource(secrets, "openai")
    assert len(source.load()) == 3
    (secrets / "openai" / "key-d").write_text("sk-d")
    (secrets / "openai" / "key-a").write_text("sk-a2")
    assert values(source.load()) == ["sk-a2", "sk-b", SECRET, "sk-d"]


def test_secrets_dir_source_arguments(secrets: Path) -> None:
    with pytest.raises(ByokConfigError, match="not the str"):
        SecretsDirSource(secrets, "openai", "key-a")
    with pytest.raises(ByokConfigError, match="names is empty"):
        SecretsDirSource(secrets, "openai", [])


# --- JSON vault file --------------------------------------------------------------------------------------------


def write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document, indent=2))
    return path


@pytest.fixture
def vault_json(tmp_path: Path) -> Path:
    return write_json(
        tmp_path / "vault.json",
        {"openai": {"zeta": "sk-z", "alpha": " sk-a\n", "blank": " ", "mid": SECRET}, "empty": {}},
    )


def test_vault_file_store(vault_json: Path) -> None:
    store = VaultFile(vault_json)
    assert store.get("openai", "alpha") == "sk-a"
    assert store.get("openai", "blank") is None
    assert store.get("openai", "nope") is None
    assert store.get("nope", "alpha") is None
    assert store.watched_files() == (vault_json,)
    assert store.file_of("openai", "alpha") == vault_json


def test_vault_file_source_all_in_file_order(vault_json: Path) -> None:
    keys = VaultFileSource(vault_json, "openai").load()
    assert labels(keys) == ["vault-file:openai/zeta", "vault-file:openai/alpha", "vault-file:openai/mid"]
    assert values(keys) == ["sk-z", "sk-a", SECRET]
    assert VaultFileSource(vault_json, "empty").load() == []


def test_vault_file_source_named(vault_json: Path) -> None:
    source = VaultFileSource(vault_json, "openai", ["mid", "zeta"])
    assert labels(source.load()) == ["vault-file:openai/mid", "vault-file:openai/zeta"]
    assert source.watched_files() == (vault_json,)
    with pytest.raises(ByokConfigError, match=named(vault_json) + ".*no secret openai/nope"):
        VaultFileSource(vault_json, "openai", ["zeta", "nope"]).load()
    with pytest.raises(ByokConfigError, match="openai/blank is empty"):
        VaultFileSource(vault_json, "openai", ["blank"]).load()
    with pytest.raises(ByokConfigError, match=named(vault_json) + ".*no vault 'nope'"):
        VaultFileSource(vault_json, "nope").load()


def test_vault_file_parsed_only_when_changed(vault_json: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real_loads = json.loads

    def counting_loads(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return real_loads(*args, **kwargs)

    monkeypatch.setattr(json, "loads", counting_loads)
    source = VaultFileSource(vault_json, "openai", ["zeta"])
    assert values(source.load()) == ["sk-z"]
    assert values(source.load()) == ["sk-z"]
    assert source.store.get("openai", "alpha") == "sk-a"
    assert calls == 1

    write_json(vault_json, {"openai": {"zeta": "sk-z-rotated"}})
    assert values(source.load()) == ["sk-z-rotated"]
    assert calls == 2

    # Same size, new mtime: read again.
    write_json(vault_json, {"openai": {"zeta": "sk-z-rotatee"}})
    stat = vault_json.stat()
    os.utime(vault_json, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert values(source.load()) == ["sk-z-rotatee"]
    assert calls == 3
    assert values(source.load()) == ["sk-z-rotatee"]
    assert calls == 3


def test_vault_file_bad_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "vault.json"
    bad_line = f'    "k": "{SECRET}" "k2": "x"'
    path.write_text(f'{{\n  "openai": {{\n{bad_line}\n  }}\n}}\n')
    column = bad_line.index('"k2"') + 1
    with pytest.raises(ByokConfigError, match=f"{named(path)}: invalid JSON at line 3, column {column}: ") as info:
        VaultFile(path).get("openai", "k")
    assert SECRET not in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is not None  # suppressed: e.doc holds the text


@pytest.mark.parametrize(
    ("document", "match"),
    [
        ([SECRET], "the top level must be an object of vaults, not an array"),
        ({"openai": [SECRET]}, "vault 'openai' must be an object of secrets, not an array"),
        ({"openai": SECRET}, "vault 'openai' must be an object of secrets, not a string"),
        ({"openai": {"k": 12345678901}}, "secret openai/k must be a string, not a number"),
        ({"openai": {"k": [SECRET]}}, "secret openai/k must be a string, not an array"),
        ({"openai": {"ok": "sk-a", "k": {"nested": SECRET}}}, "secret openai/k must be a string, not an object"),
        ({"openai": {"k": None}}, "secret openai/k must be a string, not null"),
    ],
)
def test_vault_file_bad_shape(tmp_path: Path, document: object, match: str) -> None:
    path = write_json(tmp_path / "vault.json", document)
    with pytest.raises(ByokConfigError, match=named(path) + ": " + re.escape(match)) as info:
        VaultFileSource(path, "openai").load()
    assert SECRET not in str(info.value) and "12345678901" not in str(info.value)


def test_vault_file_missing_directory_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "vault.json"
    source = VaultFileSource(path, "openai")
    with pytest.raises(ByokConfigError, match=named(path) + ": file not found"):
        source.load()
    path.mkdir()
    with pytest.raises(ByokConfigError, match=named(path) + ": is a directory"):
        source.load()
    path.rmdir()
    path.write_text("{not json")
    with pytest.raises(ByokConfigError, match="line 1, column 2"):
        source.load()
    write_json(path, {"openai": {"k": "sk-fixed"}})
    assert values(source.load()) == ["sk-fixed"]
    path.unlink()
    with pytest.raises(ByokConfigError, match="file not found"):
        source.load()


def test_vault_file_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "vault.json"
    path.write_bytes(b'{\n"openai": {"k": "\xff"}}')
    with pytest.raises(ByokConfigError, match=named(path) + ": line 2: not valid UTF-8"):
        VaultFile(path).get("openai", "k")


@AS_ROOT
def test_vault_file_unreadable(tmp_path: Path) -> None:
    path = write_unreadable(tmp_path / "vault.json", json.dumps({"openai": {"k": SECRET}}))
    with pytest.raises(ByokConfigError, match=named(path) + ": cannot read") as info:
        VaultFile(path).get("openai", "k")
    assert SECRET not in str(info.value)


# --- keyring ----------------------------------------------------------------------------------------------------


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real keyring backend that keeps passwords in a dict."""

    priority = -1  # never chosen by keyring's own backend discovery

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.passwords: dict[tuple[str, str], str] = {}
        self.error: Exception | None = None

    def get_password(self, service: str, username: str) -> str | None:
        if self.error is not None:
            raise self.error
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.passwords[(service, username)]


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def test_keyring_store(memory_keyring: MemoryKeyring) -> None:
    keyring.set_password("openai", "key-1", " sk-one\n")
    assert KeyringStore().get("openai", "key-1") == "sk-one"
    assert KeyringStore().get("openai", "key-2") is None
    keyring.set_password("openai", "blank", " ")
    assert KeyringStore().get("openai", "blank") is None


def test_keyring_source(memory_keyring: MemoryKeyring) -> None:
    keyring.set_password("openai", "key-1", "sk-one")
    keyring.set_password("openai", "key-2", SECRET)
    source = KeyringSource("openai", ["key-2", "key-1"])
    keys = source.load()
    assert values(keys) == [SECRET, "sk-one"]
    assert labels(keys) == ["keyring:openai/key-2", "keyring:openai/key-1"]
    assert source.refresh_interval == 60.0
    assert source.watched_files() == ()


async def test_keyring_source_aload(memory_keyring: MemoryKeyring) -> None:
    keyring.set_password("openai", "key-1", "sk-one")
    assert values(await KeyringSource("openai", ["key-1"], refresh_interval=5).aload()) == ["sk-one"]


def test_keyring_source_missing_password(memory_keyring: MemoryKeyring) -> None:
    keyring.set_password("openai", "key-1", "sk-one")
    with pytest.raises(ByokConfigError, match="service 'openai', username 'key-2'"):
        KeyringSource("openai", ["key-1", "key-2"]).load()


@pytest.mark.parametrize(
    ("error", "match"),
    [
        (keyring.errors.KeyringLocked("the keyring is locked"), r"openai/key-1 failed \(KeyringLocked: the keyring is"),
        (RuntimeError(f"dbus said {SECRET}"), r"openai/key-1 failed \(RuntimeError\)"),
    ],
)
def test_keyring_backend_error(memory_keyring: MemoryKeyring, error: Exception, match: str) -> None:
    memory_keyring.error = error
    with pytest.raises(ByokConfigError, match=match) as info:
        KeyringStore().get("openai", "key-1")
    assert info.value.__cause__ is error
    with pytest.raises(ByokConfigError, match=match) as info:
        KeyringSource("openai", ["key-1"]).load()
    assert SECRET not in str(info.value)


def test_keyring_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)
    with pytest.raises(MissingDependencyError, match=r"byok-client\[keyring\]") as info:
        KeyringStore().get("openai", "key-1")
    assert info.value.package == "keyring" and info.value.extra == "keyring"
    with pytest.raises(ImportError):
        KeyringSource("openai", ["key-1"]).load()


def test_keyring_source_arguments() -> None:
    with pytest.raises(ByokConfigError, match="not the str"):
        KeyringSource("openai", "key-1")
    with pytest.raises(ByokConfigError, match="names is empty"):
        KeyringSource("openai", [])
    with pytest.raises(ByokConfigError, match="refresh_interval"):
        KeyringSource("openai", ["key-1"], refresh_interval=0)


# --- callable ---------------------------------------------------------------------------------------------------


def fetch_keys() -> list[str | Key]:
    return ["sk-a", Key("sk-b", "vault:b"), "sk-c"]


async def fetch_keys_async() -> list[str]:
    await asyncio.sleep(0)
    return ["sk-x", "sk-y"]


def test_callable_sync() -> None:
    source = CallableSource(fetch_keys)
    keys = source.load()
    assert values(keys) == ["sk-a", "sk-b", "sk-c"]
    assert labels(keys) == ["fetch_keys[0]", "vault:b", "fetch_keys[2]"]
    assert source.name == "fetch_keys"
    assert source.refresh_interval == 300.0


def test_callable_name_generator_and_lambda() -> None:
    def gen() -> Iterator[str]:
        yield "sk-1"
        yield "sk-2"

    assert labels(CallableSource(gen, name="vault", refresh_interval=None).load()) == ["vault[0]", "vault[1]"]
    assert labels(CallableSource(gen).load())[0] == "test_callable_name_generator_and_lambda.<locals>.gen[0]"
    assert values(CallableSource(lambda: ("sk-t",)).load()) == ["sk-t"]
    assert CallableSource(lambda: []).load() == []


def test_callable_async_load_without_a_loop() -> None:
    keys = CallableSource(fetch_keys_async).load()
    assert values(keys) == ["sk-x", "sk-y"]
    assert labels(keys) == ["fetch_keys_async[0]", "fetch_keys_async[1]"]


async def test_callable_async_aload() -> None:
    assert values(await CallableSource(fetch_keys_async).aload()) == ["sk-x", "sk-y"]
    # A sync function returning an awaitable.
    assert values(await CallableSource(lambda: fetch_keys_async(), name="wrapped").aload()) == ["sk-x", "sk-y"]


async def test_callable_sync_aload_runs_in_a_thread() -> None:
    threads: list[int] = []

    def fn() -> list[str]:
        threads.append(threading.get_ident())
        return ["sk-a"]

    assert values(await CallableSource(fn).aload()) == ["sk-a"]
    assert threads and threads[0] != threading.get_ident()


@pytest.mark.filterwarnings("error")
async def test_callable_async_load_inside_a_running_loop_is_refused() -> None:
    with pytest.raises(ByokConfigError, match=r"fetch_keys_async.*use aload\(\)"):
        CallableSource(fetch_keys_async).load()
    # A sync function returning a coroutine: the coroutine is closed, not left un-awaited.
    with pytest.raises(ByokConfigError, match=r"'wrapped'.*use aload\(\)"):
        CallableSource(lambda: fetch_keys_async(), name="wrapped").load()


def test_callable_raising_hides_the_message() -> None:
    def broken() -> list[str]:
        raise ValueError(f"rejected key {SECRET}")

    with pytest.raises(ByokConfigError, match=r"'broken' raised ValueError") as info:
        CallableSource(broken, name="broken").load()
    assert SECRET not in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)


async def test_callable_async_raising_hides_the_message() -> None:
    async def broken() -> list[str]:
        raise RuntimeError(SECRET)

    source = CallableSource(broken, name="broken")
    with pytest.raises(ByokConfigError, match=r"'broken' raised RuntimeError") as info:
        await source.aload()
    assert SECRET not in str(info.value) and isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(ByokConfigError, match=r"'broken' raised RuntimeError") as info:
        await asyncio.to_thread(source.load)  # load() with no loop in that thread: asyncio.run
    assert SECRET not in str(info.value)


def test_callable_generator_raising_midway() -> None:
    def gen() -> Iterator[str]:
        yield "sk-1"
        raise OSError(SECRET)

    with pytest.raises(ByokConfigError, match="raised OSError") as info:
        CallableSource(gen, name="gen").load()
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("result", "match"),
    [
        (None, "returned a NoneType, not an iterable"),
        (42, "returned an int, not an iterable"),
        (SECRET, "returned a str, not an iterable"),
        (SECRET.encode(), "returned a bytes, not an iterable"),
        (["sk-a", SECRET.encode()], "item 1 is a bytes, not a str or Key"),
        ([None], "item 0 is a NoneType"),
        (["sk-a", ""], "item 1: a key is empty"),
        ([f"{SECRET} x"], r"'src\[0\]' contains whitespace"),
    ],
)
def test_callable_bad_result(result: object, match: str) -> None:
    source = CallableSource(lambda: result, name="src")  # type: ignore[arg-type, return-value]
    with pytest.raises(ByokConfigError, match=f"'src'.*{match}") as info:
        source.load()
    assert SECRET not in str(info.value)


async def test_callable_bad_async_result() -> None:
    async def fn() -> object:
        return 42

    with pytest.raises(ByokConfigError, match="returned an int"):
        await CallableSource(fn, name="fn").aload()  # type: ignore[arg-type]


def test_callable_arguments() -> None:
    with pytest.raises(ByokConfigError, match="must be callable"):
        CallableSource(["sk-a"])  # type: ignore[arg-type]
    with pytest.raises(ByokConfigError, match="refresh_interval"):
        CallableSource(fetch_keys, refresh_interval=-1)


# --- package ----------------------------------------------------------------------------------------------------


def test_exports() -> None:
    for name in sources.__all__:
        assert hasattr(sources, name), name
    assert {"DotenvSource", "SecretsDirSource", "VaultFileSource", "KeyringSource", "CallableSource"} <= set(
        sources.__all__
    )


# --- environment variables: one ordered pool --------------------------------------------------------------------
def test_env_plain_then_numbered_then_list_as_one_pool() -> None:
    from byok_client.sources import EnvSource, env_keys

    environ = {
        "OPENAI_API_KEYS": "sk-l1, sk-l2,sk-n1",  # sk-n1 repeats a numbered key: kept once, at its first place
        "OPENAI_API_KEY_10": "sk-n10",
        "OPENAI_API_KEY_2": "sk-n2",
        "OPENAI_API_KEY_1": "sk-n1",
        "OPENAI_API_KEY": "sk-plain",
        "OPENAI_API_KEY_3": "  ",
    }
    keys = env_keys(["OPENAI_API_KEYS"], ["OPENAI_API_KEY_"], environ)
    assert values(keys) == ["sk-plain", "sk-n1", "sk-n2", "sk-n10", "sk-l1", "sk-l2"]
    assert labels(keys) == [
        "OPENAI_API_KEY",
        "OPENAI_API_KEY_1",
        "OPENAI_API_KEY_2",
        "OPENAI_API_KEY_10",
        "OPENAI_API_KEYS[0]",
        "OPENAI_API_KEYS[1]",
    ]
    source = EnvSource(["OPENAI_API_KEYS"], ["OPENAI_API_KEY_"], environ)
    assert source.plain_vars == ("OPENAI_API_KEY",)
    assert values(source.load()) == values(keys)
    assert "OPENAI_API_KEY/OPENAI_API_KEY_N/OPENAI_API_KEYS" in source.name


def test_env_plain_variable_alone_forms_no_pool() -> None:
    from byok_client.sources import env_keys

    assert env_keys(["OPENAI_API_KEYS"], ["OPENAI_API_KEY_"], {"OPENAI_API_KEY": "sk-plain"}) == []
    only_list = env_keys(
        ["OPENAI_API_KEYS"], ["OPENAI_API_KEY_"], {"OPENAI_API_KEY": "sk-p", "OPENAI_API_KEYS": "sk-l"}
    )
    assert values(only_list) == ["sk-p", "sk-l"]


def test_env_gemini_names_all_count() -> None:
    from byok_client.providers.gemini import GeminiProvider
    from byok_client.sources import EnvSource

    provider = GeminiProvider()
    environ = {
        "GOOGLE_API_KEY": "g-plain",
        "GEMINI_API_KEY": "m-plain",
        "GOOGLE_API_KEY_1": "g1",
        "GEMINI_API_KEYS": "m-l",
    }
    source = EnvSource(provider.env_list, provider.env_numbered, environ)
    assert values(source.load()) == ["m-plain", "g-plain", "g1", "m-l"]


def test_env_only_plain_key_keeps_the_client_passthrough(monkeypatch: pytest.MonkeyPatch) -> None:
    from byok_client import OpenAI

    monkeypatch.setenv("OPENAI_API_KEY", "sk-sdk-own")
    client = OpenAI()
    assert client.key_pool is None
    assert client.api_key == "sk-sdk-own"
    monkeypatch.setenv("OPENAI_API_KEY_1", "sk-numbered")
    pool = OpenAI().key_pool
    assert pool is not None
    assert [k.label for k in pool.keys] == ["OPENAI_API_KEY", "OPENAI_API_KEY_1"]


def test_private_vault_file_refuses_group_readable(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"openai": {"k": SECRET}}))
    path.chmod(0o640)
    with pytest.raises(ByokConfigError, match=r"refused, it is accessible to its group or other users \(mode 640\)"):
        VaultFile(path, private=True).get("openai", "k")
    assert VaultFile(path).get("openai", "k") == SECRET  # a file you name yourself is yours to manage
    path.chmod(0o600)
    assert VaultFile(path, private=True).get("openai", "k") == SECRET
