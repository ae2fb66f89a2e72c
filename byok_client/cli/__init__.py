"""The ``byok`` command: see the keys a client would use, check them against the provider, read shared key health,
manage secrets and validate config files. Never prints a key's value.

    byok keys [--provider P] [--config FILE] [--json]
    byok check [--provider P] [--base-url URL] [--config FILE] [--json] [--timeout S]
    byok status [--provider P] [--watch] [--state URL] [--json]
    byok secrets set VAULT NAME | list | rm VAULT NAME
    byok config validate [FILE]
    byok demo

Exit codes: 0 success; 1 a check or validation found a problem; 2 bad arguments, an unknown provider, a bad file
or a missing dependency (a one-line error, never a traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from .._errors import ByokConfigError, ByokError
from ._output import SCRUB, emit, say
from ._resolve import KeyInfo, ProviderInfo, ProviderKeys, config_path, gather, provider_arg, registry

__all__ = ["main"]

_state_opener: Callable[[str], Any] | None = None
"""TEST HOOK (private): when set, ``byok status`` calls it with the state URL instead of
``RedisState.from_url(url, prefix="byok")``. Only tests set it; the lead's real-Redis test does not need it."""


class _Usage(Exception):
    """A bad argument: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Usage(f"{message} (see: {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="byok", description="Bring-your-own-keys: inspect and check the keys your clients use.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    def provider(p: argparse.ArgumentParser) -> None:
        p.add_argument("--provider", type=provider_arg, help=f"one of: {', '.join(sorted(registry()))}")

    keys = commands.add_parser("keys", help="configured keys per provider: label, fingerprint, source")
    provider(keys)
    keys.add_argument("--config", help="config file (default: BYOK_CONFIG)")
    keys.add_argument("--json", action="store_true", help="print JSON")

    check = commands.add_parser("check", help="one cheap authenticated request per key, in parallel")
    provider(check)
    check.add_argument("--base-url", help="the API's base URL, as a client's base_url (default: the provider's)")
    check.add_argument("--config", help="config file (default: BYOK_CONFIG)")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.add_argument("--timeout", type=_positive, default=10.0, help="seconds per request (default 10)")

    status = commands.add_parser("status", help="live per-key health from the shared state backend")
    provider(status)
    status.add_argument("--state", help="state URL (default: BYOK_STATE_URL or the config file's state:)")
    status.add_argument("--config", help="config file (default: BYOK_CONFIG)")
    status.add_argument("--watch", action="store_true", help="refresh every --interval seconds until Ctrl-C")
    status.add_argument("--interval", type=_positive, default=2.0, help=argparse.SUPPRESS)
    status.add_argument("--json", action="store_true", help="print JSON")

    secrets = commands.add_parser("secrets", help="secrets for ${secrets.get('vault', 'name')}")
    actions = secrets.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    put = actions.add_parser("set", help="store a secret (value from stdin, or a hidden prompt)")
    put.add_argument("vault")
    put.add_argument("name")
    put.add_argument("--store", choices=("keyring", "file"), help="default: the keyring when usable, else the file")
    listing = actions.add_parser("list", help="vaults and names (never values)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    remove = actions.add_parser("rm", help="remove a secret")
    remove.add_argument("vault")
    remove.add_argument("name")
    remove.add_argument("--store", choices=("keyring", "file"), help="default: both")

    config = commands.add_parser("config", help="config files")
    config_actions = config.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    config_actions.required = True
    validate = config_actions.add_parser("validate", help="parse, resolve every reference, print the layout masked")
    validate.add_argument("file", nargs="?", help="config file (default: BYOK_CONFIG)")
    validate.add_argument("--json", action="store_true", help="print JSON")

    commands.add_parser("demo", help="failover on the bundled mock provider (no keys, no network)")
    return parser


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}")
    return value


def _settings() -> Any:
    from ..settings import load_settings

    return load_settings()


def _gather(args: argparse.Namespace) -> tuple[list[ProviderKeys], Any]:
    settings = _settings()
    found = gather(args.provider, config_path(args.config, settings), settings)
    for entry in found:
        for key in entry.keys:
            SCRUB.add(key.key.get_secret_value(), key.fingerprint)
        for message in entry.warnings:
            say(f"byok: warning: {message}", err=True)
    return found, settings


def _keys(args: argparse.Namespace) -> int:
    found, _ = _gather(args)
    health = _shared_health(args)
    rows: list[dict[str, Any]] = []
    for entry in found:
        if not entry.keys:
            rows.append(
                {"provider": entry.info.name, "label": None, "fingerprint": None, "source": None,
                 "state": entry.passthrough()}
            )  # fmt: skip
        for key in entry.keys:
            rows.append(_key_row(key, health(key)))
    emit(rows, _KEY_COLUMNS, as_json=args.json, title="byok keys", empty="no keys configured for any provider")
    return 0


def _shared_health(args: argparse.Namespace) -> Callable[[KeyInfo], str]:
    """A key's state from the shared state backend when one is configured, else "configured"; never fails the
    listing (a backend that cannot be read is named in the state)."""
    args.state = None
    url = _state_url(args)
    if url is None:
        return lambda key: "configured"
    try:
        snapshot = list(_open_state(url).snapshot())
    except Exception as exc:
        why = "backend not installed" if isinstance(exc, _Missing) else f"unreadable: {type(exc).__name__}"
        unread = f"configured (shared state {why})"
        return lambda key: unread

    def state(key: KeyInfo) -> str:
        records = [
            r for r in snapshot
            if r.get("fingerprint") == key.fingerprint and str(r.get("scope", "")).split(" ", 1)[0] == key.provider
        ]  # fmt: skip
        if not records:
            return "ready (no shared record yet)"
        parts = []
        for record in records:
            text = str(record.get("state"))
            if record.get("state") == "cooling":
                text += f" {float(record.get('cooling_for') or 0):.0f} s"
            if record.get("reason") and record.get("state") != "ready":
                text += f" ({record['reason']})"
            if record.get("model"):
                text = f"{record['model']}: {text}"
            parts.append(text)
        return "; ".join(parts)

    return state


_KEY_COLUMNS = [
    ("provider", "provider"),
    ("label", "label"),
    ("fingerprint", "fingerprint"),
    ("source", "source"),
    ("state", "state"),
]


def _key_row(key: KeyInfo, state: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "provider": key.provider,
        "label": key.label,
        "fingerprint": key.fingerprint,
        "source": key.source,
        "state": state,
    }
    if key.ref is not None:
        row.update(rpm=key.ref.rpm, tpm=key.ref.tpm, rpd=key.ref.rpd)
    return row


def _check(args: argparse.Namespace) -> int:
    from ..config import normalise_origin
    from ._check import CheckResult, check_keys, models_url

    found, _ = _gather(args)
    managed = [entry for entry in found if entry.keys]
    if args.base_url and len(managed) > 1:
        names = ", ".join(entry.info.name for entry in managed)
        raise _Usage(f"--base-url would send the keys of {names} to one host; choose one with --provider")
    work: list[tuple[ProviderInfo, KeyInfo, str]] = []
    refused: list[CheckResult] = []
    for entry in managed:
        base = args.base_url or entry.info.default_base_url()
        if base is None:
            raise _Usage(f"{entry.info.name}: no default base URL; pass --base-url (or set AZURE_OPENAI_ENDPOINT)")
        try:
            parts = urlsplit(base)
            origin = normalise_origin(f"{parts.scheme}://{parts.netloc}")
        except ValueError:
            raise _Usage(f"base URL {base!r} is not an http:// or https:// URL with a host") from None
        if entry.allowed_origins is not None and origin not in entry.allowed_origins:
            # Never send a key where the configuration says it may not go.
            detail = f"{origin} is not in allowed_origins ({', '.join(entry.allowed_origins)}); not sent"
            url = models_url(entry.info, base)
            refused.extend(CheckResult(key, url, "refused", None, detail) for key in entry.keys)
            continue
        work.extend((entry.info, key, base) for key in entry.keys)
    if not work and not refused:
        say("byok: no managed keys to check (every provider is passthrough)", err=True)
        return 1
    results = (check_keys(work, args.timeout) if work else []) + refused
    columns = [
        ("provider", "provider"),
        ("label", "label"),
        ("fingerprint", "fingerprint"),
        ("status", "status"),
        ("detail", "detail"),
    ]
    emit([r.row() for r in results], columns, as_json=args.json, title="byok check")
    return 0 if all(r.status == "ok" for r in results) else 1


def _state_url(args: argparse.Namespace) -> str | None:
    if args.state:
        return str(args.state)
    settings = _settings()
    if settings.state_url:
        return str(settings.state_url)
    path = config_path(args.config, settings)
    if path is None:
        return None
    from ..config import load_config

    return load_config(path, settings.env).state


def _open_state(url: str) -> Any:
    if _state_opener is not None:
        return _state_opener(url)
    try:
        from ..state.redis import RedisState  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise _Missing(
            f"the Redis state backend (byok_client.state.redis) is not available: {type(exc).__name__}: {exc}"
        ) from None
    return RedisState.from_url(url, prefix="byok")


class _Missing(Exception):
    """A missing optional part: one line, exit 2."""


def _status(args: argparse.Namespace) -> int:
    from ..config import mask_url

    url = _state_url(args)
    if url is None:
        say("no shared state configured (--state, BYOK_STATE_URL or the config file's state:): nothing to read")
        return 0
    try:
        state = _open_state(url)
    except (_Missing, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise _Missing(f"cannot open shared state at {mask_url(url)}: {type(exc).__name__}") from None
    labels = _labels_by_fingerprint()
    columns = [
        ("provider", "provider"),
        ("scope", "scope"),
        ("label", "label"),
        ("fingerprint", "fingerprint"),
        ("model", "model"),
        ("state", "state"),
        ("cooling_for", "cooling for (s)"),
        ("reason", "reason"),
        ("requests", "requests"),
        ("failures", "failures"),
    ]
    try:
        while True:
            try:
                snapshot = list(state.snapshot())
            except KeyboardInterrupt:
                return 0
            except Exception as exc:
                raise _Missing(f"cannot read shared state at {mask_url(url)}: {type(exc).__name__}") from None
            rows = []
            for item in snapshot:
                scope = str(item.get("scope", ""))
                name = scope.split(" ", 1)[0]
                if args.provider and name != args.provider:
                    continue
                failures = item.get("failures") or {}
                rows.append(
                    {
                        "provider": name,
                        "scope": scope,
                        "label": labels.get(str(item.get("fingerprint"))),
                        "fingerprint": item.get("fingerprint"),
                        "model": item.get("model"),
                        "state": item.get("state"),
                        "cooling_for": round(float(item.get("cooling_for") or 0.0), 1),
                        "reason": item.get("reason"),
                        "requests": item.get("requests"),
                        "failures": failures
                        if args.json
                        else ", ".join(f"{k}={v}" for k, v in failures.items()) or None,
                    }
                )
            if args.watch and not args.json and sys.stdout.isatty():
                print("\033[2J\033[H", end="")
            emit(
                rows, columns, as_json=args.json, title=f"byok status ({mask_url(url)})", empty="no key health recorded"
            )
            if not args.watch:
                return 0
            try:
                time.sleep(args.interval)  # the CLI's own loop: no event loop here
            except KeyboardInterrupt:  # Ctrl-C ends --watch: a normal exit
                return 0

    finally:
        close = getattr(state, "close", None)
        if close is not None:
            close()  # its sockets and thread: a command leaves nothing open


def _labels_by_fingerprint() -> dict[str, str]:
    """Labels of the keys configured here, to name the fingerprints the state holds (best effort)."""
    try:
        settings = _settings()
        found = gather(None, config_path(None, settings), settings)
    except ByokError:
        return {}
    return {key.fingerprint: key.label for entry in found for key in entry.keys}


def _cmd_secrets(args: argparse.Namespace) -> int:
    from . import _secrets as store  # the module (this function has its own name)

    if args.action == "set":
        kind = store.store_kind(args.store)
        value = store.read_value(args.vault, args.name)
        where = store.set_secret(args.vault, args.name, value, kind)
        reference = f"${{secrets.get('{args.vault}', '{args.name}')}}"
        say(f"stored {args.vault}/{args.name} in {where}; reference it as {reference}")
        return 0
    if args.action == "list":
        columns = [("vault", "vault"), ("name", "name"), ("store", "store")]
        emit(store.list_secrets(), columns, as_json=args.json, title="byok secrets", empty="no secrets stored")
        return 0
    removed = store.remove_secret(args.vault, args.name, args.store)
    if not removed:
        say(f"byok: no secret {args.vault}/{args.name} to remove", err=True)
        return 1
    say(f"removed {args.vault}/{args.name} from {', '.join(removed)}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from ..config import ConfigSource, InlineKeyWarning, default_stores, load_config, mask_url

    settings = _settings()
    path = Path(args.file) if args.file else config_path(None, settings)
    if path is None:
        raise _Usage("no config file: pass FILE or set BYOK_CONFIG")
    try:
        loaded = load_config(path, settings.env)
    except ByokConfigError as exc:
        say(f"byok: error: {exc}", err=True)
        return 1
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    stores = default_stores(settings.secrets_dir, settings.secrets_file)
    for name, entry in loaded.providers.items():
        settings_row = {
            "cooldown_scope": entry.cooldown_scope,
            "allowed_origins": list(entry.allowed_origins) if entry.allowed_origins else None,
            "max_cooldown": entry.max_cooldown,
        }
        if not entry.api_keys:
            rows.append({"provider": name, "label": None, "fingerprint": None, "reference": "passthrough",
                         "line": entry.line, "source": None, **settings_row})  # fmt: skip
            continue
        source = ConfigSource(path, name, environment=loaded.environment, stores=stores, loaded=loaded)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InlineKeyWarning)
            try:
                resolved = source.load_refs()
            except ByokConfigError as exc:
                problems.append(str(exc))
                resolved = []
        for warning in caught:
            if issubclass(warning.category, InlineKeyWarning):
                say(f"byok: warning: {warning.message}", err=True)
        for ref, key, origin in resolved:
            SCRUB.add(key.get_secret_value(), key.fingerprint)
            rows.append(
                {"provider": name, "label": key.label, "fingerprint": key.fingerprint, "reference": ref.reference,
                 "line": ref.line, "source": origin, "rpm": ref.rpm, "tpm": ref.tpm, "rpd": ref.rpd, **settings_row}
            )  # fmt: skip
    for problem in problems:
        say(f"byok: error: {problem}", err=True)
    columns = [
        ("provider", "provider"),
        ("label", "label"),
        ("fingerprint", "fingerprint"),
        ("reference", "reference"),
        ("line", "line"),
        ("source", "resolved from"),
    ]
    title = f"{path}" + (f" (environment {loaded.environment})" if loaded.environment else "")
    if loaded.state:
        title += f", state {mask_url(loaded.state)}"
    emit(rows, columns, as_json=args.json, title=title)
    if not problems and not args.json:
        say(f"{path}: OK ({len(rows)} entries in {len(loaded.providers)} providers)")
    return 1 if problems else 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import main as demo

    return demo()


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "keys": _keys,
    "check": _check,
    "status": _status,
    "secrets": _cmd_secrets,
    "config": _validate,
    "demo": _demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``byok`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    try:
        args = _parser().parse_args(argv)
        return _COMMANDS[args.command](args)
    except BrokenPipeError:  # `byok keys | head`: the reader left; say nothing more
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        return 130
    except (_Usage, _Missing, ByokError) as exc:
        say(f"byok: error: {exc}", err=True)
        return 2
    except Exception as exc:  # never a traceback (its text could hold anything): the type, and how to see more
        if os.environ.get("BYOK_DEBUG"):
            raise
        say(f"byok: error: unexpected {type(exc).__name__} (set BYOK_DEBUG=1 for the traceback)", err=True)
        return 2
