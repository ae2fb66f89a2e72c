"""MockProvider scripted replies (text, JSON, tool calls, usage) through the real SDKs, plain and streamed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as genai_types
from pydantic import BaseModel

from byok_client import OpenAI as ByokOpenAI
from byok_client.testing import (
    MockProvider,
    RecordedRequest,
    delay,
    ok,
    rate_limited,
    reply,
    server_error,
    tool_call,
)

MESSAGES: Any = [{"role": "user", "content": "weather in Paris?"}]
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CALL = tool_call("get_weather", {"city": "Paris", "unit": "celsius"}, id="call_1")


class Weather(BaseModel):
    city: str
    temperature: float
    sunny: bool


@pytest.fixture
def mock(mock: MockProvider) -> Iterator[MockProvider]:
    mock.add_key("sk-1", label="k1")
    mock.add_key("sk-2", label="k2")
    yield mock


def oai(mock: MockProvider, key: str = "sk-1") -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=mock.openai_base_url, max_retries=0)


def claude(mock: MockProvider, key: str = "sk-1") -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=mock.anthropic_base_url, max_retries=0)


def gemini(mock: MockProvider, key: str = "sk-1") -> genai.Client:
    return genai.Client(api_key=key, http_options=genai_types.HttpOptions(base_url=mock.gemini_base_url))


# --------------------------------------------------------------------------------------------------------------------
# Text, JSON and structured output
# --------------------------------------------------------------------------------------------------------------------


def test_default_reply_unchanged_and_text_reply_with_usage(mock: MockProvider) -> None:
    with oai(mock) as client:
        assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == (
            "served by k1"
        )
        mock.set("sk-1", reply("Bonjour tout le monde", input_tokens=11, output_tokens=4))
        completion = client.chat.completions.create(model="m", messages=MESSAGES)
        assert completion.choices[0].message.content == "Bonjour tout le monde"
        assert completion.usage is not None
        assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (11, 4)
        stream = client.chat.completions.create(
            model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Bonjour tout le monde"
        assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 15


def test_openai_parse_structured_output(mock: MockProvider) -> None:
    mock.set("sk-1", reply(json={"city": "Paris", "temperature": 21.5, "sunny": True}))
    with oai(mock) as client:
        completion = client.chat.completions.parse(model="gpt-4o-mini", messages=MESSAGES, response_format=Weather)
        parsed = completion.choices[0].message.parsed
        assert parsed == Weather(city="Paris", temperature=21.5, sunny=True)
        with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES, response_format=Weather) as s:
            final = s.get_final_completion()
        assert final.choices[0].message.parsed == parsed
        response = client.responses.parse(model="gpt-5-mini", input="weather?", text_format=Weather)
        assert response.output_parsed == parsed
    sent = mock.requests[0].json()
    assert sent["response_format"]["type"] == "json_schema"


def test_genai_response_parsed(mock: MockProvider) -> None:
    mock.set("sk-1", reply(json={"city": "Lyon", "temperature": 18, "sunny": False}))
    client = gemini(mock)
    config = genai_types.GenerateContentConfig(response_mime_type="application/json", response_schema=Weather)
    response = client.models.generate_content(model="gemini-2.5-flash", contents="weather?", config=config)
    assert response.parsed == Weather(city="Lyon", temperature=18, sunny=False)
    assert mock.requests[0].json()["generationConfig"]["responseMimeType"] == "application/json"


# --------------------------------------------------------------------------------------------------------------------
# Tool calls
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_openai_chat_tool_call_round_trip(mock: MockProvider, stream: bool) -> None:
    mock.queue(reply(tool_calls=[CALL]), reply("It is sunny in Paris."), key="sk-1")
    first: openai.types.chat.ChatCompletion
    with oai(mock) as client:
        if stream:
            with client.chat.completions.stream(model="m", messages=MESSAGES, tools=[WEATHER_TOOL]) as s:
                deltas = [e for e in s if e.type == "tool_calls.function.arguments.delta"]
                first = s.get_final_completion()
            assert len(deltas) > 1  # the arguments arrived in pieces
        else:
            first = client.chat.completions.create(model="m", messages=MESSAGES, tools=[WEATHER_TOOL])
        choice = first.choices[0]
        assert choice.finish_reason == "tool_calls"
        (call,) = choice.message.tool_calls or []
        assert call.type == "function" and call.id == "call_1" and call.function.name == "get_weather"
        assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}
        follow_up: Any = [
            *MESSAGES,
            {"role": "assistant", "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": '{"sky": "clear"}'},
        ]
        second = client.chat.completions.create(model="m", messages=follow_up, tools=[WEATHER_TOOL])
        assert second.choices[0].message.content == "It is sunny in Paris."
        assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == (
            "served by k1"  # the queue is used up
        )
    assert mock.requests[1].json()["messages"][-1]["tool_call_id"] == "call_1"


@pytest.mark.parametrize("stream", [False, True])
def test_openai_responses_function_call(mock: MockProvider, stream: bool) -> None:
    mock.set("sk-1", reply(tool_calls=[CALL, tool_call("get_time", '{"tz": "CET"}')]))
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": WEATHER_TOOL["function"]["parameters"]}]
    response: openai.types.responses.Response
    with oai(mock) as client:
        if stream:
            with client.responses.stream(model="gpt-5-mini", input="weather?", tools=tools) as s:
                kinds = [e.type for e in s]
                response = s.get_final_response()
            assert kinds.count("response.function_call_arguments.delta") > 2
            assert kinds.count("response.function_call_arguments.done") == 2
        else:
            response = client.responses.create(model="gpt-5-mini", input="weather?", tools=tools)
    calls = [item for item in response.output if item.type == "function_call"]
    assert (calls[0].name, calls[0].call_id, json.loads(calls[0].arguments)) == (
        "get_weather",
        "call_1",
        {"city": "Paris", "unit": "celsius"},
    )
    assert calls[1].name == "get_time" and calls[1].call_id.startswith("call_")


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_tool_use_round_trip(mock: MockProvider, stream: bool) -> None:
    mock.queue(reply("Let me check.", tool_calls=[tool_call("get_weather", {"city": "Paris"})]), reply("Sunny."))
    tools: Any = [{"name": "get_weather", "input_schema": WEATHER_TOOL["function"]["parameters"]}]
    with claude(mock) as client:
        kwargs: Any = {"model": "claude-haiku-4-5", "max_tokens": 100, "tools": tools}
        if stream:
            with client.messages.stream(messages=MESSAGES, **kwargs) as s:
                partial = [e for e in s if e.type == "input_json"]
                message = s.get_final_message()
            assert len(partial) >= 2
        else:
            message = client.messages.create(messages=MESSAGES, **kwargs)
        assert message.stop_reason == "tool_use"
        text, use = message.content
        assert text.type == "text" and text.text == "Let me check."
        assert use.type == "tool_use" and use.name == "get_weather" and use.input == {"city": "Paris"}
        assert use.id.startswith("toolu_")
        follow_up: Any = [
            *MESSAGES,
            {"role": "assistant", "content": [b.model_dump() for b in message.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "clear"}]},
        ]
        final = client.messages.create(messages=follow_up, **kwargs)
        assert final.content[0].type == "text" and final.content[0].text == "Sunny."
    assert mock.requests[1].json()["messages"][-1]["content"][0]["tool_use_id"] == use.id


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_function_call_round_trip(mock: MockProvider, stream: bool) -> None:
    mock.queue(reply(tool_calls=[tool_call("get_weather", {"city": "Paris"})]), reply("Sunny in Paris."))
    client = gemini(mock)
    declaration = genai_types.FunctionDeclaration(
        name="get_weather", parameters_json_schema=WEATHER_TOOL["function"]["parameters"]
    )
    config = genai_types.GenerateContentConfig(
        tools=[genai_types.Tool(function_declarations=[declaration])],
        automatic_function_calling=genai_types.AutomaticFunctionCallingConfig(disable=True),
    )
    if stream:
        chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="w?", config=config))
        calls = [c for chunk in chunks for c in (chunk.function_calls or [])]
    else:
        result = client.models.generate_content(model="gemini-2.5-flash", contents="w?", config=config)
        calls = result.function_calls or []
    (call,) = calls
    assert call.name == "get_weather" and call.args == {"city": "Paris"}
    contents: Any = [
        genai_types.Content(role="user", parts=[genai_types.Part(text="w?")]),
        genai_types.Content(role="model", parts=[genai_types.Part(function_call=call)]),
        genai_types.Content(
            role="user",
            parts=[genai_types.Part.from_function_response(name="get_weather", response={"sky": "clear"})],
        ),
    ]
    final = client.models.generate_content(model="gemini-2.5-flash", contents=contents, config=config)
    assert final.text == "Sunny in Paris."
    sent = mock.requests[1].json()["contents"]
    assert sent[-1]["parts"][0]["functionResponse"]["name"] == "get_weather"


# --------------------------------------------------------------------------------------------------------------------
# Scopes: model, predicate, queue
# --------------------------------------------------------------------------------------------------------------------


def test_model_scoped_429_key_still_serves_other_models(mock: MockProvider) -> None:
    mock.script("sk-1", rate_limited(retry_after=30), model="model-a")
    with oai(mock) as client:
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="model-a", messages=MESSAGES)
        assert client.chat.completions.create(model="model-b", messages=MESSAGES).choices[0].message.content == (
            "served by k1"
        )
    # through byok_client: model B is served by key 1, model A fails over to key 2
    with ByokOpenAI(api_keys=["sk-1", "sk-2"], base_url=mock.openai_base_url, max_retries=0) as byok:
        b = byok.chat.completions.create(model="model-b", messages=MESSAGES)
        a = byok.chat.completions.create(model="model-a", messages=MESSAGES)
    assert b.choices[0].message.content == "served by k1"
    assert a.choices[0].message.content == "served by k2"
    assert [(r.label, r.model, r.fault) for r in mock.requests][2:] == [
        ("k1", "model-b", None),
        ("k1", "model-a", "429"),
        ("k2", "model-a", None),
    ]


def test_when_predicate_and_queue_precedence(mock: MockProvider) -> None:
    def is_poem(request: RecordedRequest) -> bool:
        return "poem" in str(request.json().get("messages"))

    mock.when(is_poem, reply("Roses are red"), reply("Violets are blue"))
    mock.set("sk-1", reply("plain"))
    poem: Any = [{"role": "user", "content": "a poem please"}]
    with oai(mock) as one, oai(mock, "sk-2") as two:
        assert one.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == "plain"
        assert one.chat.completions.create(model="m", messages=poem).choices[0].message.content == "Roses are red"
        assert two.chat.completions.create(model="m", messages=poem).choices[0].message.content == "Violets are blue"
        assert two.chat.completions.create(model="m", messages=poem).choices[0].message.content == "Violets are blue"
        mock.queue(server_error(503), key="sk-2")
        with pytest.raises(openai.InternalServerError):  # the queue wins over the rule
            two.chat.completions.create(model="m", messages=poem)
        mock.clear_scripts()
        assert two.chat.completions.create(model="m", messages=poem).choices[0].message.content == "served by k2"


def test_queued_reply_survives_an_injected_fault(mock: MockProvider) -> None:
    mock.queue(reply("the one"), model="m")
    mock.inject_faults(seed=1, rate=1.0, kinds={"500"})
    with oai(mock) as client:
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="m", messages=MESSAGES)
        mock.stop_faults()
        assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == "the one"
        assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == (
            "served by k1"
        )


def test_anthropic_streamed_text_reply(mock: MockProvider) -> None:
    mock.set("sk-1", ok())
    with claude(mock) as client:
        mock.set("sk-1", reply("a b c d e f g h"))
        with client.messages.stream(model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES) as s:
            assert s.get_final_text() == "a b c d e f g h"


def test_delayed_reply_and_a_fault_cut_from_the_reply(mock: MockProvider) -> None:
    mock.set("sk-1", delay(0.05, reply("after a pause")))
    with oai(mock) as client:
        assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == (
            "after a pause"
        )
        mock.set("sk-1", reply("one two three four five six seven eight"))
        mock.inject_faults(seed=0, rate=1.0, kinds={"truncated_stream"})
        pieces: list[str] = []
        with pytest.raises(openai.APIConnectionError):
            for chunk in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
                pieces += [chunk.choices[0].delta.content or ""] if chunk.choices else []
        text = "".join(pieces)
        assert text and "one two three four five six seven eight".startswith(text) and not text.endswith("eight")


def test_bad_replies_are_refused(mock: MockProvider) -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        tool_call("f", "{nope")
    with pytest.raises(ValueError, match="JSON object"):
        tool_call("f", "[1, 2]")
    with pytest.raises(ValueError, match="name"):
        tool_call("")
    with pytest.raises(ValueError, match="text or json"):
        reply("x", json={})
    with pytest.raises(TypeError):
        reply(tool_calls=[{"name": "f"}])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="output_tokens"):
        reply("x", output_tokens=-1)
    with pytest.raises(TypeError):
        reply(json={1, 2})
    with pytest.raises(TypeError, match="predicate"):
        mock.when("x", ok())  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        mock.queue(ok(), key="sk-none")
