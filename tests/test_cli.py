"""The ``byok`` console script, run as installed (``.venv/bin/byok``) in a subprocess against MockProvider.

Every command's stdout and stderr are checked for every secret value used here: none may appear."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.errors
import pytest

from byok_client.testing import MockProvider, invalid_key, ok, quota_exhausted, rate_limited
from tests.redis_server import RedisServer, redis_server

BYOK = Path(sys.executable).with_name("byok")
GOOD, LIMITED, QUOTA, UNKNOWN = "sk-cli-good-0001", "sk-cli-limited-0002", "sk-cli-quota-0003", "sk-cli-unknown-0004"
ANT_GOOD, GEM_GOOD, OLD, NEW = "sk-ant-cli-good-0005", "AIza-cli-good-0006", "sk-cli-old-0007", "sk-cli-new-0008"
STORED = "sk-cli-stored-via-stdin-0009"
SECRETS = (GOOD, LIMITED, QUOTA, UNKNOWN, ANT_GOOD, GEM_GOOD, OLD, NEW, STORED)


@pytest.fixture(autouse=True)
def _installed() -> None:
    assert BYOK.exists(), f"{BYOK} is missing: install the project (uv pip install -e '.[dev]') to get the script"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    """The environment of each command: no keys (conftest removed them), a private HOME, no keyring backend."""
    return {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "PYTHONWARNINGS": "default",
    }


def byok(
    *args: str, env: dict[str, str], cwd: Path, stdin: str | None = None, code: int | None = 0
) -> subprocess.CompletedProcess[str]:
    """Run the installed script; check its exit code, that no traceback and no secret value was printed."""
    done = subprocess.run(
        [str(BYOK), *args], env=env, cwd=cwd, input=stdin if stdin is not None else "", capture_output=True, text=True
    )
    output = done.stdout + done.stderr
    for secret in SECRETS:
        assert secret not in output, f"a key value leaked in: byok {' '.join(args)}"
    assert "Traceback" not in output
    if code is not None:
        assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    return done


def rows(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    result = json.loads(done.stdout)
    assert isinstance(result, list)
    return result


# -- byok keys ---------------------------------------------------------------------------------------------------------
def test_keys_lists_every_source_without_values(tmp_path: Path, env: dict[str, str]) -> None:
    secrets = tmp_path / "secrets"
    (secrets / "anthropic").mkdir(parents=True)
    (secrets / "anthropic" / "main").write_text(ANT_GOOD)
    config = tmp_path / "byok.yaml"
    config.write_text(
        "providers:\n  - id: anthropic\n    api_keys:\n"
        "      - value: ${secrets.get('anthropic', 'main')}\n        rpm: 50\n"
        "  - id: openai\n"
    )
    env.update(BYOK_SECRETS_DIR=str(secrets), OPENAI_API_KEY=GOOD, OPENAI_API_KEY_1=LIMITED, GEMINI_API_KEYS=GEM_GOOD)
    listed = rows(byok("keys", "--config", str(config), "--json", env=env, cwd=tmp_path))
    by_label = {(r["provider"], r["label"]): r for r in listed}
    assert by_label[("anthropic", "config:anthropic/main")]["source"] == f"{config} line 4 (secrets-dir {secrets})"
    assert by_label[("anthropic", "config:anthropic/main")]["rpm"] == 50
    assert by_label[("gemini", "GEMINI_API_KEYS[0]")]["source"] == "env GEMINI_API_KEYS"
    # openai is listed in the file without keys: passthrough by choice, even with OPENAI_API_KEY_1 set
    assert by_label[("openai", None)]["state"].startswith("passthrough: the SDK's own key (OPENAI_API_KEY)")
    from byok_client import Key

    assert by_label[("gemini", "GEMINI_API_KEYS[0]")]["fingerprint"] == Key(GEM_GOOD).fingerprint

    env_only = rows(byok("keys", "--provider", "openai", "--json", env=env, cwd=tmp_path))
    assert [(r["label"], r["source"]) for r in env_only] == [
        ("OPENAI_API_KEY", "env OPENAI_API_KEY"),
        ("OPENAI_API_KEY_1", "env OPENAI_API_KEY_1"),
    ]
    plain = byok("keys", "--provider", "google", env=env, cwd=tmp_path).stdout  # piped: plain text, an alias
    assert plain.splitlines()[1].split()[:2] == ["PROVIDER", "LABEL"]
    assert "GEMINI_API_KEYS[0]" in plain and Key(GEM_GOOD).fingerprint in plain


def test_keys_only_plain_variable_is_passthrough(tmp_path: Path, env: dict[str, str]) -> None:
    env["OPENAI_API_KEY"] = GOOD
    listed = rows(byok("keys", "--json", env=env, cwd=tmp_path))
    assert listed == [
        {
            "provider": "openai",
            "label": None,
            "fingerprint": None,
            "source": None,
            "state": "passthrough: the SDK's own key (OPENAI_API_KEY) goes out untouched",
        }
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keys", "--provider", "nope"], "unknown provider 'nope'"),
        (["check", "--timeout", "-1"], "must be a positive number"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required: COMMAND"),
        (["secrets"], "the following arguments are required: ACTION"),
        (["secrets", "set", "openai"], "the following arguments are required: name"),
        (["keys", "--config", "missing.yaml"], "config file missing.yaml does not exist"),
        (["status", "--state", "redis://127.0.0.1:1"], "redis"),
    ],
)
def test_bad_arguments_and_files_are_one_line_and_exit_2(
    tmp_path: Path, env: dict[str, str], args: list[str], message: str
) -> None:
    done = byok(*args, env=env, cwd=tmp_path, code=2)
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("byok: error: ")
    assert message in lines[0]


def test_bad_config_file_names_file_line_and_reason(tmp_path: Path, env: dict[str, str]) -> None:
    config = tmp_path / "typo.yaml"
    config.write_text(f"providers:\n  - id: openai\n    apikeys: [{GOOD}]\n")
    done = byok("keys", "--config", str(config), env=env, cwd=tmp_path, code=2)
    assert done.stderr.strip() == (
        f"byok: error: {config} line 3: providers[0].apikeys: unknown field; did you mean 'api_keys'?"
    )


# -- byok check --------------------------------------------------------------------------------------------------------
def test_check_classifies_each_key_with_the_providers_classifier(
    mock: MockProvider, tmp_path: Path, env: dict[str, str]
) -> None:
    mock.add_key(GOOD, ok(), label="good")
    mock.add_key(LIMITED, rate_limited(retry_after=30), label="limited")
    mock.add_key(QUOTA, quota_exhausted(), label="quota")
    env["OPENAI_API_KEYS"] = ",".join((GOOD, LIMITED, QUOTA, UNKNOWN))
    done = byok("check", "--provider", "openai", "--base-url", mock.openai_base_url, "--json", env=env, cwd=tmp_path,
                code=1)  # fmt: skip
    results = {r["label"]: r for r in rows(done)}
    assert results["OPENAI_API_KEYS[0]"]["status"] == "ok"
    assert results["OPENAI_API_KEYS[1]"]["status"] == "rate-limited"
    assert results["OPENAI_API_KEYS[1]"]["reset_in"] == 30
    assert results["OPENAI_API_KEYS[2]"]["status"] == "quota"
    assert results["OPENAI_API_KEYS[3]"]["status"] == "invalid"
    seen = sorted((r.label, r.method, r.path) for r in mock.requests)
    assert seen == sorted([(label, "GET", "/v1/models") for label in ("good", "limited", "quota", "<unknown>")])
    assert all(r.headers["authorization"].startswith("Bearer sk-cli-") for r in mock.requests)


def test_check_anthropic_and_gemini_use_their_own_endpoints_and_headers(
    mock: MockProvider, tmp_path: Path, env: dict[str, str]
) -> None:
    mock.add_key(ANT_GOOD, ok(), label="ant")
    mock.add_key(GEM_GOOD, ok(), label="gem")
    env.update(ANTHROPIC_API_KEY_1=ANT_GOOD, GEMINI_API_KEY_1=GEM_GOOD)
    byok("check", "--provider", "anthropic", "--base-url", mock.anthropic_base_url, env=env, cwd=tmp_path)
    byok("check", "--provider", "gemini", "--base-url", mock.gemini_base_url, env=env, cwd=tmp_path)
    ant, gem = mock.requests
    assert (ant.label, ant.path, ant.provider) == ("ant", "/v1/models", "anthropic")
    assert ant.headers["x-api-key"] == ANT_GOOD and "authorization" not in ant.headers
    assert (gem.label, gem.path, gem.provider) == ("gem", "/v1beta/models", "gemini")
    assert gem.headers["x-goog-api-key"] == GEM_GOOD


def test_check_unreachable_and_nothing_to_check(tmp_path: Path, env: dict[str, str]) -> None:
    env["OPENAI_API_KEYS"] = GOOD
    done = byok("check", "--base-url", "http://127.0.0.1:1/v1", "--timeout", "2", "--json", env=env, cwd=tmp_path,
                code=1)  # fmt: skip
    assert [r["status"] for r in rows(done)] == ["unreachable"]
    del env["OPENAI_API_KEYS"]
    assert "no managed keys to check" in byok("check", env=env, cwd=tmp_path, code=1).stderr


def test_rotation_session(mock: MockProvider, tmp_path: Path, env: dict[str, str]) -> None:
    """The README's session: add the new key, check, remove the old key, revoke it."""
    mock.add_key(OLD, ok(), label="old")
    mock.add_key(NEW, ok(), label="new")
    config = tmp_path / "byok.yaml"
    entry = "      - value: ${{secrets.get('openai', '{}')}}\n"
    head = "providers:\n  - id: openai\n    api_keys:\n"
    env["BYOK_CONFIG"] = str(config)
    check = ("check", "--provider", "openai", "--base-url", mock.openai_base_url, "--json")
    byok("secrets", "set", "openai", "old", stdin=OLD + "\n", env=env, cwd=tmp_path)
    config.write_text(head + entry.format("old"))
    assert [r["status"] for r in rows(byok(*check, env=env, cwd=tmp_path))] == ["ok"]
    byok("secrets", "set", "openai", "new", stdin=NEW, env=env, cwd=tmp_path)  # 1. add the new key
    config.write_text(head + entry.format("old") + entry.format("new"))
    both = rows(byok(*check, env=env, cwd=tmp_path))  # 2. check it
    assert [(r["label"], r["status"]) for r in both] == [("config:openai/old", "ok"), ("config:openai/new", "ok")]
    config.write_text(head + entry.format("new"))  # 3. remove the old key
    byok("secrets", "rm", "openai", "old", env=env, cwd=tmp_path)
    mock.set(OLD, invalid_key())  # 4. revoke it at the provider
    assert [(r["label"], r["status"]) for r in rows(byok(*check, env=env, cwd=tmp_path))] == [
        ("config:openai/new", "ok")
    ]


# -- byok secrets ----------------------------------------------------------------------------------------------------
def test_secrets_file_round_trip_with_the_config_file(tmp_path: Path, home: Path, env: dict[str, str]) -> None:
    done = byok("secrets", "set", "openai", "prod", stdin=STORED + "\n", env=env, cwd=tmp_path)
    vault = home / ".config" / "byok" / "secrets.json"
    assert str(vault) in done.stdout and "${secrets.get('openai', 'prod')}" in done.stdout
    assert stat.S_IMODE(vault.stat().st_mode) == 0o600
    assert json.loads(vault.read_text()) == {"openai": {"prod": STORED}}
    listed = rows(byok("secrets", "list", "--json", env=env, cwd=tmp_path))
    assert listed == [{"vault": "openai", "name": "prod", "store": str(vault)}]

    config = tmp_path / "byok.yaml"
    config.write_text("providers:\n  - id: openai\n    api_keys:\n      - ${secrets.get('openai', 'prod')}\n")
    from byok_client import Key

    keys = rows(byok("keys", "--config", str(config), "--json", env=env, cwd=tmp_path))
    assert [(k["label"], k["fingerprint"]) for k in keys] == [("config:openai/prod", Key(STORED).fingerprint)]
    assert f"(vault-file {vault})" in keys[0]["source"]

    vault.chmod(0o644)  # readable by others: refused, for listing and for resolution alike
    assert "chmod 600" in byok("secrets", "list", env=env, cwd=tmp_path, code=2).stderr
    assert "refused" in byok("keys", "--config", str(config), env=env, cwd=tmp_path, code=2).stderr
    vault.chmod(0o600)

    assert "removed openai/prod" in byok("secrets", "rm", "openai", "prod", env=env, cwd=tmp_path).stdout
    assert json.loads(vault.read_text()) == {}
    assert "no secret openai/prod" in byok("secrets", "rm", "openai", "prod", env=env, cwd=tmp_path, code=1).stderr
    assert "no secrets stored" in byok("secrets", "list", env=env, cwd=tmp_path).stdout


def test_secrets_set_refuses_bad_values_and_uses_byok_secrets_file(tmp_path: Path, env: dict[str, str]) -> None:
    assert "the value is empty" in byok("secrets", "set", "v", "n", stdin="\n", env=env, cwd=tmp_path, code=2).stderr
    bad = byok("secrets", "set", "v", "n", stdin=f"{STORED} tail", env=env, cwd=tmp_path, code=2)
    assert "'v/n' contains whitespace" in bad.stderr
    env["BYOK_SECRETS_FILE"] = str(tmp_path / "chosen.json")
    byok("secrets", "set", "v", "n", stdin=STORED, env=env, cwd=tmp_path)
    assert stat.S_IMODE((tmp_path / "chosen.json").stat().st_mode) == 0o600
    assert "no usable keyring" in byok("secrets", "set", "v", "n", "--store", "keyring", stdin=STORED, env=env,
                                       cwd=tmp_path, code=2).stderr  # fmt: skip


class _MemoryKeyring(keyring.backend.KeyringBackend):
    priority = -1  # never picked by keyring's discovery

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("not found")


@pytest.fixture
def memory_keyring() -> Iterator[_MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = _MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def test_secrets_in_the_keyring_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, memory_keyring: _MemoryKeyring, capsys: pytest.CaptureFixture[str]
) -> None:
    """In-process (a keyring backend cannot be handed to a subprocess): the same main() the script runs."""
    from byok_client.cli import main
    from byok_client.config import ConfigSource

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(STORED + "\n"))
    assert main(["secrets", "set", "openai", "kr"]) == 0
    assert memory_keyring.passwords == {("openai", "kr"): STORED}
    assert main(["secrets", "list", "--json"]) == 0
    config = tmp_path / "c.yaml"
    config.write_text("providers:\n  - id: openai\n    api_keys:\n      - ${secrets.get('openai', 'kr')}\n")
    assert [k.get_secret_value() for k in ConfigSource(config, "openai").load()] == [STORED]
    assert main(["secrets", "rm", "openai", "kr"]) == 0
    assert memory_keyring.passwords == {}
    out = capsys.readouterr()
    assert STORED not in out.out + out.err
    listed = json.loads(out.out.split("\n", 1)[1].rsplit("removed", 1)[0])
    assert listed == [{"vault": "openai", "name": "kr", "store": "keyring"}]


# -- byok config validate --------------------------------------------------------------------------------------------
def test_config_validate(tmp_path: Path, env: dict[str, str]) -> None:
    env.update(A_KEY=GOOD, BYOK_SECRET_OPENAI_TWO=LIMITED)
    config = tmp_path / "byok.yaml"
    config.write_text(
        "state: redis://:pw-hidden@cache:6379/0\n"
        "providers:\n  - id: openai\n    api_keys:\n      - ${env.A_KEY}\n"
        "      - ${secrets.get('openai', 'two')}\n"
        f"      - {QUOTA}\n"
        "  - id: anthropic\n"
    )
    done = byok("config", "validate", str(config), env=env, cwd=tmp_path)
    assert "redis://:***@cache:6379/0" in done.stdout and "pw-hidden" not in done.stdout
    assert "OK (4 entries in 2 providers)" in done.stdout
    assert f"{config} line 7: providers[0].api_keys[2] holds an API key inline" in done.stderr
    layout = rows(byok("config", "validate", str(config), "--json", env=env, cwd=tmp_path))
    assert [(r["label"], r["reference"], r["line"]) for r in layout] == [
        ("config:env.A_KEY", "env.A_KEY", 5),
        ("config:openai/two", "secrets.get('openai', 'two')", 6),
        ("config:providers[0].api_keys[2]", "inline", 7),
        (None, "passthrough", 8),
    ]

    del env["A_KEY"]
    missing = byok("config", "validate", str(config), env=env, cwd=tmp_path, code=1)
    assert f"{config} line 5: providers[0].api_keys[0]: environment variable A_KEY is not set" in missing.stderr
    config.write_text("providers:\n  - id: openai\n    api_keys:\n      - value: 'sk-unclosed\n")
    broken = byok("config", "validate", str(config), env=env, cwd=tmp_path, code=1)
    assert broken.stderr.startswith(f"byok: error: {config} line 4, column 16: not valid YAML: found unexpected end")
    assert "no config file" in byok("config", "validate", env=env, cwd=tmp_path, code=2).stderr


# -- byok status -------------------------------------------------------------------------------------------------------
def test_status_without_shared_state(tmp_path: Path, env: dict[str, str]) -> None:
    done = byok("status", env=env, cwd=tmp_path)
    assert "no shared state configured" in done.stdout


def test_status_reads_the_state_backend_snapshot(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Against the RedisState contract, through the private test hook (the real-Redis test is the lead's)."""
    import byok_client.cli as cli
    from byok_client import Key

    fingerprint = Key(GOOD).fingerprint
    opened: list[str] = []

    class FakeState:
        def snapshot(self) -> list[dict[str, Any]]:
            return [
                {"scope": "openai https://api.openai.com:443", "fingerprint": fingerprint, "model": "gpt-4o",
                 "state": "cooling", "cooling_for": 12.34, "reason": "rate_limited", "requests": 7,
                 "failures": {"rate_limited": 2}},
                {"scope": "anthropic https://api.anthropic.com:443", "fingerprint": "0badf00d", "model": None,
                 "state": "ready", "cooling_for": 0.0, "reason": None, "requests": 3, "failures": {}},
            ]  # fmt: skip

    def opener(url: str) -> FakeState:
        opened.append(url)
        return FakeState()

    monkeypatch.setattr(cli, "_state_opener", opener)
    monkeypatch.setenv("OPENAI_API_KEYS", GOOD)
    monkeypatch.setenv("BYOK_STATE_URL", "redis://cache:6379/0")
    assert cli.main(["status", "--provider", "openai", "--json"]) == 0
    out = capsys.readouterr().out
    assert opened == ["redis://cache:6379/0"]
    assert json.loads(out) == [
        {"provider": "openai", "scope": "openai https://api.openai.com:443", "label": "OPENAI_API_KEYS[0]",
         "fingerprint": fingerprint, "model": "gpt-4o", "state": "cooling", "cooling_for": 12.3,
         "reason": "rate_limited", "requests": 7, "failures": {"rate_limited": 2}},
    ]  # fmt: skip
    assert cli.main(["status", "--state", "rediss://other:6380"]) == 0
    text = capsys.readouterr().out
    assert "rediss://other:6380" in text and "anthropic" in text and "rate_limited=2" in text


# -- byok demo -------------------------------------------------------------------------------------------------------
def test_demo_runs_the_quickstart(tmp_path: Path, env: dict[str, str]) -> None:
    done = byok("demo", env=env, cwd=tmp_path)
    assert "served by good" in done.stdout
    assert "sk-demo-" not in done.stdout
    script = Path(__file__).parents[1] / "examples" / "quickstart.py"
    same = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert same.returncode == 0 and "served by good" in same.stdout


def test_check_never_sends_a_key_outside_allowed_origins(
    mock: MockProvider, tmp_path: Path, env: dict[str, str]
) -> None:
    mock.add_key(GOOD, ok(), label="good")
    config = tmp_path / "byok.yaml"
    config.write_text(
        "providers:\n  - id: openai\n    allowed_origins: [https://api.openai.com]\n    api_keys: ['${env.K}']\n"
    )
    env.update(K=GOOD, BYOK_CONFIG=str(config))
    done = byok("check", "--base-url", mock.openai_base_url, "--json", env=env, cwd=tmp_path, code=1)
    [result] = rows(done)
    assert result["status"] == "refused" and "not in allowed_origins (https://api.openai.com)" in result["detail"]
    assert mock.requests == []
    env["BYOK_OPENAI__ALLOWED_ORIGINS"] = mock.url  # settings win over the file, as for clients
    assert [r["status"] for r in rows(byok("check", "--base-url", mock.openai_base_url, "--json", env=env,
                                           cwd=tmp_path))] == ["ok"]  # fmt: skip


def test_check_base_url_needs_a_provider_when_several_have_keys(tmp_path: Path, env: dict[str, str]) -> None:
    env.update(OPENAI_API_KEYS=GOOD, ANTHROPIC_API_KEYS=ANT_GOOD)
    done = byok("check", "--base-url", "http://127.0.0.1:1", env=env, cwd=tmp_path, code=2)
    assert "would send the keys of openai, anthropic to one host; choose one with --provider" in done.stderr


def test_tables_use_rich_on_a_terminal_and_plain_text_otherwise(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from byok_client.cli import _output

    table = [{"provider": "openai", "status": "ok"}]
    columns = [("provider", "provider"), ("status", "status")]
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    _output.emit(table, columns, as_json=False)
    drawn = capsys.readouterr().out
    assert "┃" in drawn and "openai" in drawn and "PROVIDER" not in drawn
    monkeypatch.setitem(sys.modules, "rich.console", None)  # rich not installed: plain text on a terminal too
    _output.emit(table, columns, as_json=False)
    assert capsys.readouterr().out.splitlines() == ["PROVIDER  STATUS", "openai    ok"]


def test_status_watch_ends_on_ctrl_c(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import byok_client.cli as cli

    calls: list[int] = []

    class State:
        def snapshot(self) -> list[dict[str, Any]]:
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return [{"scope": "openai x", "fingerprint": "00000000", "model": None, "state": "ready",
                     "cooling_for": 0, "reason": None, "requests": len(calls), "failures": {}}]  # fmt: skip

    monkeypatch.setattr(cli, "_state_opener", lambda url: State())
    assert cli.main(["status", "--state", "redis://h:1", "--watch", "--interval", "0.01"]) == 0
    assert len(calls) == 3 and capsys.readouterr().out.count("openai x") == 2

    class Broken:
        def snapshot(self) -> list[dict[str, Any]]:
            raise ConnectionError("refused")

    monkeypatch.setattr(cli, "_state_opener", lambda url: Broken())
    assert cli.main(["status", "--state", "redis://:pw@h:1"]) == 2
    assert (
        capsys.readouterr().err.strip() == "byok: error: cannot read shared state at redis://:***@h:1: ConnectionError"
    )


def test_status_reads_the_shared_state_of_a_real_redis(
    mock: MockProvider, tmp_path: Path, env: dict[str, str], redis_server: RedisServer
) -> None:
    from byok_client import OpenAI
    from byok_client.state import close_shared

    values = [f"sk-cli-status-{i}-{os.getpid()}-secret" for i in range(2)]
    mock.add_key(values[0], rate_limited(retry_after=300), label="k0")
    mock.add_key(values[1], ok(), label="k1")
    client = OpenAI(api_keys=values, base_url=mock.openai_base_url, state=redis_server.url, max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    close_shared()  # flushes what this process queued
    assert client.key_pool is not None
    fingerprint = client.key_pool.status()[0].fingerprint
    done = byok("status", "--state", redis_server.url, "--json", env=env, cwd=tmp_path)
    for value in values:
        assert value not in done.stdout + done.stderr
    cooling = [r for r in rows(done) if r["fingerprint"] == fingerprint and r["state"] == "cooling"]
    assert cooling and cooling[0]["model"] == "gpt-4o-mini" and 200 < cooling[0]["cooling_for"] <= 300


__all__ = ["redis_server"]  # the fixture, re-exported so pytest finds it here


def test_keys_show_shared_health_when_state_is_configured(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import byok_client.cli as cli
    from byok_client import Key

    class State:
        def snapshot(self) -> list[dict[str, Any]]:
            return [
                {"scope": "openai https://api.openai.com:443", "fingerprint": Key(GOOD).fingerprint, "model": "gpt-4o",
                 "state": "cooling", "cooling_for": 12.0, "reason": "rate_limited", "requests": 1, "failures": {}},
                {"scope": "anthropic https://api.anthropic.com:443", "fingerprint": Key(LIMITED).fingerprint,
                 "model": None, "state": "disabled", "cooling_for": 0, "reason": "invalid_key", "requests": 1,
                 "failures": {}},
            ]  # fmt: skip

    monkeypatch.setattr(cli, "_state_opener", lambda url: State())
    monkeypatch.setenv("OPENAI_API_KEYS", f"{GOOD},{LIMITED}")
    monkeypatch.setenv("BYOK_STATE_URL", "redis://127.0.0.1:1")  # loopback, nothing listens: never the network
    assert cli.main(["keys", "--json"]) == 0
    states = [row["state"] for row in json.loads(capsys.readouterr().out)]
    assert states == ["gpt-4o: cooling 12 s (rate_limited)", "ready (no shared record yet)"]  # scope is per provider
    monkeypatch.setattr(cli, "_state_opener", None)  # the real backend: not installed on this branch, or no server
    assert cli.main(["keys", "--json"]) == 0
    assert all(row["state"].startswith("configured (shared state ") for row in json.loads(capsys.readouterr().out))
