"""Test helpers: :class:`MockProvider`, a local server speaking the OpenAI, Anthropic and Gemini APIs per scripted key.

Example::

    from byok_client.testing import MockProvider, ok, rate_limited

    with MockProvider() as mock:
        mock.add_key("sk-a", rate_limited(retry_after=1), label="a")
        mock.add_key("sk-b", label="b")
        client = openai.OpenAI(api_key="sk-b", base_url=mock.openai_base_url)
        ...
        assert mock.labels() == ["b"]
"""

from ._behaviours import (
    BadRequest,
    Behaviour,
    Delay,
    InvalidKey,
    Ok,
    QuotaExhausted,
    RateLimited,
    ServerError,
    bad_request,
    delay,
    invalid_key,
    ok,
    quota_exhausted,
    rate_limited,
    server_error,
)
from ._server import MockProvider, RecordedRequest

__all__ = [
    "BadRequest",
    "Behaviour",
    "Delay",
    "InvalidKey",
    "MockProvider",
    "Ok",
    "QuotaExhausted",
    "RateLimited",
    "RecordedRequest",
    "ServerError",
    "bad_request",
    "delay",
    "invalid_key",
    "ok",
    "quota_exhausted",
    "rate_limited",
    "server_error",
]
