"""Keys stay on their origin: a copy or a base_url change to another origin is a new client for key purposes;
``allowed_origins`` lets a pool serve extra origins on purpose; options reach the pool from every place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from byok_client import ByokConfigError, KeyPool, OpenAI, Settings
from byok_client.testing import MockProvider, ok, rate_limited

from .test_openai_client import chat, keys


def elsewhere(mock: MockProvider) -> str:
    """The same server under another origin (localhost instead of 127.0.0.1)."""
    return mock.openai_base_url.replace("127.0.0.1", "localhost")


def test_a_copy_to_another_origin_takes_none_of_the_pools_keys(mock: MockProvider) -> None:
    ks = keys(mock, ok(), ok())
    client = OpenAI(api_keys=ks, base_url=mock.openai_base_url, max_retries=0)
    assert chat(client) == "served by k0"
    with pytest.raises(openai.OpenAIError, match="api_key"):  # as a fresh client there: no key for it
        client.with_options(base_url=elsewhere(mock))
    own = keys(mock, ok())
    other = client.with_options(base_url=elsewhere(mock), api_key=own[0].get_secret_value())
    assert other.key_pool is None  # passthrough with the SDK's own key, never the pool's
    assert chat(other) == "served by k0"
    assert mock.requests[-1].headers["authorization"] == "Bearer " + own[0].get_secret_value()
    assert chat(client) == "served by k0"  # the original is unchanged


def test_setting_base_url_to_another_origin_sends_none_of_the_pools_keys(mock: MockProvider) -> None:
    ks = keys(mock, ok())
    client = OpenAI(api_keys=ks, base_url=mock.openai_base_url, max_retries=0)
    client.base_url = elsewhere(mock)
    with pytest.raises(openai.APIStatusError):
        chat(client)
    assert mock.requests[-1].label == "<none>"


def test_another_origin_resolves_its_own_keys_as_a_fresh_client_would(
    mock: MockProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, theirs = keys(mock, ok()), keys(mock, ok())
    monkeypatch.setenv("OPENAI_API_KEYS", theirs[0].get_secret_value())
    client = OpenAI(api_keys=mine, base_url=mock.openai_base_url, max_retries=0)
    copied = client.with_options(base_url=elsewhere(mock))
    assert chat(copied) == "served by k0"
    assert mock.requests[-1].headers["authorization"].endswith(theirs[0].get_secret_value()[-6:])
    client.base_url = elsewhere(mock)
    chat(client)
    assert mock.requests[-1].headers["authorization"].endswith(theirs[0].get_secret_value()[-6:])


def test_allowed_origins_let_a_pool_serve_another_origin_on_purpose(mock: MockProvider) -> None:
    ks = keys(mock, ok())
    client = OpenAI(api_keys=ks, base_url=mock.openai_base_url, allowed_origins=[elsewhere(mock).rsplit("/", 1)[0]])
    other = client.with_options(base_url=elsewhere(mock))
    assert other.key_pool is client.key_pool
    assert chat(other) == "served by k0"


def test_a_copy_given_keys_uses_them_anywhere(mock: MockProvider) -> None:
    mine, theirs = keys(mock, ok()), keys(mock, ok())
    client = OpenAI(api_keys=mine, base_url=mock.openai_base_url)
    other = client.with_options(base_url=elsewhere(mock), api_keys=theirs)
    assert chat(other) == "served by k0"
    assert mock.requests[-1].label == "k0"


def test_absolute_urls_to_other_origins_get_no_key(mock: MockProvider) -> None:
    ks = keys(mock, ok())
    client = OpenAI(api_keys=ks, base_url=mock.openai_base_url, max_retries=0)
    with pytest.raises(openai.APIStatusError):
        client.get(elsewhere(mock) + "/models", cast_to=object)
    assert mock.requests[-1].label == "<none>"


@pytest.mark.parametrize("bad", ["api.example.com", ["ftp://x"], ["https://x/path"], 5])
def test_bad_allowed_origins_are_config_errors(bad: Any) -> None:
    with pytest.raises(ByokConfigError, match="allowed_origins"):
        KeyPool(["sk-origins-abcdef"], allowed_origins=bad)


def test_options_reach_the_pool_from_client_settings_and_config(
    mock: MockProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ks = keys(mock, rate_limited(retry_after=30), ok())
    values = [k.get_secret_value() for k in ks]
    client = OpenAI(api_keys=values, base_url=mock.openai_base_url, cooldown_scope="key")
    assert client.key_pool is not None and client.key_pool.cooldown_scope == "key"
    monkeypatch.setenv("BYOK_OPENAI__COOLDOWN_SCOPE", "key")
    monkeypatch.setenv("BYOK_OPENAI__MAX_COOLDOWN", "120")
    monkeypatch.setenv("BYOK_OPENAI__API_KEYS", ",".join(values))
    from_settings = OpenAI(settings=Settings(), base_url=mock.openai_base_url)
    assert from_settings.key_pool is not None
    assert from_settings.key_pool.cooldown_scope == "key"
    assert from_settings.key_pool.policy.max_cooldown == 120
    for name in ("BYOK_OPENAI__COOLDOWN_SCOPE", "BYOK_OPENAI__MAX_COOLDOWN", "BYOK_OPENAI__API_KEYS"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("CFG_KEY", values[0])
    config = tmp_path / "byok.yaml"
    config.write_text(
        "providers:\n"
        "  - id: openai\n"
        "    cooldown_scope: key\n"
        "    max_cooldown: 90\n"
        f"    allowed_origins: [{elsewhere(mock).rsplit('/', 1)[0]}]\n"
        "    api_keys:\n"
        "      - value: ${env.CFG_KEY}\n"
    )
    from_config = OpenAI(config=config, base_url=mock.openai_base_url)
    pool = from_config.key_pool
    assert pool is not None and pool.cooldown_scope == "key" and pool.policy.max_cooldown == 90
    assert len(pool.allowed_origins) == 1
    with pytest.raises(ByokConfigError, match="belong to the KeyPool"):
        OpenAI(key_pool=KeyPool(values), cooldown_scope="key")
