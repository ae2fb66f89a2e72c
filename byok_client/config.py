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
line, the field and the reason (YAML and TOML alike), never a value; unknown fields are errors with a
did-you-mean.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._errors import ByokConfigError
from .core.keys import Key
from .sources.base import KeySource, SecretStore, warn_user
from .sources.env import EnvSecrets, env_secret_name

__all__ = [
    "COOLDOWN_SCOPES",
    "PROVIDER_IDS",
    "STRATEGIES",
    "ByokConfig",
    "ConfigSource",
    "InlineKeyWarning",
    "KeyRef",
    "ProviderEntry",
    "default_secrets_file",
    "default_stores",
    "load_config",
    "mask_url",
    "normalise_origin",
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

STRATEGIES = ("ordered", "round_robin", "weighted", "random", "least_loaded")
"""The built-in key selection strategies, by name."""

COOLDOWN_SCOPES = ("model", "key")
"""``cooldown_scope``: a rate limit cools the key for that model only, or the whole key."""

ON_EXHAUSTED_MODES = ("wait", "fail", "send")
"""``on_exhausted``: what a request does when every key is spent (see ``KeyPool``)."""

# The fields each part of a file may hold; anything else is a typo and an error.
_TOP_FIELDS = ("on_http_request", "providers", "only_allow_configured_providers", "environments", "state")
_ACTION_FIELDS = ("type", "config")
_BLOCK_FIELDS = ("providers", "only_allow_configured_providers")
_ENV_FIELDS = ("providers", "only_allow_configured_providers", "state")
_PROVIDER_FIELDS = (
    "id",
    "api_keys",
    "api_key_selection",
    "cooldown_scope",
    "allowed_origins",
    "max_cooldown",
    "on_exhausted",
    "max_wait",
)
_KEY_FIELDS = ("value", "rpm", "tpm", "rpd")
_SELECTION_FIELDS = ("strategy",)

_SECRET_REF = re.compile(r"""\$\{\s*secrets\.get\(\s*(['"])(.*?)\1\s*,\s*(['"])(.*?)\3\s*\)\s*\}""")
_ENV_REF = re.compile(r"\$\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}")


class InlineKeyWarning(UserWarning):
    """A config file holds a key value itself; fine for development, use ``${secrets.get(...)}`` elsewhere."""


@dataclass(frozen=True, slots=True)
class KeyRef:
    """One ``api_keys`` entry before resolution: a secret reference, an env reference or an inline value, with
    its place in the file and its optional limits (``rpm``, ``tpm``, ``rpd``: requests per minute, tokens per
    minute, requests per day; None when not given)."""

    kind: str  # "secret" | "env" | "inline"
    vault: str = ""
    name: str = ""
    value: str = field(default="", repr=False)
    where: str = ""
    line: int = 0
    rpm: float | None = None
    tpm: float | None = None
    rpd: float | None = None

    @property
    def label(self) -> str:
        if self.kind == "secret":
            return f"{self.vault}/{self.name}"
        if self.kind == "env":
            return f"env.{self.name}"
        return self.where

    @property
    def reference(self) -> str:
        """What the file says, without an inline value: ``secrets.get('v', 'n')``, ``env.NAME`` or ``inline``."""
        if self.kind == "secret":
            return f"secrets.get({self.vault!r}, {self.name!r})"
        if self.kind == "env":
            return f"env.{self.name}"
        return "inline"


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    """A provider block: its id, its key references and its settings (None: not given).

    ``cooldown_scope`` is ``"model"`` or ``"key"``; ``allowed_origins`` are normalised ``scheme://host[:port]``
    origins managed keys may go to (lower-case, default ports left out: ``normalise_origin``); ``max_cooldown`` caps
    any cooldown, in seconds; ``on_exhausted`` (``"wait"``, ``"fail"`` or ``"send"``) and ``max_wait`` (seconds) say
    what a request does when every key is spent."""

    id: str
    provider: str
    api_keys: tuple[KeyRef, ...]
    api_key_selection: Any = None
    where: str = ""
    line: int = 0
    cooldown_scope: str | None = None
    allowed_origins: tuple[str, ...] | None = None
    max_cooldown: float | None = None
    on_exhausted: str | None = None
    max_wait: float | None = None


@dataclass(frozen=True, slots=True)
class ByokConfig:
    """A parsed config file, with the chosen environment applied. ``state`` is the shared state backend's URL
    (``redis://`` or ``rediss://``), None when not given; it may hold a password, so it is left out of the repr
    (``mask_url`` shows it safely)."""

    path: Path
    providers: dict[str, ProviderEntry] = field(default_factory=dict)
    only_allow_configured_providers: bool = False
    environment: str | None = None
    state: str | None = field(default=None, repr=False)

    def entry(self, provider: str) -> ProviderEntry | None:
        """The block for one of our provider names (``openai``, ``gemini``...), or None if it is not listed."""
        return self.providers.get(provider)


class _LineDict(dict[str, Any]):
    """A mapping that remembers its line and the line of each of its keys."""

    line: int = 0
    key_lines: dict[str, int] | None = None


class _LineList(list[Any]):
    """A list that remembers its line and the line of each item."""

    line: int = 0
    item_lines: list[int] | None = None


def _line_of(node: Any, key: str | int | None = None) -> int:
    """The line of ``node`` (a _LineDict / _LineList), or of its key / item ``key``; 0 when unknown."""
    if isinstance(node, _LineDict) and isinstance(key, str) and node.key_lines and key in node.key_lines:
        return node.key_lines[key]
    if isinstance(node, _LineList) and isinstance(key, int) and node.item_lines and 0 <= key < len(node.item_lines):
        return node.item_lines[key]
    return node.line if isinstance(node, _LineDict | _LineList) else 0


def _load_yaml(text: str) -> Any:
    """YAML through a SafeLoader whose mappings and lists remember their lines; duplicate keys are errors and
    timestamps stay strings (PyYAML is imported here: it is only needed for YAML)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _LineDict:
        mapping = _LineDict()
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            name = str(key)
            if name in mapping:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {name!r}", key_node.start_mark)
            mapping[name] = loader.construct_object(value_node, deep=True)
            mapping.key_lines[name] = key_node.start_mark.line + 1
        return mapping

    def construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> _LineList:
        items = _LineList(loader.construct_object(child, deep=True) for child in node.value)
        items.line = node.start_mark.line + 1
        items.item_lines = [child.start_mark.line + 1 for child in node.value]
        return items

    def construct_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
        return str(loader.construct_scalar(node))

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    Loader.add_constructor("tag:yaml.org,2002:timestamp", construct_text)
    return yaml.load(text, Loader=Loader)


def _yaml_error(path: Path, text: str, exc: Exception) -> ByokConfigError:
    """A YAML syntax error with its position and PyYAML's reason (which describes tokens, never values)."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    if problem is None:
        if isinstance(exc, RecursionError):
            return ByokConfigError(f"{path}: not valid YAML: nested too deeply")
        return ByokConfigError(f"{path}: not valid YAML: {type(exc).__name__}")
    at_end = mark is not None and mark.index >= len(text.rstrip())
    # An unclosed quote or bracket is noticed at the end of the file: point at where it was opened.
    primary = context_mark if (at_end or mark is None) and context_mark is not None else mark
    reason = str(problem) + (f" {context}" if context else "")
    if primary is not mark and mark is not None:
        reason += f" (the file ends at line {mark.line + 1} without closing it)"
    elif context and context_mark is not None and mark is not None and context_mark.line != mark.line:
        reason += f" (started at line {context_mark.line + 1}, column {context_mark.column + 1})"
    elif at_end:
        reason += " (at the end of the file)"
    where = f" line {primary.line + 1}, column {primary.column + 1}" if primary is not None else ""
    return ByokConfigError(f"{path}{where}: not valid YAML: {reason}")


_TOML_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_TOML_KEY = re.compile(rf"\s*({_TOML_KEY_PART}(?:\s*\.\s*{_TOML_KEY_PART})*)\s*=")
_TOML_TABLE = re.compile(rf"\s*(\[\[?)\s*({_TOML_KEY_PART}(?:\s*\.\s*{_TOML_KEY_PART})*)\s*\]\]?")


def _toml_key_parts(text: str) -> list[str]:
    parts = re.findall(_TOML_KEY_PART, text)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def _toml_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """The line of each table and key of a TOML document, by path (array-of-tables entries by index).

    tomllib keeps no positions; this scan of the (already valid) text finds where each key was written, so that
    errors name lines in TOML as they do in YAML."""
    lines: dict[tuple[str | int, ...], int] = {}
    counts: dict[tuple[str | int, ...], int] = {}
    table: tuple[str | int, ...] = ()

    def resolve(names: list[str]) -> tuple[str | int, ...]:
        path: tuple[str | int, ...] = ()
        for name in names:
            path += (name,)
            if path in counts:
                path += (counts[path] - 1,)
        return path

    for number, raw in enumerate(text.splitlines(), 1):
        if header := _TOML_TABLE.match(raw):
            names = _toml_key_parts(header.group(2))
            if header.group(1) == "[[":
                array = (*resolve(names[:-1]), names[-1])
                counts[array] = counts.get(array, 0) + 1
                lines.setdefault(array, number)
                table = (*array, counts[array] - 1)
            else:
                table = resolve(names)
            lines.setdefault(table, number)
        elif assignment := _TOML_KEY.match(raw):
            names = _toml_key_parts(assignment.group(1))
            for depth in range(1, len(names) + 1):
                lines.setdefault(table + tuple(names[:depth]), number)
    return lines


def _annotate(value: Any, path: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int], line: int) -> Any:
    """Parsed TOML as _LineDict / _LineList, each with the lines ``_toml_lines`` found (else the parent's)."""
    own = lines.get(path, line)
    if isinstance(value, dict):
        mapping = _LineDict()
        mapping.line = own
        mapping.key_lines = {}
        for key, item in value.items():
            mapping.key_lines[key] = lines.get((*path, key), own)
            mapping[key] = _annotate(item, (*path, key), lines, mapping.key_lines[key])
        return mapping
    if isinstance(value, list):
        items = _LineList()
        items.line = own
        items.item_lines = []
        for index, item in enumerate(value):
            items.item_lines.append(lines.get((*path, index), own))
            items.append(_annotate(item, (*path, index), lines, items.item_lines[-1]))
        return items
    return value


def _read(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ByokConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ByokConfigError(f"config file {path} cannot be read: {exc.strerror or type(exc).__name__}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ByokConfigError(f"{path} line {line}: not valid UTF-8") from None
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        raise ByokConfigError(f"{path} line {line}: holds a NUL character (not a text file)")
    if path.suffix.lower() == ".toml":
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ByokConfigError(f"{path}{_toml_position(str(exc))}") from None
        except RecursionError:
            raise ByokConfigError(f"{path}: not valid TOML: nested too deeply") from None
        return _annotate(document, (), _toml_lines(text), 1)
    try:
        return _load_yaml(text)
    except Exception as exc:  # PyYAML raises its own errors, and ValueError / RecursionError on odd input
        raise _yaml_error(path, text, exc) from None


def _toml_position(message: str) -> str:
    """`` line L, column C: not valid TOML: <reason>`` from a tomllib message (which holds no value)."""
    match = re.fullmatch(r"(.*?) \(at line (\d+), column (\d+)\)", message, re.DOTALL)
    if match:
        return f" line {match.group(2)}, column {match.group(3)}: not valid TOML: {match.group(1)}"
    match = re.fullmatch(r"(.*?) \(at end of document\)", message, re.DOTALL)
    if match:
        return f": not valid TOML: {match.group(1)} (at the end of the file)"
    return f": not valid TOML: {message}"


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for state URLs such as ``redis://:pw@host:6379/0``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unreadable URL)"
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _Parser:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, node: Any, key: str | int | None, field_path: str, problem: str) -> ByokConfigError:
        line = _line_of(node, key)
        where = f" line {line}" if line else ""
        return ByokConfigError(f"{self.path}{where}: {field_path}: {problem}")

    def mapping(self, node: Any, field_path: str, parent: Any, key: str | int | None) -> dict[str, Any]:
        if not isinstance(node, dict):
            raise self.fail(parent, key, field_path, f"must be a mapping, not {_kind(node)}")
        return node

    def known(self, node: dict[str, Any], allowed: Sequence[str], prefix: str) -> None:
        """Every key of ``node`` is one of ``allowed``; an unknown one is an error with a did-you-mean."""
        for name in node:
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(allowed)})"
                raise self.fail(node, name, prefix + name, f"unknown field{hint}")

    def block(self, data: Any) -> tuple[dict[str, Any], str]:
        """The mapping holding ``providers``: the ai-gateway action's config, or the top level."""
        if data is None or (isinstance(data, str) and not data.strip()):
            raise ByokConfigError(f"{self.path} line 1: (top level): the file is empty; it needs a 'providers' list")
        top = self.mapping(data, "(top level)", data, None)
        self.known(top, _TOP_FIELDS, "")
        actions = top.get("on_http_request")
        if actions is None:
            return top, ""
        if not isinstance(actions, list):
            raise self.fail(top, "on_http_request", "on_http_request", f"must be a list, not {_kind(actions)}")
        for name in _BLOCK_FIELDS:
            if name in top:
                raise self.fail(top, name, name, "belongs inside the ai-gateway action's config")
        for i, action in enumerate(actions):
            action = self.mapping(action, f"on_http_request[{i}]", actions, i)
            if action.get("type") == "ai-gateway":
                where = f"on_http_request[{i}]"
                self.known(action, _ACTION_FIELDS, where + ".")
                config = action.get("config")
                if config is None:
                    raise self.fail(action, "type", where + ".config", "is required (it holds 'providers')")
                config = self.mapping(config, where + ".config", action, "config")
                self.known(config, _BLOCK_FIELDS, where + ".config.")
                return config, where + ".config."
        raise self.fail(top, "on_http_request", "on_http_request", "has no action of type ai-gateway")

    def flag(self, block: dict[str, Any], prefix: str) -> bool | None:
        if "only_allow_configured_providers" not in block:
            return None
        only = block["only_allow_configured_providers"]
        if not isinstance(only, bool):
            name = "only_allow_configured_providers"
            raise self.fail(block, name, prefix + name, f"must be true or false, not {_kind(only)}")
        return only

    def state(self, block: dict[str, Any], prefix: str) -> str | None:
        if "state" not in block:
            return None
        value = block["state"]
        where = prefix + "state"
        if not isinstance(value, str) or not value.strip():
            raise self.fail(block, "state", where, f"must be a redis:// or rediss:// URL, not {_kind(value)}")
        value = value.strip()
        if match := _ENV_REF.fullmatch(value):
            resolved = os.environ.get(match.group(1), "").strip()
            if not resolved:
                raise self.fail(block, "state", where, f"environment variable {match.group(1)} is not set")
            value = resolved
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            raise self.fail(block, "state", where, "is not a valid URL") from None
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise self.fail(
                block, "state", where, f"must be a redis:// or rediss:// URL with a host, not {mask_url(value)!r}"
            )
        return value

    def providers(self, block: dict[str, Any], prefix: str) -> dict[str, ProviderEntry]:
        if "providers" not in block:
            return {}
        items = block["providers"]
        if items is None or items == []:
            raise self.fail(block, "providers", prefix + "providers", "is empty; list at least one provider")
        if not isinstance(items, list):
            raise self.fail(block, "providers", prefix + "providers", f"must be a list, not {_kind(items)}")
        result: dict[str, ProviderEntry] = {}
        for i, item in enumerate(items):
            where = f"{prefix}providers[{i}]"
            item = self.mapping(item, where, items, i)
            pid = item.get("id")
            if not isinstance(pid, str) or not pid:
                raise self.fail(
                    item, "id", where + ".id", "is required (a provider id such as openai, anthropic, google)"
                )
            self.known(item, _PROVIDER_FIELDS, where + ".")
            provider = PROVIDER_IDS.get(pid.lower())
            if provider is None:
                close = difflib.get_close_matches(pid.lower(), list(PROVIDER_IDS), n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}? " if close else ""
                known = ", ".join(sorted(PROVIDER_IDS))
                raise self.fail(item, "id", where + ".id", f"unknown provider id {pid!r} ({hint}known: {known})")
            if provider in result:
                raise self.fail(item, "id", where + ".id", f"provider {pid!r} is listed twice")
            result[provider] = ProviderEntry(
                pid,
                provider,
                self.keys(item, where),
                self.selection(item, where),
                where,
                _line_of(item),
                self.choice(item, "cooldown_scope", COOLDOWN_SCOPES, where),
                self.origins(item, where),
                self.positive(item, "max_cooldown", where + ".max_cooldown"),
                self.choice(item, "on_exhausted", ON_EXHAUSTED_MODES, where),
                self.positive(item, "max_wait", where + ".max_wait"),
            )
        return result

    def selection(self, item: dict[str, Any], where: str) -> Any:
        """``api_key_selection: {strategy: <name> | <CEL> | [<CEL>, ...]}``; names are checked here."""
        if "api_key_selection" not in item:
            return None
        value = item["api_key_selection"]
        where += ".api_key_selection"
        value = self.mapping(value, where, item, "api_key_selection")
        self.known(value, _SELECTION_FIELDS, where + ".")
        if "strategy" not in value:
            raise self.fail(value, None, where + ".strategy", "is required")
        chosen = value["strategy"]
        if isinstance(chosen, str) and chosen.strip() and "(" not in chosen and "." not in chosen:
            if chosen not in STRATEGIES:
                close = difflib.get_close_matches(chosen, STRATEGIES, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise self.fail(
                    value,
                    "strategy",
                    where + ".strategy",
                    f"unknown strategy {chosen!r} ({hint}one of {', '.join(STRATEGIES)}, or CEL expressions)",
                )
        elif isinstance(chosen, list):
            if not chosen or not all(isinstance(e, str) and e.strip() for e in chosen):
                raise self.fail(
                    value, "strategy", where + ".strategy", "must be a non-empty list of CEL expressions (strings)"
                )
        elif not isinstance(chosen, str) or not chosen.strip():
            raise self.fail(
                value, "strategy", where + ".strategy", f"must be a strategy name or CEL, not {_kind(chosen)}"
            )
        return value

    def choice(self, item: dict[str, Any], name: str, choices: tuple[str, ...], where: str) -> str | None:
        """The field ``name`` of ``item``, one of ``choices`` (None when absent)."""
        if name not in item:
            return None
        value = item[name]
        if value not in choices:
            shown = repr(value) if isinstance(value, str) else _kind(value)
            allowed = " or ".join(", ".join(repr(c) for c in choices).rsplit(", ", 1))
            raise self.fail(item, name, f"{where}.{name}", f"must be {allowed}, not {shown}")
        return str(value)

    def origins(self, item: dict[str, Any], where: str) -> tuple[str, ...] | None:
        if "allowed_origins" not in item:
            return None
        value = item["allowed_origins"]
        where += ".allowed_origins"
        if not isinstance(value, list) or not value:
            raise self.fail(
                item, "allowed_origins", where, f"must be a non-empty list of origin URLs, not {_kind(value)}"
            )
        result = []
        for j, origin in enumerate(value):
            try:
                result.append(normalise_origin(origin))
            except ValueError as exc:
                raise self.fail(value, j, f"{where}[{j}]", str(exc)) from None
        return tuple(dict.fromkeys(result))

    def positive(self, node: dict[str, Any], name: str, where: str) -> float | None:
        if name not in node:
            return None
        value = node[name]
        if not _number(value) or value <= 0:
            shown = repr(value) if _number(value) else _kind(value)
            raise self.fail(node, name, where, f"must be a positive number, not {shown}")
        return float(value)

    def keys(self, item: dict[str, Any], where: str) -> tuple[KeyRef, ...]:
        raw = item.get("api_keys")
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise self.fail(item, "api_keys", where + ".api_keys", f"must be a list, not {_kind(raw)}")
        if not raw:
            raise self.fail(item, "api_keys", where + ".api_keys", "is empty (leave it out for passthrough)")
        refs = []
        for j, entry in enumerate(raw):
            key_where = f"{where}.api_keys[{j}]"
            limits: tuple[float | None, ...] = (None, None, None)
            node: Any = raw
            key: str | int = j
            value: Any = entry
            if isinstance(entry, dict):
                self.known(entry, _KEY_FIELDS, key_where + ".")
                if "value" not in entry:
                    raise self.fail(entry, None, key_where, "needs a 'value'")
                value, node, key = entry["value"], entry, "value"
                limits = tuple(self.positive(entry, name, f"{key_where}.{name}") for name in ("rpm", "tpm", "rpd"))
            if not isinstance(value, str) or not value.strip():
                raise self.fail(node, key, key_where + ".value", f"must be a non-empty string, not {_kind(value)}")
            refs.append(self.ref(value.strip(), key_where, node, key, limits))
        return tuple(refs)

    def ref(self, value: str, where: str, node: Any, key: str | int, limits: tuple[float | None, ...]) -> KeyRef:
        line = _line_of(node, key)
        rpm, tpm, rpd = limits
        if match := _SECRET_REF.fullmatch(value):
            return KeyRef(
                "secret", vault=match.group(2), name=match.group(4), where=where, line=line, rpm=rpm, tpm=tpm, rpd=rpd
            )
        if match := _ENV_REF.fullmatch(value):
            return KeyRef("env", name=match.group(1), where=where, line=line, rpm=rpm, tpm=tpm, rpd=rpd)
        if "${" in value:
            raise self.fail(
                node,
                key,
                where + ".value",
                "unsupported expression; use ${secrets.get('vault', 'name')} or ${env.NAME}",
            )
        return KeyRef("inline", value=value, where=where, line=line, rpm=rpm, tpm=tpm, rpd=rpd)


def normalise_origin(origin: object) -> str:
    """``scheme://host[:port]`` (lower-case, the default port left out) of an http(s) origin URL; ``ValueError``
    saying why it is not one."""
    if not isinstance(origin, str) or not origin.strip():
        raise ValueError(f"must be an origin URL such as https://api.example.com, not {_kind(origin)}")
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"{origin!r} is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{origin!r} must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{origin!r} must be an origin only (scheme, host and port; no path, query or user)")
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[scheme]  # one spelling per origin: the default port is left out
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return "a string" if isinstance(value, str) else type(value).__name__


def load_config(path: str | os.PathLike[str], environment: str | None = None) -> ByokConfig:
    """Read and validate a config file; ``environment`` (default ``BYOK_ENV``) applies ``environments.<name>``.

    Raises ``ByokConfigError`` naming the file, line, field and reason for anything malformed, unknown fields
    included (with a did-you-mean), and for a file that is empty or lists no providers. Whatever the file holds,
    no other exception escapes.
    """
    file = Path(path)
    parser = _Parser(file)
    data = _read(file)
    block, prefix = parser.block(data)
    top: dict[str, Any] = data
    only = parser.flag(block, prefix) or False
    providers = parser.providers(block, prefix)
    state = parser.state(top, "")
    environments = top.get("environments")
    if environments is not None:
        environments = parser.mapping(environments, "environments", top, "environments")
        for name, override in environments.items():  # every profile is checked, not only the chosen one
            where = f"environments.{name}"
            override = parser.mapping(override, where, environments, name)
            parser.known(override, _ENV_FIELDS, where + ".")
    environment = environment if environment is not None else (os.environ.get("BYOK_ENV") or None)
    if environment:
        known_envs = environments or {}
        if environment not in known_envs:
            known = ", ".join(sorted(known_envs)) or "none"
            raise parser.fail(
                top,
                "environments" if environments is not None else None,
                "environments",
                f"environment {environment!r} (BYOK_ENV) is not in 'environments' (known: {known})",
            )
        override = known_envs[environment]
        where = f"environments.{environment}."
        providers = {**providers, **parser.providers(override, where)}
        flag = parser.flag(override, where)
        only = only if flag is None else flag
        state = parser.state(override, where) or state
    if not providers:
        hint = f" (or choose an environment with BYOK_ENV: {', '.join(sorted(environments))})" if environments else ""
        raise parser.fail(block, None, prefix + "providers", f"the file lists no providers{hint}")
    return ByokConfig(file, providers, only, environment or None, state)


def default_secrets_file() -> Path:
    """Where ``byok secrets set`` keeps secrets without a keyring, unless ``BYOK_SECRETS_FILE`` says otherwise:
    ``$XDG_CONFIG_HOME/byok/secrets.json`` (``~/.config/byok/secrets.json``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "byok" / "secrets.json"


def default_stores(
    secrets_dir: str | os.PathLike[str] | None = None,
    secrets_file: str | os.PathLike[str] | None = None,
    use_keyring: bool = True,
) -> list[SecretStore]:
    """The secret stores in resolution order: secrets dir (``BYOK_SECRETS_DIR``), JSON vault file
    (``BYOK_SECRETS_FILE``, else ``default_secrets_file()`` when it exists: where ``byok secrets set`` writes),
    the OS keyring (when the ``keyring`` package is installed), ``BYOK_SECRET_*`` env."""
    stores: list[SecretStore] = []
    directory = secrets_dir or os.environ.get("BYOK_SECRETS_DIR")
    if directory:
        from .sources.secrets_dir import SecretsDir

        stores.append(SecretsDir(directory))
    file = secrets_file or os.environ.get("BYOK_SECRETS_FILE")
    if file:
        from .sources.vault_file import VaultFile

        stores.append(VaultFile(file))
    elif default_secrets_file().is_file():
        from .sources.vault_file import VaultFile

        stores.append(VaultFile(default_secrets_file(), private=True))
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

    @property
    def stores(self) -> tuple[SecretStore, ...]:
        """The secret stores references are resolved through, in order."""
        return tuple(self._stores)

    def load(self) -> list[Key]:
        return [key for _, key, _ in self.load_refs()]

    def load_refs(self) -> list[tuple[KeyRef, Key, str]]:
        """Each key with its reference in the file (line, limits) and where its value came from (a store's name,
        ``env NAME`` or ``inline``), in file order."""
        config, self._loaded = self._loaded or load_config(self.path, self.environment), None
        entry = config.entry(self.provider)
        self._secret_files = []
        if entry is None:
            return []
        resolved: list[tuple[KeyRef, Key, str]] = []
        seen: dict[Key, KeyRef] = {}
        for ref in entry.api_keys:
            key, origin = self._resolve(ref)
            first = seen.setdefault(key, ref)
            if first is not ref:
                at = f" (line {first.line})" if first.line else ""
                raise ByokConfigError(
                    f"{self._at(ref)}: the same key as {first.where}{at} ({key.label} duplicates {first.label})"
                )
            resolved.append((ref, key, origin))
        return resolved

    def _at(self, ref: KeyRef) -> str:
        return f"{self.path} line {ref.line}: {ref.where}" if ref.line else f"{self.path}: {ref.where}"

    def _resolve(self, ref: KeyRef) -> tuple[Key, str]:
        label = f"config:{ref.label}"
        if ref.kind == "inline":
            if self.path not in _warned_inline:
                _warned_inline.add(self.path)
                warn_user(
                    f"{self._at(ref)} holds an API key inline; use ${{secrets.get('vault', 'name')}} "
                    "outside development",
                    InlineKeyWarning,
                )
            return self._key(ref, ref.value, label), "inline"
        if ref.kind == "env":
            value = os.environ.get(ref.name, "").strip()
            if not value:
                raise ByokConfigError(f"{self._at(ref)}: environment variable {ref.name} is not set")
            return self._key(ref, value, label), f"env {ref.name}"
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
                return self._key(ref, secret, label), store.name
        tried = ", ".join(s.name for s in self._stores)
        raise ByokConfigError(
            f"{self._at(ref)}: secret {ref.vault!r}/{ref.name!r} not found (looked in: {tried}; env name "
            f"{env_secret_name(ref.vault, ref.name)})"
        )

    def _key(self, ref: KeyRef, value: str, label: str) -> Key:
        try:
            return Key(value, label, rpm=_whole(ref.rpm), tpm=_whole(ref.tpm), rpd=_whole(ref.rpd))
        except ByokConfigError as exc:  # "contains whitespace": say where the value came from
            raise ByokConfigError(f"{self._at(ref)}: {exc}") from None

    def watched_files(self) -> tuple[Path, ...]:
        files = [self.path, *self._secret_files]
        for store in self._stores:
            files.extend(store.watched_files())
        return tuple(dict.fromkeys(files))


def _whole(limit: float | None) -> int | None:
    """A key's ``rpm``/``tpm``/``rpd`` from the file (a positive number) as the whole units ``Key`` takes."""
    return None if limit is None else max(1, int(limit))
