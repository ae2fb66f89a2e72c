"""Scripted replies: text, JSON content (structured output), tool calls and usage numbers for each provider."""

from __future__ import annotations

import json as _json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ._behaviours import Behaviour

__all__ = ["Reply", "ToolCall", "reply", "tool_call"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool (function) call in a :class:`Reply` (see :func:`tool_call`)."""

    name: str
    arguments: str
    """The arguments as a JSON object text (what OpenAI sends; Anthropic and Gemini get it parsed)."""
    id: str | None = None

    def args(self) -> dict[str, Any]:
        value = _json.loads(self.arguments)
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class Reply(Behaviour):
    """Answer normally with this content (see :func:`reply`); the shape (plain or streamed) follows the request."""

    text: str | None = None
    json: Any = None
    tool_calls: tuple[ToolCall, ...] = ()
    input_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def content(self) -> str | None:
        """The text the model "says": ``text``, or ``json`` rendered as JSON, or ``None`` (tool calls only)."""
        if self.text is not None:
            return self.text
        if self.json is not None:
            return _json.dumps(self.json)
        return None

    def for_label(self, label: str) -> Reply:
        """This reply, or the default "served by <label>" text when it says nothing and calls no tool."""
        if self.text is None and self.json is None and not self.tool_calls:
            return replace(self, text=f"served by {label}")
        return self


def tool_call(name: str, arguments: Mapping[str, Any] | str | None = None, *, id: str | None = None) -> ToolCall:
    """A tool call to ``name`` with ``arguments`` (a mapping, or a JSON object text); ``id`` defaults to a fresh
    provider-shaped id (``call_...`` / ``toolu_...``)."""
    if not isinstance(name, str) or not name:
        raise ValueError("tool_call needs a non-empty function name")
    if arguments is None:
        text = "{}"
    elif isinstance(arguments, str):
        try:
            parsed = _json.loads(arguments)
        except ValueError as exc:
            raise ValueError(f"tool_call arguments for {name!r} are not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise ValueError(f"tool_call arguments for {name!r} must be a JSON object")
        text = arguments
    elif isinstance(arguments, Mapping):
        text = _json.dumps(dict(arguments))
    else:
        raise TypeError(f"tool_call arguments must be a mapping or a JSON text, got {type(arguments).__name__}")
    return ToolCall(name, text, id)


def reply(
    text: str | None = None,
    *,
    json: Any = None,
    tool_calls: Iterable[ToolCall] = (),
    input_tokens: int | None = None,
    output_tokens: int | None = None,
) -> Reply:
    """A successful answer with scripted content, for every endpoint that generates (chat completions, Responses,
    Anthropic messages, Gemini generateContent), streamed when the request asks for a stream.

    ``text`` is the message; ``json`` (any JSON-able value) is sent as the message text rendered as JSON, which is
    what structured output parses (``chat.completions.parse``, genai ``response.parsed``); ``tool_calls`` (from
    :func:`tool_call`) become OpenAI ``tool_calls`` / Responses ``function_call`` items, Anthropic ``tool_use``
    blocks or Gemini ``functionCall`` parts, streamed as argument deltas. ``input_tokens`` / ``output_tokens`` set
    the usage numbers (default: estimates). With no content at all it says "served by <label>".
    """
    if text is not None and json is not None:
        raise ValueError("reply takes text or json, not both")
    if text is not None and not isinstance(text, str):
        raise TypeError("reply text must be a str")
    calls = tuple(tool_calls)
    for call in calls:
        if not isinstance(call, ToolCall):
            raise TypeError("reply tool_calls must be made with tool_call()")
    for name, value in (("input_tokens", input_tokens), ("output_tokens", output_tokens)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"reply {name} must be an int >= 0")
    if json is not None:
        _json.dumps(json)  # refuse what cannot be sent, now rather than inside the server
    return Reply(text, json, calls, input_tokens, output_tokens)
