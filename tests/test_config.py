"""Config files, settings, precedence between sources, and rotation without downtime."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

from byok_client import Anthropic, ByokConfigError, KeyPool, OpenAI, Settings, genai
from byok_client.config import ConfigSource, InlineKeyWarning, load_config
from byok_client.sources import CallableSource, EnvSource
from byok_client.testing import MockProvider, invalid_key, ok

from .conftest import FakeClock

MESSAGES: Any = [{"role": "user", "content": "hi"}]

GATEWAY = """\
on_http_request:
  - type: ai-gateway
    config:
      only_allow_configured_providers: {only}
      providers:
        - id: openai
          api_keys:
            - value: ${{secrets.get('openai', 'key-one')}}
            - value: ${{secrets.get('openai', 'key-two')}}
        - id: anthropic
"""


def write(path: Path, text: str) -> Path:
    """Replace a file atomically, as deploy tools do (a reader never sees it half-written)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def chat(client: OpenAI) -> str:
    return client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content or ""


@pytest.fixture
def secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "secrets"
    (directory / "openai").mkdir(parents=True)
    (directory / "openai" / "key-one").write_text("sk-from-dir-one\n")
    (directory / "openai" / "key-two").write_text("sk-from-dir-two")
    monkeypatch.setenv("BYOK_SECRETS_DIR", str(directory))
    return directory


# -- the gateway's file, as is ---------------------------------------------------------------------------------------
def test_gateway_traffic_policy_file_works_as_is(mock: MockProvider, tmp_path: Path, secrets_dir: Path) -> None:
    mock.add_key("sk-from-dir-one", invalid_key(), label="one")
    mock.add_key("sk-from-dir-two", ok(), label="two")
    path = write(tmp_path / "policy.yaml", GATEWAY.format(only="true"))
    client = OpenAI(config=path, base_url=mock.openai_base_url)
    assert client.key_pool is not None
    assert [k.label for k in client.key_pool.keys] == ["config:openai/key-one", "config:openai/key-two"]
    assert chat(client) == "served by two"


def test_bare_providers_block_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOK_SECRET_OPENAI_KEY_ONE", "sk-env-secret")
    yaml_path = write(
        tmp_path / "c.yaml",
        "providers:\n  - id: openai\n    api_keys:\n      - value: ${secrets.get('openai', 'key-one')}\n",
    )
    toml_path = write(
        tmp_path / "c.toml",
        "[[providers]]\nid = \"openai\"\n[[providers.api_keys]]\nvalue = \"${secrets.get('openai', 'key-one')}\"\n",
    )
    for path in (yaml_path, toml_path):
        pool = OpenAI(config=path).key_pool
        assert pool is not None
        assert pool.keys[0].get_secret_value() == "sk-env-secret"


def test_secret_resolution_order_dir_then_vault_file_then_env(
    tmp_path: Path, secrets_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = tmp_path / "vault.json"
    vault.write_text(json.dumps({"openai": {"key-one": "sk-from-vault-one", "key-two": "sk-from-vault-two"}}))
    monkeypatch.setenv("BYOK_SECRETS_FILE", str(vault))
    monkeypatch.setenv("BYOK_SECRET_OPENAI_KEY_TWO", "sk-from-env-two")
    path = write(tmp_path / "p.yaml", GATEWAY.format(only="false"))
    (secrets_dir / "openai" / "key-two").unlink()
    keys = ConfigSource(path, "openai").load()
    assert [k.get_secret_value() for k in keys] == ["sk-from-dir-one", "sk-from-vault-two"]
    monkeypatch.delenv("BYOK_SECRETS_FILE")
    keys = ConfigSource(path, "openai").load()
    assert [k.get_secret_value() for k in keys] == ["sk-from-dir-one", "sk-from-env-two"]


def test_env_reference_and_inline_value_warns_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_OPENAI_KEY", "sk-from-env-ref")
    path = write(
        tmp_path / "inline.yaml",
        "providers:\n  - id: openai\n    api_keys:\n"
        "      - value: ${env.MY_OPENAI_KEY}\n      - value: sk-inline-dev\n",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = ConfigSource(path, "openai").load()
        ConfigSource(path, "openai").load()
    assert [k.get_secret_value() for k in first] == ["sk-from-env-ref", "sk-inline-dev"]
    inline = [w for w in caught if issubclass(w.category, InlineKeyWarning)]
    assert len(inline) == 1
    assert "sk-inline-dev" not in str(inline[0].message)


def test_unresolvable_secret_names_vault_and_name_never_a_value(tmp_path: Path, secrets_dir: Path) -> None:
    path = write(tmp_path / "p.yaml", GATEWAY.format(only="false").replace("key-two", "key-missing"))
    with pytest.raises(ByokConfigError, match=r"'openai'/'key-missing' not found") as info:
        OpenAI(config=path)
    assert "sk-from-dir" not in str(info.value)
    assert "BYOK_SECRET_OPENAI_KEY_MISSING" in str(info.value)


def test_only_allow_configured_providers(tmp_path: Path, secrets_dir: Path, mock: MockProvider) -> None:
    path = write(tmp_path / "p.yaml", GATEWAY.format(only="true"))
    with pytest.raises(ByokConfigError, match="'gemini' is not configured"):
        genai.Client(config=path, api_key="AIza-own")
    # listed without api_keys: passthrough by choice
    mock.add_key("sk-ant-own", ok(), label="own")
    claude = Anthropic(config=str(path), api_key="sk-ant-own", base_url=mock.anthropic_base_url)
    assert claude.key_pool is None
    # without the flag, an unlisted provider falls back to its env variables / passthrough
    relaxed = write(tmp_path / "relaxed.yaml", GATEWAY.format(only="false"))
    assert genai.Client(config=relaxed, api_key="AIza-own").key_pool is None


def test_environments_pick_keys_per_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEV_KEY", "sk-dev")
    monkeypatch.setenv("PROD_KEY", "sk-prod")
    path = write(
        tmp_path / "profiles.yaml",
        "providers:\n  - id: openai\n    api_keys:\n      - value: ${env.DEV_KEY}\n"
        "environments:\n  prod:\n    providers:\n      - id: openai\n"
        "        api_keys:\n          - value: ${env.PROD_KEY}\n",
    )
    assert OpenAI(config=path).key_pool.keys[0].get_secret_value() == "sk-dev"  # type: ignore[union-attr]
    monkeypatch.setenv("BYOK_ENV", "prod")
    assert OpenAI(config=path).key_pool.keys[0].get_secret_value() == "sk-prod"  # type: ignore[union-attr]
    monkeypatch.setenv("BYOK_ENV", "staging")
    with pytest.raises(ByokConfigError, match=r"environment 'staging'.*known: prod"):
        OpenAI(config=path)


@pytest.mark.parametrize(
    ("text", "suffix", "message"),
    [
        ("providers:\n  - id: openai\n    api_keys: [\n", ".yaml", r"line \d+, column \d+: not valid YAML: expected"),
        ("[[providers]\nid=1", ".toml", r"line 1, column \d+: not valid TOML: Expected"),
        ("providers:\n  - id: openai\n    api_keys: []\n", ".yaml", r"line 3: providers\[0\]\.api_keys: is empty"),
        ("providers:\n  - id: openaii\n", ".yaml", r"unknown provider id 'openaii'"),
        (
            "providers:\n  - id: openai\n  - id: openai\n",
            ".yaml",
            r"providers\[1\]\.id: provider 'openai' is listed twice",
        ),
        ("providers: {id: openai}\n", ".yaml", r"providers: must be a list, not a mapping"),
        ("providers:\n  - id: openai\n    api_keys: sk-abc\n", ".yaml", r"api_keys: must be a list, not a string"),
        ("providers:\n  - id: openai\n    api_keys:\n      - value: 42\n", ".yaml", r"api_keys\[0\]\.value: must be"),
        ("providers:\n  - api_keys: []\n", ".yaml", r"providers\[0\]\.id: is required"),
        ("only_allow_configured_providers: yes-please\n", ".yaml", r"must be true or false"),
        ("providers:\n  - id: openai\n    api_keys:\n      - value: ${vault.x}\n", ".yaml", r"unsupported expression"),
        ("on_http_request:\n  - type: rate-limit\n", ".yaml", r"no action of type ai-gateway"),
    ],
)
def test_bad_config_files_are_typed_errors_naming_the_place(
    tmp_path: Path, text: str, suffix: str, message: str
) -> None:
    path = write(tmp_path / f"bad{suffix}", text)
    with pytest.raises(ByokConfigError, match=message) as info:
        OpenAI(config=path)
    assert str(path) in str(info.value)
    assert "sk-abc" not in str(info.value)


def test_missing_and_unreadable_config_files(tmp_path: Path) -> None:
    with pytest.raises(ByokConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ByokConfigError, match="cannot be read"):
        load_config(tmp_path)  # a directory


def test_duplicate_keys_in_config_are_an_error_naming_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A", "sk-same-value")
    monkeypatch.setenv("B", "sk-same-value")
    path = write(
        tmp_path / "dup.yaml", "providers:\n  - id: openai\n    api_keys:\n      - ${env.A}\n      - ${env.B}\n"
    )
    with pytest.raises(
        ByokConfigError, match=r"dup\.yaml line 5: providers\[0\]\.api_keys\[1\]: the same key as .*\[0\] \(line 4\)"
    ) as info:
        OpenAI(config=path)
    assert "sk-same-value" not in str(info.value)


# -- settings -------------------------------------------------------------------------------------------------------
def test_settings_from_environment_and_as_argument(mock: MockProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    mock.add_key("sk-set-a", invalid_key(), label="a")
    mock.add_key("sk-set-b", ok(), label="b")
    monkeypatch.setenv("BYOK_OPENAI__API_KEYS", "sk-set-a,sk-set-b")
    monkeypatch.setenv("BYOK_OPENAI__QUOTA_COOLDOWN", "90")
    client = OpenAI(base_url=mock.openai_base_url)
    assert client.key_pool is not None
    assert [k.label for k in client.key_pool.keys] == ["BYOK_OPENAI__API_KEYS[0]", "BYOK_OPENAI__API_KEYS[1]"]
    assert client.key_pool.policy.quota_cooldown == 90
    assert chat(client) == "served by b"
    monkeypatch.delenv("BYOK_OPENAI__API_KEYS")
    explicit = OpenAI(base_url=mock.openai_base_url, settings=Settings(openai={"api_keys": ["sk-set-b"]}))  # type: ignore[arg-type]
    assert chat(explicit) == "served by b"


def test_bad_settings_are_typed_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOK_OPENAI__STRATEGY", "fastest")
    with pytest.raises(ByokConfigError, match=r"BYOK_OPENAI__STRATEGY: .*unknown strategy 'fastest'"):
        OpenAI(api_key="sk-own")
    monkeypatch.setenv("BYOK_OPENAI__STRATEGY", "ordered")
    monkeypatch.setenv("BYOK_OPENAI__RETRY_AFTER_CAP", "500")
    with pytest.raises(ByokConfigError, match="BYOK_OPENAI__RETRY_AFTER_CAP"):
        OpenAI(api_key="sk-own")
    with pytest.raises(ByokConfigError, match=r"settings must be a byok_client\.Settings"):
        OpenAI(api_key="sk-own", settings={"openai": {}})  # type: ignore[arg-type]


def test_strict_mode_turns_passthrough_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOK_STRICT", "true")
    with pytest.raises(ByokConfigError, match="no openai keys configured and strict mode is on"):
        OpenAI(api_key="sk-own")


def test_precedence_between_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEYS", "sk-plain-env")
    monkeypatch.setenv("CFG_KEY", "sk-config")
    path = write(tmp_path / "p.yaml", "providers:\n  - id: openai\n    api_keys: ['${env.CFG_KEY}']\n")

    def first_value(**kwargs: Any) -> str:
        pool = OpenAI(**kwargs).key_pool
        assert pool is not None
        return pool.keys[0].get_secret_value()

    assert first_value() == "sk-plain-env"
    assert first_value(config=path) == "sk-config"
    monkeypatch.setenv("BYOK_CONFIG", str(path))
    assert first_value() == "sk-config"
    monkeypatch.setenv("BYOK_OPENAI__API_KEYS", "sk-settings")
    assert first_value() == "sk-settings"
    assert first_value(api_keys=["sk-arg"]) == "sk-arg"
    assert first_value(key_pool=KeyPool(["sk-pool"])) == "sk-pool"


# -- reload and watching ----------------------------------------------------------------------------------------------
def test_config_file_change_is_picked_up_once_per_check_and_keeps_health(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    monkeypatch.setenv("K1", "sk-one")
    monkeypatch.setenv("K2", "sk-two")
    path = write(tmp_path / "w.yaml", "providers:\n  - id: openai\n    api_keys: ['${env.K1}']\n")
    pool = KeyPool(sources=[ConfigSource(path, "openai")], clock=clock)
    pool._record_success(pool._entries[0], None)
    write(path, "providers:\n  - id: openai\n    api_keys: ['${env.K2}', '${env.K1}']\n")
    pool.refresh_if_due()
    assert len(pool) == 1  # not checked yet: at most once per second
    clock.advance(1.0)
    pool.refresh_if_due()
    assert [k.label for k in pool.keys] == ["config:env.K2", "config:env.K1"]
    assert pool.status_of("config:env.K1").successes == 1  # health kept across the reload


@pytest.mark.parametrize(
    "broken",
    [
        "providers:\n  - id: openai\n    api_keys: [\n",  # half-written
        "providers:\n  - id: openai\n    api_keys: ['${env.NOT_SET_ANYWHERE}']\n",  # missing secret
        "providers:\n  - id: anthropic\n",  # no keys left for this provider
    ],
)
def test_failed_reload_keeps_previous_keys_and_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock, caplog: pytest.LogCaptureFixture, broken: str
) -> None:
    monkeypatch.setenv("K1", "sk-one")
    path = write(tmp_path / "w.yaml", "providers:\n  - id: openai\n    api_keys: ['${env.K1}']\n")
    pool = KeyPool(sources=[ConfigSource(path, "openai")], clock=clock)
    write(path, broken)
    clock.advance(1.0)
    with caplog.at_level(logging.ERROR, logger="byok_client"):
        pool.refresh_if_due()
    assert [k.label for k in pool.keys] == ["config:env.K1"]
    assert "keeping the 1 previous keys" in caplog.text
    assert "sk-one" not in caplog.text
    with pytest.raises(ByokConfigError):
        pool.reload()  # an explicit reload says what is wrong
    assert len(pool) == 1


def test_secrets_dir_file_change_is_watched(tmp_path: Path, secrets_dir: Path, clock: FakeClock) -> None:
    path = write(tmp_path / "p.yaml", GATEWAY.format(only="false"))
    pool = KeyPool(sources=[ConfigSource(path, "openai")], clock=clock)
    (secrets_dir / "openai" / "key-two").write_text("sk-rotated-two-longer")
    clock.advance(1.0)
    pool.refresh_if_due()
    assert pool.keys[1].get_secret_value() == "sk-rotated-two-longer"


def test_callable_source_refreshes_on_its_interval(clock: FakeClock) -> None:
    values = [["sk-c1"], ["sk-c2", "sk-c1"]]
    source = CallableSource(lambda: values[0], refresh_interval=30)
    pool = KeyPool(sources=[source], clock=clock)
    values[0] = values[1]
    clock.advance(10)
    pool.refresh_if_due()
    assert len(pool) == 1
    clock.advance(21)
    pool.refresh_if_due()
    assert [k.get_secret_value() for k in pool.keys] == ["sk-c2", "sk-c1"]


async def test_async_callable_source_refreshes_on_the_loop(clock: FakeClock) -> None:
    current = ["sk-a1"]

    async def fetch() -> list[str]:
        await asyncio.sleep(0)
        return list(current)

    source = CallableSource(fetch, refresh_interval=5)
    with pytest.raises(ByokConfigError, match="aload"):  # the sync constructor would have to block the loop
        KeyPool(sources=[source], clock=clock)
    pool = await KeyPool.acreate(sources=[EnvSource(["NOT_SET"]), source], clock=clock)
    assert [k.get_secret_value() for k in pool.keys] == ["sk-a1"]
    current[:] = ["sk-a2"]
    clock.advance(6)
    await pool.arefresh_if_due()
    assert [k.get_secret_value() for k in pool.keys] == ["sk-a2"]


def test_env_source_pool_reload_rereads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEYS", "sk-e1")
    client = OpenAI()
    assert client.key_pool is not None
    monkeypatch.setenv("OPENAI_API_KEYS", "sk-e1,sk-e2")
    client.key_pool.reload()
    assert len(client.key_pool) == 2


# -- the gateway's four-step rotation, under load -----------------------------------------------------------------
def test_four_step_rotation_under_load_has_zero_failed_requests(
    mock: MockProvider, tmp_path: Path, secrets_dir: Path
) -> None:
    old, new = "sk-rotation-old", "sk-rotation-new"
    mock.add_key(old, ok(), label="old")
    mock.add_key(new, ok(), label="new")
    (secrets_dir / "openai" / "old").write_text(old)
    (secrets_dir / "openai" / "new").write_text(new)
    one = "providers:\n  - id: openai\n    api_keys:\n" + "".join(
        f"      - value: ${{secrets.get('openai', '{name}')}}\n" for name in ("old",)
    )
    both = one + "      - value: ${secrets.get('openai', 'new')}\n"
    only_new = "providers:\n  - id: openai\n    api_keys:\n      - value: ${secrets.get('openai', 'new')}\n"
    path = write(tmp_path / "rotate.yaml", one)
    client = OpenAI(config=path, base_url=mock.openai_base_url, max_retries=0)
    pool = client.key_pool
    assert pool is not None
    pool._watcher._check_interval = 0.05  # the same watcher, checked more often so the test is short

    failures: list[BaseException] = []
    served: list[str] = []
    stop = threading.Event()

    def load() -> None:
        worker = client.with_options()
        while not stop.is_set():
            try:
                served.append(chat(worker))
            except BaseException as exc:  # every failure counts
                failures.append(exc)

    def wait_for(labels: list[str]) -> None:
        for _ in range(400):
            if [k.label for k in pool.keys] == labels:
                return
            stop.wait(0.01)
        raise AssertionError(f"pool never became {labels}: {[k.label for k in pool.keys]}")

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        stop.wait(0.2)
        write(path, both)  # 1. add the new key
        wait_for(["config:openai/old", "config:openai/new"])  # 2. deploy and watch
        stop.wait(0.2)
        write(path, only_new)  # 3. remove the old key
        wait_for(["config:openai/new"])
        stop.wait(0.2)
        mock.set(old, invalid_key())  # 4. revoke it at the provider
        stop.wait(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert len(served) > 50
    assert served[-1] == "served by new"
    assert {"served by old", "served by new"} <= set(served)


def test_settings_read_a_dotenv_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mock: MockProvider
) -> None:
    mock.add_key("sk-from-dotenv", ok(), label="dotenv")
    (tmp_path / ".env").write_text("# byok settings\nBYOK_OPENAI__API_KEYS=sk-from-dotenv\nUNRELATED=1\n")
    monkeypatch.chdir(tmp_path)
    client = OpenAI(base_url=mock.openai_base_url)
    assert client.key_pool is not None
    assert [k.label for k in client.key_pool.keys] == ["BYOK_OPENAI__API_KEYS[0]"]
    assert chat(client) == "served by dotenv"


def test_copy_of_a_passthrough_client_with_a_config_file_gets_managed_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COPY_KEY", "sk-copy-config")
    path = write(tmp_path / "copy.yaml", "providers:\n  - id: openai\n    api_keys: ['${env.COPY_KEY}']\n")
    client = OpenAI(api_key="sk-own")
    assert client.key_pool is None
    copied = client.with_options(config=path)
    assert copied.key_pool is not None
    assert copied.key_pool.keys[0].get_secret_value() == "sk-copy-config"
    assert client.with_options(timeout=3).key_pool is None


# -- strict, located config errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "suffix", "message"),
    [
        ("provders:\n  - id: openai\n", ".yaml", r"line 1: provders: unknown field; did you mean 'providers'\?"),
        (
            "providers:\n  - id: openai\n    apikeys: ['${env.A}']\n",
            ".yaml",
            r"line 3: providers\[0\]\.apikeys: unknown field; did you mean 'api_keys'\?",
        ),
        (
            "providers:\n  - id: openai\n    api_keys:\n      - value: ${env.A}\n        rmp: 5\n",
            ".yaml",
            r"line 5: providers\[0\]\.api_keys\[0\]\.rmp: unknown field; did you mean 'rpm'\?",
        ),
        (
            "on_http_request:\n  - type: ai-gateway\n    config:\n      provider:\n        - id: openai\n",
            ".yaml",
            r"line 4: on_http_request\[0\]\.config\.provider: unknown field; did you mean 'providers'\?",
        ),
        (
            "providers:\n  - id: openai\nenvironments:\n  prod:\n    providres: []\n",
            ".yaml",
            r"line 5: environments\.prod\.providres: unknown field; did you mean 'providers'\?",
        ),
        ('provders = 1\n[[providers]]\nid = "openai"\n', ".toml", r"line 1: provders: unknown field"),
        (
            '[[providers]]\nid = "openai"\n\n[[providers]]\nid = "groq"\napikeys = ["${env.A}"]\n',
            ".toml",
            r"line 6: providers\[1\]\.apikeys: unknown field; did you mean 'api_keys'\?",
        ),
        (
            '[[providers]]\nid = "openai"\n[[providers.api_keys]]\nvalue = "${env.A}"\ntmp = 3\n',
            ".toml",
            r"line 5: providers\[0\]\.api_keys\[0\]\.tmp: unknown field; did you mean 'tpm'\?",
        ),
        ("", ".yaml", r"line 1: \(top level\): the file is empty"),
        ("# only a comment\n\n", ".yaml", r"the file is empty"),
        ("", ".toml", r"providers: the file lists no providers"),
        ("providers: []\n", ".yaml", r"line 1: providers: is empty"),
        ("providers = []\n", ".toml", r"line 1: providers: is empty"),
        ("providers:\n", ".yaml", r"line 1: providers: is empty"),
        ("only_allow_configured_providers: true\n", ".yaml", r"providers: the file lists no providers"),
        (
            "environments:\n  prod:\n    providers:\n      - id: openai\n",
            ".yaml",
            r"the file lists no providers \(or choose an environment with BYOK_ENV: prod\)",
        ),
        ("- a\n- b\n", ".yaml", r"\(top level\): must be a mapping, not a list"),
        ("providers:\n  - id: openai\nproviders:\n  - id: groq\n", ".yaml", r"line 3, column 1: .*duplicate key"),
        (
            "providers:\n  - id: openai\n    api_key_selection: {strategy: round_robbin}\n",
            ".yaml",
            r"line 3: .*strategy: unknown strategy 'round_robbin' \(did you mean 'round_robin'\?",
        ),
        (
            '[[providers]]\nid = "openai"\n[providers.api_key_selection]\nstrategy = "fastest"\n',
            ".toml",
            r"line 4: providers\[0\]\.api_key_selection\.strategy: unknown strategy 'fastest'",
        ),
        (
            "providers:\n  - id: opneai\n",
            ".yaml",
            r"line 2: providers\[0\]\.id: unknown provider id 'opneai' \(did you",
        ),
        ('[[providers]]\nid = "openai"\n[[providers]\n', ".toml", r"line 3, column \d+: not valid TOML: "),
        ('[[providers]]\nid = "openai\n', ".toml", r"line 2, column \d+: not valid TOML: .+"),
        ("providers:\n\t- id: openai\n", ".yaml", r"line 2, column 1: not valid YAML: found character"),
    ],
)
def test_every_config_error_names_file_line_field_and_reason(
    tmp_path: Path, text: str, suffix: str, message: str
) -> None:
    path = write(tmp_path / f"bad{suffix}", text)
    with pytest.raises(ByokConfigError, match=message) as info:
        load_config(path)
    assert str(info.value).startswith(str(path))


def test_unclosed_quote_names_where_it_opened_and_why(tmp_path: Path) -> None:
    path = write(tmp_path / "q.yaml", "providers:\n  - id: openai\n    api_keys:\n      - value: 'sk-abc-unclosed\n")
    with pytest.raises(ByokConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path} line 4, column 16: not valid YAML: ")
    assert "while scanning a quoted scalar" in message and "found unexpected end of stream" in message
    assert "sk-abc" not in message


def test_missing_references_name_their_line(tmp_path: Path, secrets_dir: Path) -> None:
    yaml_path = write(
        tmp_path / "refs.yaml",
        "providers:\n  - id: openai\n    api_keys:\n      - ${secrets.get('openai', 'key-one')}\n"
        "      - value: ${env.NOT_SET_ANYWHERE}\n",
    )
    with pytest.raises(ByokConfigError, match=r"refs\.yaml line 5: providers\[0\]\.api_keys\[1\]: environment"):
        OpenAI(config=yaml_path)
    toml_path = write(
        tmp_path / "refs.toml",
        "[[providers]]\nid = \"openai\"\n\n[[providers.api_keys]]\nvalue = \"${secrets.get('openai', 'nope')}\"\n",
    )
    with pytest.raises(
        ByokConfigError, match=r"refs\.toml line 5: providers\[0\]\.api_keys\[0\]: secret 'openai'/'nope'"
    ):
        OpenAI(config=toml_path)


NEW_FIELDS_YAML = """\
state: rediss://:hunter2@cache.internal:6380/0
providers:
  - id: openai
    cooldown_scope: model
    allowed_origins: [https://API.openai.com, "https://eu.api.openai.com:443/"]
    max_cooldown: 300
    api_keys:
      - value: ${env.A}
        rpm: 500
        tpm: 200000
        rpd: 10000.5
      - ${env.B}
"""

NEW_FIELDS_TOML = """\
state = "rediss://:hunter2@cache.internal:6380/0"

[[providers]]
id = "openai"
cooldown_scope = "model"
allowed_origins = ["https://API.openai.com", "https://eu.api.openai.com:443/"]
max_cooldown = 300

[[providers.api_keys]]
value = "${env.A}"
rpm = 500
tpm = 200000
rpd = 10000.5

[[providers.api_keys]]
value = "${env.B}"
"""


@pytest.mark.parametrize(("text", "suffix"), [(NEW_FIELDS_YAML, ".yaml"), (NEW_FIELDS_TOML, ".toml")])
def test_new_fields_are_validated_and_exposed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, suffix: str
) -> None:
    monkeypatch.setenv("A", "sk-a")
    monkeypatch.setenv("B", "sk-b")
    config = load_config(write(tmp_path / f"new{suffix}", text))
    assert config.state == "rediss://:hunter2@cache.internal:6380/0"
    assert "hunter2" not in repr(config)
    entry = config.entry("openai")
    assert entry is not None
    assert entry.cooldown_scope == "model"
    assert entry.allowed_origins == ("https://api.openai.com", "https://eu.api.openai.com")
    assert entry.max_cooldown == 300
    first, second = entry.api_keys
    assert (first.rpm, first.tpm, first.rpd) == (500, 200000, 10000.5)
    assert (second.rpm, second.tpm, second.rpd) == (None, None, None)
    assert first.line == (8 if suffix == ".yaml" else 10)
    pool = OpenAI(config=config.path).key_pool  # the new fields do not get in the way of building a client
    assert pool is not None and [k.get_secret_value() for k in pool.keys] == ["sk-a", "sk-b"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cooldown_scope", "keys", r"line 3: providers\[0\]\.cooldown_scope: must be 'model' or 'key', not 'keys'"),
        ("cooldown_scope", "[model]", r"cooldown_scope: must be 'model' or 'key', not a list"),
        ("max_cooldown", "0", r"line 3: providers\[0\]\.max_cooldown: must be a positive number, not 0"),
        ("max_cooldown", "'300'", r"max_cooldown: must be a positive number, not a string"),
        ("max_cooldown", "true", r"max_cooldown: must be a positive number, not bool"),
        ("max_cooldown", ".inf", r"max_cooldown: must be a positive number"),
        ("allowed_origins", "https://a.com", r"allowed_origins: must be a non-empty list of origin URLs"),
        ("allowed_origins", "[]", r"allowed_origins: must be a non-empty list"),
        ("allowed_origins", "[ftp://a.com]", r"allowed_origins\[0\]: 'ftp://a.com' must be an http:// or https://"),
        ("allowed_origins", "[https://a.com/v1]", r"allowed_origins\[0\]: .* must be an origin only"),
        ("allowed_origins", "['https://a.com:99999']", r"allowed_origins\[0\]: .* is not a valid URL"),
        ("on_exhausted", "queue", r"line 3: providers\[0\]\.on_exhausted: must be 'wait', 'fail' or 'send', not 'qu"),
        ("on_exhausted", "[wait]", r"on_exhausted: must be 'wait', 'fail' or 'send', not a list"),
        ("max_wait", "0", r"line 3: providers\[0\]\.max_wait: must be a positive number, not 0"),
        ("max_wait", "soon", r"max_wait: must be a positive number, not a string"),
    ],
)
def test_bad_provider_fields(tmp_path: Path, field: str, value: str, message: str) -> None:
    path = write(tmp_path / "p.yaml", f"providers:\n  - id: openai\n    {field}: {value}\n")
    with pytest.raises(ByokConfigError, match=message):
        load_config(path)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{value: '${env.A}', rpm: 0}",
            r"line 4: providers\[0\]\.api_keys\[0\]\.rpm: must be a positive number, not 0",
        ),
        ("{value: '${env.A}', tpm: -5}", r"api_keys\[0\]\.tpm: must be a positive number, not -5"),
        ("{value: '${env.A}', rpd: lots}", r"api_keys\[0\]\.rpd: must be a positive number, not a string"),
        ("{rpm: 5}", r"line 4: providers\[0\]\.api_keys\[0\]: needs a 'value'"),
    ],
)
def test_bad_key_limits(tmp_path: Path, entry: str, message: str) -> None:
    path = write(tmp_path / "k.yaml", f"providers:\n  - id: openai\n    api_keys:\n      - {entry}\n")
    with pytest.raises(ByokConfigError, match=message):
        load_config(path)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (
            "http://cache:6379",
            r"line 1: state: must be a redis:// or rediss:// URL with a host, not 'http://cache:6379'",
        ),
        ("'redis://:secretpw@'", r"state: must be a redis:// .*'redis://:\*\*\*@'"),
        ("6379", r"state: must be a redis:// or rediss:// URL, not int"),
        ("redis://h:notaport", r"state: is not a valid URL"),
        ("${env.NO_REDIS_URL}", r"line 1: state: environment variable NO_REDIS_URL is not set"),
    ],
)
def test_bad_state(tmp_path: Path, state: str, message: str) -> None:
    path = write(tmp_path / "s.yaml", f"state: {state}\nproviders:\n  - id: openai\n")
    with pytest.raises(ByokConfigError, match=message) as info:
        load_config(path)
    assert "secretpw" not in str(info.value)


def test_state_from_env_reference_and_per_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/1")
    path = write(
        tmp_path / "s.yaml",
        "state: ${env.REDIS_URL}\nproviders:\n  - id: openai\n"
        "environments:\n  prod:\n    state: rediss://prod-cache:6380\n",
    )
    assert load_config(path).state == "redis://cache:6379/1"
    assert load_config(path, "prod").state == "rediss://prod-cache:6380"


def test_provider_listed_without_keys_stays_passthrough(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yaml", "providers:\n  - id: openai\n")
    assert load_config(path).entry("openai") == load_config(path).entry("openai")
    client = OpenAI(config=path, api_key="sk-own")
    assert client.key_pool is None and client.api_key == "sk-own"


def test_settings_new_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOK_STATE_URL", "redis://:pw-secret@cache:6379/0")
    monkeypatch.setenv("BYOK_OPENAI__COOLDOWN_SCOPE", "key")
    monkeypatch.setenv("BYOK_OPENAI__ALLOWED_ORIGINS", "https://API.openai.com:443, http://proxy:8080/")
    monkeypatch.setenv("BYOK_OPENAI__MAX_COOLDOWN", "120")
    settings = Settings()
    assert settings.state_url == "redis://:pw-secret@cache:6379/0"
    assert "pw-secret" not in repr(settings)
    assert settings.openai.cooldown_scope == "key"
    assert settings.openai.allowed_origins == ["https://api.openai.com", "http://proxy:8080"]
    assert settings.openai.max_cooldown == 120
    assert settings.anthropic.cooldown_scope is None and settings.anthropic.allowed_origins is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BYOK_STATE_URL", "http://cache", r"BYOK_STATE_URL: .*must be a redis:// or rediss://"),
        ("BYOK_OPENAI__COOLDOWN_SCOPE", "everything", r"BYOK_OPENAI__COOLDOWN_SCOPE: Input should be 'model' or 'key'"),
        ("BYOK_GROQ__ALLOWED_ORIGINS", "https://a.com/path", r"BYOK_GROQ__ALLOWED_ORIGINS: .*must be an origin only"),
        ("BYOK_ANTHROPIC__MAX_COOLDOWN", "0", r"BYOK_ANTHROPIC__MAX_COOLDOWN: Input should be greater than 0"),
        ("BYOK_ANTHROPIC__MAX_COOLDOWN", "soon", r"BYOK_ANTHROPIC__MAX_COOLDOWN: Input should be a valid number"),
    ],
)
def test_settings_new_fields_are_validated(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    from byok_client.settings import load_settings

    monkeypatch.setenv(name, value)
    with pytest.raises(ByokConfigError, match=message):
        load_settings()


def test_on_exhausted_and_max_wait_from_settings_reach_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOK_OPENAI__API_KEYS", "sk-s1,sk-s2")
    monkeypatch.setenv("BYOK_OPENAI__ON_EXHAUSTED", "fail")
    monkeypatch.setenv("BYOK_OPENAI__MAX_WAIT", "2.5")
    monkeypatch.setenv("BYOK_OPENAI__RPM", "60")
    monkeypatch.setenv("BYOK_OPENAI__TPM", "90000")
    pool = OpenAI().key_pool
    assert pool is not None
    assert (pool.on_exhausted, pool.max_wait) == ("fail", 2.5)
    assert [(k.rpm, k.tpm, k.rpd) for k in pool.keys] == [(60, 90000, None), (60, 90000, None)]
    # an argument beats the settings
    pool = OpenAI(on_exhausted="send", max_wait=1).key_pool
    assert pool is not None and (pool.on_exhausted, pool.max_wait) == ("send", 1.0)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BYOK_OPENAI__ON_EXHAUSTED", "queue", r"BYOK_OPENAI__ON_EXHAUSTED: Input should be 'wait', 'fail' or 'send'"),
        ("BYOK_OPENAI__MAX_WAIT", "0", r"BYOK_OPENAI__MAX_WAIT: Input should be greater than 0"),
        ("BYOK_OPENAI__MAX_WAIT", "inf", r"BYOK_OPENAI__MAX_WAIT: Input should be a finite number"),
        ("BYOK_OPENAI__RPM", "1.5", r"BYOK_OPENAI__RPM: Input should be a valid integer"),
        ("BYOK_OPENAI__RPD", "-1", r"BYOK_OPENAI__RPD: Input should be greater than 0"),
    ],
)
def test_capacity_settings_are_validated(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    from byok_client.settings import load_settings

    monkeypatch.setenv(name, value)
    with pytest.raises(ByokConfigError, match=message):
        load_settings()


def test_on_exhausted_and_max_wait_from_a_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A", "sk-a")
    path = write(
        tmp_path / "c.yaml",
        "providers:\n  - id: openai\n    on_exhausted: fail\n    max_wait: 4\n"
        "    api_keys: [{value: '${env.A}', rpm: 30}]\n",
    )
    entry = load_config(path).entry("openai")
    assert entry is not None and (entry.on_exhausted, entry.max_wait) == ("fail", 4)
    pool = OpenAI(config=path).key_pool
    assert pool is not None and (pool.on_exhausted, pool.max_wait) == ("fail", 4.0)
    assert [k.rpm for k in pool.keys] == [30]


# -- warnings point at the user's line -------------------------------------------------------------------------------
def test_inline_key_warning_points_at_the_callers_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import byok_client.config as config_module

    path = write(tmp_path / "inline2.yaml", "providers:\n  - id: openai\n    api_keys:\n      - sk-inline-value\n")
    for make in (lambda: OpenAI(config=path), lambda: ConfigSource(path, "openai").load()):
        monkeypatch.setattr(config_module, "_warned_inline", set())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            make()
        inline = [w for w in caught if issubclass(w.category, InlineKeyWarning)]
        assert len(inline) == 1
        assert inline[0].filename == __file__
        assert "line 4: providers[0].api_keys[0]" in str(inline[0].message)
        assert "sk-inline-value" not in str(inline[0].message)


# -- whatever the file holds, only ByokConfigError --------------------------------------------------------------------
def _fuzz_file(tmp_path: Path, suffix: str, data: bytes) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        load_config(path, environment="")
    except ByokConfigError as exc:
        assert str(exc).startswith(("config file", str(path)))


_YAMLISH = [
    "providers:",
    "\n",
    "  - id: openai",
    "    api_keys:",
    "      - ",
    "value: ",
    "${env.X}",
    "[",
    "]",
    "{",
    "}",
    "'",
    '"',
    ":",
    "&a",
    "*a",
    "<<: *a",
    "!!binary",
    "!!python/object",
    "rpm: -1",
    "\t",
    "#",
    "state: ",
]
_TOMLISH = [
    "[[providers]]",
    "\n",
    'id = "openai"',
    "[[providers.api_keys]]",
    'value = "${env.X}"',
    "[",
    "]",
    "{",
    "}",
    "=",
    '"',
    "'",
    "rpm = 0",
    "state = 1",
    "a.b.c = 1",
    '"""',
    "\\u0000",
    "inf",
    "nan",
]


def test_fuzz_yaml_and_toml_raise_only_config_errors(tmp_path: Path) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

    @fuzz
    @given(st.text(), st.sampled_from([".yaml", ".toml"]))
    def text_files(text: str, suffix: str) -> None:
        _fuzz_file(tmp_path, suffix, text.encode("utf-8", "surrogatepass"))

    @fuzz
    @given(st.binary(max_size=200), st.sampled_from([".yaml", ".toml"]))
    def byte_files(data: bytes, suffix: str) -> None:
        _fuzz_file(tmp_path, suffix, data)

    @fuzz
    @given(st.lists(st.sampled_from(_YAMLISH), max_size=30))
    def yamlish(parts: list[str]) -> None:
        _fuzz_file(tmp_path, ".yaml", "".join(parts).encode())

    @fuzz
    @given(st.lists(st.sampled_from(_TOMLISH), max_size=30))
    def tomlish(parts: list[str]) -> None:
        _fuzz_file(tmp_path, ".toml", "".join(parts).encode())

    text_files()
    byte_files()
    yamlish()
    tomlish()
