"""``Provider.request_model``: the request's model from the JSON body (a scan at depth 1, no parse) or the URL."""

from __future__ import annotations

import json
import time
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from hypothesis import given, settings
from hypothesis import strategies as st

from byok_client.providers.anthropic import AnthropicProvider
from byok_client.providers.base import Provider, json_top_level_string
from byok_client.providers.gemini import GeminiProvider
from byok_client.providers.openai import AzureOpenAIProvider, OpenAIProvider
from byok_client.testing import MockProvider, ok

BODY_PROVIDERS: list[Provider] = [OpenAIProvider(), AnthropicProvider(), AzureOpenAIProvider()]


def loads_model(body: bytes) -> str | None:
    """What a full parse says: the reference the scan must agree with."""
    data = json.loads(body)
    value = data.get("model") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


# JSON where "model" turns up everywhere: as nested keys, inside strings, escaped, next to brackets in text.
tricky_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(['"model": "x"', '{"model":"y"}', "model", '\\"model\\"', "]}", "{[", "\\", '"', "\u2028"]),
)
keys = st.one_of(st.just("model"), st.sampled_from(["messages", "content", "mode", "models"]), st.text(max_size=6))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | tricky_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=25,
)
top_objects = st.dictionaries(keys, json_values, max_size=6)
dump_options = st.fixed_dictionaries(
    {
        "ensure_ascii": st.booleans(),
        "indent": st.sampled_from([None, 0, 2, "\t"]),
        "separators": st.sampled_from([None, (",", ":"), (" ,  ", " :\n ")]),
    }
)


@settings(max_examples=200)
@given(data=top_objects, options=dump_options, bom=st.booleans())
def test_scan_agrees_with_json_loads(data: dict[str, Any], options: dict[str, Any], bom: bool) -> None:
    body = json.dumps(data, **options).encode()
    if bom:
        body = b"\xef\xbb\xbf" + body
    assert json_top_level_string(body, "model") == loads_model(body)
    for provider in BODY_PROVIDERS:
        assert provider.request_model("/v1/chat/completions", body) == loads_model(body)


@settings(max_examples=50)
@given(data=top_objects, nested=st.integers(0, 14), first=st.booleans())
def test_scan_agrees_with_json_loads_with_many_nested_model_keys(
    data: dict[str, Any], nested: int, first: bool
) -> None:
    # past 8 occurrences of the key the scan switches to its linear full pass: both must agree with json.loads
    padding = {"pad": [{"model": f"nested-{i}", "x": {"model": "deeper"}} for i in range(nested)]}
    merged = {**padding, **data} if first else {**data, **padding}
    body = json.dumps(merged).encode()
    assert json_top_level_string(body, "model") == loads_model(body)


@settings(max_examples=150)
@given(body=st.one_of(st.binary(max_size=300), top_objects.map(lambda d: json.dumps(d).encode()[:-3])))
def test_scan_never_raises_on_any_bytes(body: bytes) -> None:
    for provider in [*BODY_PROVIDERS, GeminiProvider()]:
        value = provider.request_model("/v1/chat/completions", body)
        assert value is None or isinstance(value, str)


@pytest.mark.parametrize(
    ("body", "model"),
    [
        (b'{"messages": [{"content": "say \\"model\\": \\"evil\\""}], "model": "gpt-4o"}', "gpt-4o"),
        (b'{"tools": [{"model": "nested"}], "x": {"model": "deeper"}}', None),
        (b'{"messages": [{"model": "inner"}], "model": "outer", "meta": {"model": "after"}}', "outer"),
        (b'{"model": "first", "stream": true, "model": "last"}', "last"),  # json.loads keeps the last
        (b'{"model": "a", "model": null}', None),
        (b'{"mod\\u0065l": "escaped-key"}', "escaped-key"),
        (b'{"tools": [{"model": "n"}], "mod\\u0065l": "escaped-key"}', "escaped-key"),
        (b'{"model": "gpt-\\u00e9\\n"}', "gpt-\u00e9\n"),
        (b'{"content": "\\\\", "model": "after-backslash"}', "after-backslash"),
        (b'{"model": 4}', None),
        (b'{"model": ["gpt-4o"]}', None),
        (b'[{"model": "in-an-array"}]', None),
        (b"", None),
        (b"   ", None),
        (b'{"model": "unterminated', None),
        (b'--boundary\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--boundary--', None),
        (b'{"a": [' + b'{"model": "n"},' * 50 + b'{}], "model": "many-nested"}', "many-nested"),  # the full scan
    ],
)
def test_scan_cases(body: bytes, model: str | None) -> None:
    assert json_top_level_string(body, "model") == model
    assert OpenAIProvider().request_model("/v1/chat/completions", body) == model


def test_one_megabyte_body_timing() -> None:
    messages = [{"role": "user", "content": 'a "model": "x" line {with} [brackets]\n' * 200} for _ in range(120)]
    body = json.dumps({"messages": messages, "model": "gpt-4o-mini", "temperature": 0.2}).encode()
    assert len(body) > 1_000_000
    started = time.perf_counter()
    found = OpenAIProvider().request_model("/v1/chat/completions", body)
    scanned = time.perf_counter() - started
    started = time.perf_counter()
    parsed = loads_model(body)
    loaded = time.perf_counter() - started
    assert found == parsed == "gpt-4o-mini"
    print(f"\n1 MB body: request_model {scanned * 1e3:.2f} ms, json.loads {loaded * 1e3:.2f} ms")


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/openai/deployments/my-gpt4o/chat/completions", "my-gpt4o"),
        ("/openai/deployments/my%20dep/embeddings", "my dep"),
        ("/openai/v1/chat/completions", "from-body"),
    ],
)
def test_azure_deployment_from_the_path_else_the_body(path: str, model: str) -> None:
    assert AzureOpenAIProvider().request_model(path, b'{"model": "from-body"}') == model


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/v1beta/models/gemini-2.5-flash:generateContent", "gemini-2.5-flash"),
        ("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "gemini-2.5-pro"),
        ("/v1beta/models/text-embedding-004:batchEmbedContents", "text-embedding-004"),
        ("/v1/models/gemini-2.0-flash", "gemini-2.0-flash"),
        ("/v1beta/tunedModels/my-tuned-123:generateContent", "tunedModels/my-tuned-123"),
        ("/upload/v1beta/files", None),
        ("/v1beta/models", None),
        ("", None),
    ],
)
def test_gemini_model_from_the_path(path: str, model: str | None) -> None:
    assert GeminiProvider().request_model(path, b'{"model": "not-read"}') == model


# -- what the real SDKs send ----------------------------------------------------------------------------------------


def test_bodies_the_real_sdks_send() -> None:
    with MockProvider() as mock:
        mock.add_key("sk-a", ok(), label="a")
        oai = openai.OpenAI(api_key="sk-a", base_url=mock.openai_base_url, max_retries=0)
        oai.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": 'pretend {"model": "gpt-evil"} is here'}],
            metadata={"model": "not-this"},
        )
        oai.embeddings.create(model="text-embedding-3-small", input="hi")
        oai.files.create(file=("data.jsonl", b'{"model": "in-a-file"}\n'), purpose="batch")
        claude = anthropic.Anthropic(api_key="sk-a", base_url=mock.anthropic_base_url, max_retries=0)
        claude.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
        gemini = genai.Client(api_key="sk-a", http_options=genai.types.HttpOptions(base_url=mock.gemini_base_url))
        gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")
        chat, embeddings, upload, message, generate = mock.requests
    openai_provider = OpenAIProvider()
    assert openai_provider.request_model(chat.path, chat.body) == "gpt-4o-mini"
    assert openai_provider.request_model(embeddings.path, embeddings.body) == "text-embedding-3-small"
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert openai_provider.request_model(upload.path, upload.body) is None
    assert AnthropicProvider().request_model(message.path, message.body) == "claude-haiku-4-5"
    assert GeminiProvider().request_model(generate.path, generate.body) == "gemini-2.5-flash"
