"""Config files (YAML or TOML) in the AI gateway's traffic-policy form.

```yaml
on_http_request:                     # optional wrapper; a bare top-level `providers:` works too
  - type: ai-gateway
    config:
      only_allow_configured_providers: true
      providers:
        - id: openai
          api_keys:
            - value: ${secrets.get('openai', 'key-one')}
        - id: anthropic                # no api_keys: passthrough for this provider
environments:                        # profiles, chosen by BYOK_ENV
  prod:
    providers:
      - id: openai
        api_keys:
          - value: ${env.OPENAI_PROD_KEY}
```

``${secrets.get('vault', 'name')}`` resolves through the secret stores in order (secrets dir, JSON vault file,
keyring, ``BYOK_SECRET_<VAULT>_<NAME>``); ``${env.NAME}`` reads an environment variable. Errors name the file, the
line (YAML) and the field, never a value.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._errors import ByokConfigError
from .core.keys import Key
from .sources.base import KeySource, SecretStore
from .sources.env import EnvSecrets, env_secret_name

__all__ = [
    "PROVIDER_IDS",
    "ByokConfig",
    "ConfigSource",
    "InlineKeyWarning",
    "ProviderEntry",
    "default_stores",
    "load_config",
]

log = logging.getLogger("byok_client")

# Gateway provider ids (and aliases) -> our provider names.
PROVIDER_IDS: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google": "gemini",
    "gemini": "gemini",
    "azure-openai": "azure-openai",
    "azure_openai": "azure-openai",
    "groq": "groq",
    "deepseek": "deepseek",
    "mistral": "mistral",
    "together": "together",
    "openrouter": "openrouter",
    "ollama": "ollama",
}

_SECRET_REF = re.compile(r"""\$\{\s*secrets\.get\(\s*(['"])(.*?)\1\s*,\s*(['"])(.*?)\3\s*\)\s*\}""")
_ENV_REF = re.compile(r"\$\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}")


class InlineKeyWarning(UserWarning):
    """A config file holds a key value itself; fine for development, use ``${secrets.get(...)}`` elsewhere."""


@dataclass(frozen=True, slots=True)
class KeyRef:
    """One ``api_keys`` entry before resolution: a secret reference, an env reference or an inline value."""

    kind: str  # "secret" | "env" | "inline"
    vault: str = ""
    name: str = ""
    value: str = ""
    where: str = ""

    @property
    def label(self) -> str:
        if self.kind == "secret":
            return f"{self.vault}/{self.name}"
        if self.kind == "env":
            return f"env.{self.name}"
        return self.where


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    """A provider block: its id, its key references and its selection settings (None: not given)."""

    id: str
    provider: str
    api_keys: tuple[KeyRef, ...]
    api_key_selection: Any = None
    where: str = ""


@dataclass(frozen=True, slots=True)
class ByokConfig:
    """A parsed config file, with the chosen environment applied."""

    path: Path
    providers: dict[str, ProviderEntry] = field(default_factory=dict)
    only_allow_configured_providers: bool = False
    environment: str | None = None

    def entry(self, provider: str) -> ProviderEntry | None:
        """The block for one of our provider names (``openai``, ``gemini``...), or None if it is not listed."""
        return self.providers.get(provider)


class _LineDict(dict[str, Any]):
    line: int = 0


class _Loader:
    """A YAML SafeLoader whose mappings remember their line (imported lazily: PyYAML is only needed for YAML)."""

    @staticmethod
    def load(text: str) -> Any:
        import yaml

        class Loader(yaml.SafeLoader):
            pass

        def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _LineDict:
            mapping = _LineDict({str(k): v for k, v in loader.construct_mapping(node, deep=True).items()})
            mapping.line = node.start_mark.line + 1
            return mapping

        Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
        return yaml.load(text, Loader=Loader)


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ByokConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ByokConfigError(f"config file {path} cannot be read: {type(exc).__name__}") from None
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ByokConfigError(f"config file {path} is not valid TOML: {_position(str(exc))}") from None
    try:
        return _Loader.load(text)
    except Exception as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unreadable"
        raise ByokConfigError(f"config file {path} is not valid YAML at {where}") from None


def _position(message: str) -> str:
    match = re.search(r"at line (\d+), column (\d+)", message)
    return f"line {match.group(1)}, column {match.group(2)}" if match else "syntax error"


class _Parser:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, node: Any, field_path: str, problem: str) -> ByokConfigError:
        line = f" line {node.line}" if isinstance(node, _LineDict) and node.line else ""
        return ByokConfigError(f"{self.path}{line}: {field_path}: {problem}")

    def mapping(self, node: Any, field_path: str, parent: Any) -> dict[str, Any]:
        if not isinstance(node, dict):
            raise self.fail(parent, field_path, f"must be a mapping, not {_kind(node)}")
        return node

    def block(self, data: Any) -> tuple[dict[str, Any], str]:
        """The mapping holding ``providers``: the ai-gateway action's config, or the top level."""
        top = self.mapping(data if data is not None else {}, "(top level)", data)
        actions = top.get("on_http_request")
        if actions is None:
            return top, ""
        if not isinstance(actions, list):
            raise self.fail(top, "on_http_request", f"must be a list, not {_kind(actions)}")
        for i, action in enumerate(actions):
            action = self.mapping(action, f"on_http_request[{i}]", top)
            if action.get("type") == "ai-gateway":
                return self.mapping(action.get("config") or {}, f"on_http_request[{i}].config", action), (
                    f"on_http_request[{i}].config."
                )
        raise self.fail(top, "on_http_request", "has no action of type ai-gateway")

    def providers(self, block: dict[str, Any], prefix: str) -> dict[str, ProviderEntry]:
        items = block.get("providers", [])
        if items is None:
            items = []
        if not isinstance(items, list):
            raise self.fail(block, prefix + "providers", f"must be a list, not {_kind(items)}")
        result: dict[str, ProviderEntry] = {}
        for i, item in enumerate(items):
            where = f"{prefix}providers[{i}]"
            item = self.mapping(item, where, block)
            pid = item.get("id")
            if not isinstance(pid, str) or not pid:
                raise self.fail(item, where + ".id", "is required (a provider id such as openai, anthropic, google)")
            provider = PROVIDER_IDS.get(pid.lower())
            if provider is None:
                known = ", ".join(sorted(PROVIDER_IDS))
                raise self.fail(item, where + ".id", f"unknown provider id {pid!r} (known: {known})")
            if provider in result:
                raise self.fail(item, where + ".id", f"provider {pid!r} is listed twice")
            keys = self.keys(item, where)
            result[provider] = ProviderEntry(pid, provider, keys, item.get("api_key_selection"), where)
        return result

    def keys(self, item: dict[str, Any], where: str) -> tuple[KeyRef, ...]:
        raw = item.get("api_keys")
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise self.fail(item, where + ".api_keys", f"must be a list, not {_kind(raw)}")
        if not raw:
            raise self.fail(item, where + ".api_keys", "is empty (leave it out for passthrough)")
        refs = []
        for j, entry in enumerate(raw):
            key_where = f"{where}.api_keys[{j}]"
            value = entry.get("value") if isinstance(entry, dict) else entry
            if isinstance(entry, dict) and "value" not in entry:
                raise self.fail(entry, key_where, "needs a 'value'")
            if not isinstance(value, str) or not value.strip():
                raise self.fail(
                    entry if isinstance(entry, dict) else item, key_where + ".value", "must be a non-empty string"
                )
            refs.append(self.ref(value.strip(), key_where, entry if isinstance(entry, dict) else item))
        return tuple(refs)

    def ref(self, value: str, where: str, node: Any) -> KeyRef:
        if match := _SECRET_REF.fullmatch(value):
            return KeyRef("secret", vault=match.group(2), name=match.group(4), where=where)
        if match := _ENV_REF.fullmatch(value):
            return KeyRef("env", name=match.group(1), where=where)
        if "${" in value:
            raise self.fail(
                node, where + ".value", "unsupported expression; use ${secrets.get('vault', 'name')} or ${env.NAME}"
            )
        return KeyRef("inline", value=value, where=where)


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else type(value).__name__


def load_config(path: str | os.PathLike[str], environment: str | None = None) -> ByokConfig:
    """Read and validate a config file; ``environment`` (default ``BYOK_ENV``) applies ``environments.<name>``.

    Raises ``ByokConfigError`` naming the file, line and field for anything malformed.
    """
    file = Path(path)
    parser = _Parser(file)
    data = _read(file)
    block, prefix = parser.block(data)
    only = block.get("only_allow_configured_providers", False)
    if not isinstance(only, bool):
        raise parser.fail(block, prefix + "only_allow_configured_providers", "must be true or false")
    providers = parser.providers(block, prefix)
    environment = environment if environment is not None else (os.environ.get("BYOK_ENV") or None)
    if environment:
        top = data if isinstance(data, dict) else {}
        environments = top.get("environments") or {}
        if not isinstance(environments, dict):
            raise parser.fail(top, "environments", f"must be a mapping, not {_kind(environments)}")
        if environment not in environments:
            known = ", ".join(sorted(environments)) or "none"
            raise ByokConfigError(
                f"{file}: environment {environment!r} (BYOK_ENV) is not in 'environments' (known: {known})"
            )
        override = parser.mapping(environments[environment] or {}, f"environments.{environment}", environments)
        providers = {**providers, **parser.providers(override, f"environments.{environment}.")}
        if "only_allow_configured_providers" in override:
            only = override["only_allow_configured_providers"]
            if not isinstance(only, bool):
                raise parser.fail(
                    override, f"environments.{environment}.only_allow_configured_providers", "must be true or false"
                )
    return ByokConfig(file, providers, only, environment or None)


def default_stores(
    secrets_dir: str | os.PathLike[str] | None = None,
    secrets_file: str | os.PathLike[str] | None = None,
    use_keyring: bool = True,
) -> list[SecretStore]:
    """The secret stores in resolution order: secrets dir (``BYOK_SECRETS_DIR``), JSON vault file
    (``BYOK_SECRETS_FILE``), the OS keyring (when the ``keyring`` package is installed), ``BYOK_SECRET_*`` env."""
    stores: list[SecretStore] = []
    directory = secrets_dir or os.environ.get("BYOK_SECRETS_DIR")
    if directory:
        from .sources.secrets_dir import SecretsDir

        stores.append(SecretsDir(directory))
    file = secrets_file or os.environ.get("BYOK_SECRETS_FILE")
    if file:
        from .sources.vault_file import VaultFile

        stores.append(VaultFile(file))
    if use_keyring:
        try:
            import keyring  # noqa: F401
        except ImportError:
            pass
        else:
            from .sources.keyring import KeyringStore

            stores.append(KeyringStore())
    stores.append(EnvSecrets())
    return stores


_warned_inline: set[Path] = set()


class ConfigSource(KeySource):
    """The keys a config file lists for one provider, resolved through the secret stores; re-read when the file
    or a secret file changes. Labels are ``config:<vault>/<name>``, ``config:env.NAME`` or the inline field."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        provider: str,
        *,
        environment: str | None = None,
        stores: Sequence[SecretStore] | None = None,
        loaded: ByokConfig | None = None,
    ) -> None:
        self.path = Path(path)
        self._loaded = loaded  # the caller already parsed the file once: the first load uses that
        self.provider = provider
        self.environment = environment
        self._stores = list(stores) if stores is not None else default_stores()
        self.name = f"config {self.path} ({provider})"
        self._secret_files: list[Path] = []

    def load(self) -> list[Key]:
        config, self._loaded = self._loaded or load_config(self.path, self.environment), None
        entry = config.entry(self.provider)
        self._secret_files = []
        if entry is None:
            return []
        return [self._resolve(ref) for ref in entry.api_keys]

    def _resolve(self, ref: KeyRef) -> Key:
        label = f"config:{ref.label}"
        if ref.kind == "inline":
            if self.path not in _warned_inline:
                _warned_inline.add(self.path)
                warnings.warn(
                    f"{self.path} holds API keys inline ({ref.where}); use ${{secrets.get('vault', 'name')}} "
                    "outside development",
                    InlineKeyWarning,
                    stacklevel=4,
                )
            return Key(ref.value, label)
        if ref.kind == "env":
            value = os.environ.get(ref.name, "").strip()
            if not value:
                raise ByokConfigError(f"{self.path}: {ref.where}: environment variable {ref.name} is not set")
            return Key(value, label)
        for store in self._stores:
            file = store.file_of(ref.vault, ref.name)
            if file is not None:  # watched whether found or not: a secret that appears later counts too
                self._secret_files.append(file)
            try:
                secret = store.get(ref.vault, ref.name)
            except ByokConfigError:
                if type(store).__name__ == "KeyringStore":  # no usable keyring backend: not an answer, not an error
                    log.debug("keyring unavailable while resolving %s/%s", ref.vault, ref.name)
                    continue
                raise
            if secret:
                return Key(secret, label)
        tried = ", ".join(s.name for s in self._stores)
        raise ByokConfigError(
            f"{self.path}: {ref.where}: secret {ref.vault!r}/{ref.name!r} not found (looked in: {tried}; env name "
            f"{env_secret_name(ref.vault, ref.name)})"
        )

    def watched_files(self) -> tuple[Path, ...]:
        files = [self.path, *self._secret_files]
        for store in self._stores:
            files.extend(store.watched_files())
        return tuple(dict.fromkeys(files))
