"""Test helpers: :class:`MockProvider`, a local server speaking the OpenAI, Anthropic and Gemini APIs per scripted key.

Example::

    from byok_client.testing import MockProvider, ok, rate_limited

    with MockProvider() as mock:
        mock.add_key("sk-a", rate_limited(retry_after=1), label="a")
        mock.add_key("sk-b", label="b")
        client = openai.OpenAI(api_key="sk-b", base_url=mock.openai_base_url)
        ...
        assert mock.labels() == ["b"]

Beyond scripts per key: :func:`reply` (text, JSON, tool calls, usage), :meth:`MockProvider.queue` and
:meth:`MockProvider.when`, model-scoped scripts, transport faults (:func:`connection_reset`, :func:`reset_mid_body`,
:func:`stall`, :func:`truncated_stream`), seeded :meth:`MockProvider.inject_faults` and token-bucket
:meth:`MockProvider.rate_limit`. See ``docs/testing.md``.
"""

from ._behaviours import (
    BadRequest,
    Behaviour,
    ConnectionReset,
    Delay,
    InvalidKey,
    Ok,
    QuotaExhausted,
    RateLimited,
    ResetMidBody,
    ServerError,
    Stall,
    TruncatedStream,
    bad_request,
    connection_reset,
    delay,
    invalid_key,
    ok,
    quota_exhausted,
    rate_limited,
    reset_mid_body,
    server_error,
    stall,
    truncated_stream,
)
from ._faults import FAULT_KINDS
from ._ratelimit import DEFAULT_OUTPUT_TOKENS, Bucket, go_duration
from ._replies import Reply, ToolCall, reply, tool_call
from ._server import MockProvider, RecordedRequest

__all__ = [
    "DEFAULT_OUTPUT_TOKENS",
    "FAULT_KINDS",
    "Bucket",
    "BadRequest",
    "Behaviour",
    "ConnectionReset",
    "Delay",
    "InvalidKey",
    "MockProvider",
    "Ok",
    "QuotaExhausted",
    "RateLimited",
    "RecordedRequest",
    "Reply",
    "ResetMidBody",
    "ServerError",
    "Stall",
    "ToolCall",
    "TruncatedStream",
    "bad_request",
    "connection_reset",
    "delay",
    "go_duration",
    "invalid_key",
    "ok",
    "quota_exhausted",
    "rate_limited",
    "reply",
    "reset_mid_body",
    "server_error",
    "stall",
    "tool_call",
    "truncated_stream",
]
