"""OpenAI and OpenAI-compatible APIs: Bearer auth, ``{"error": {...}}`` bodies, ``x-ratelimit-*`` headers.

Azure OpenAI and the OpenAI-compatible hosts (Groq, DeepSeek, Mistral, Together, OpenRouter, Ollama) are recognised
by the client's base URL; each has its own key env variables. Any other host (vLLM, a proxy) is treated as OpenAI.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping

from ..core.policy import Failure, Verdict
from .base import (
    Provider,
    json_body,
    json_top_level_string,
    object_field,
    parse_duration,
    parse_seconds,
    rate_limit,
    text_field,
)

__all__ = ["COMPATIBLE", "AzureOpenAIProvider", "CompatibleHost", "OpenAIProvider", "openai_provider_for"]

QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"})
RATE_LIMIT_CODES = frozenset({"rate_limit_exceeded", "slow_down"})
# Phrases read only when status, code and headers leave the question open.
_TRY_AGAIN = re.compile(r"try again in ((?:\d+(?:\.\d+)?(?:ms|h|m|s))+)", re.IGNORECASE)
_OVER_LIMIT = re.compile(r"Limit ([0-9]+), Used ([0-9]+), Requested ~?([0-9]+)")
_ACCOUNT_WIDE = re.compile(r"free-models-per-(?:day|min)", re.IGNORECASE)
_PER_DAY = re.compile(r"per[- ]day", re.IGNORECASE)
INVALID_KEY_CODES = frozenset({"invalid_api_key", "account_deactivated", "api_key_revoked", "invalid_authentication"})


def error_fields(body: bytes) -> tuple[frozenset[str], str]:
    """The ``code``/``type`` values (lower-case) and the message of an OpenAI-shaped error body. Never raises:
    fields of the wrong type read as absent."""
    error = object_field(json_body(body), "error")
    codes = frozenset(value.lower() for f in ("code", "type") if (value := text_field(error, f)))
    return codes, text_field(error, "message")


def openai_reset(headers: Mapping[str, str]) -> float | None:
    """When a rate-limited OpenAI key is usable again (see ``Provider.limit_reset``)."""
    return _OPENAI.limit_reset(headers)


class OpenAIProvider(Provider):
    """OpenAI's API and the many that copy its shapes."""

    limits = (
        ("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
        ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    )
    limit_totals = ("x-ratelimit-limit-requests", "x-ratelimit-limit-tokens")
    limit_headers = frozenset(name.encode() for pair in (*limits, limit_totals) for name in pair)

    def __init__(self, name: str = "openai", env_prefix: str = "OPENAI") -> None:
        self.name = name
        self.env_list = (f"{env_prefix}_API_KEYS",)
        self.env_numbered = (f"{env_prefix}_API_KEY_",)

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        """OpenAI's error classes (see ``Provider.classify``; never raises). Rate limits are per model (OpenAI
        sets them per model, and so do the compatible hosts); quota, billing and invalid keys bind the whole key."""
        codes, message = error_fields(body)
        if status == 402 or (status in (400, 403, 429) and codes & QUOTA_CODES):
            return Verdict(Failure.QUOTA_EXHAUSTED, None, "quota exhausted")
        if status == 429 or (status == 503 and codes & RATE_LIMIT_CODES):
            return self._rate_limited(headers, message)
        if status == 401 or (status == 403 and codes & INVALID_KEY_CODES):
            return Verdict(Failure.INVALID_KEY, None, f"HTTP {status} {'/'.join(sorted(codes)) or 'unauthorized'}")
        if status >= 500:
            return Verdict(Failure.SERVER_ERROR, None, f"HTTP {status}")
        return Verdict(Failure.CLIENT_ERROR, None, f"HTTP {status}")

    def request_model(self, path: str, body: bytes) -> str | None:
        """The top-level ``"model"`` of the JSON body (see ``json_top_level_string``); None for multipart."""
        return json_top_level_string(body, "model")

    @staticmethod
    def _rate_limited(headers: Mapping[str, str], message: str) -> Verdict:
        over = _OVER_LIMIT.search(message)
        limit, requested = (_as_int(over.group(1)), _as_int(over.group(3))) if over else (None, None)
        if limit is not None and requested is not None and requested > limit:
            # One request larger than the key's whole limit (Groq): waiting cannot help, the request is the problem.
            return Verdict(Failure.CLIENT_ERROR, None, "request exceeds the rate limit itself")
        # OpenRouter's free-model allowance is one per account, shared by every free model.
        per_model = _ACCOUNT_WIDE.search(message) is None
        reset = openai_reset(headers)
        if reset is None and (match := _TRY_AGAIN.search(message)):
            reset = parse_duration(match.group(1))
        if reset is None and _PER_DAY.search(message):
            return Verdict(Failure.QUOTA_EXHAUSTED, None, "daily limit reached", per_model=per_model)
        return rate_limit(reset, per_model=per_model)


def _as_int(digits: str) -> int | None:
    try:
        return int(digits)
    except ValueError:  # more digits than int() converts
        return None


_OPENAI = OpenAIProvider()
_AZURE_RETRY = re.compile(r"(?:retry after|try again in) ([0-9]+(?:\.[0-9]+)?) seconds?", re.IGNORECASE)
_AZURE_DEPLOYMENT = re.compile(r"/openai/deployments/([^/?#]+)")
_AZURE_QUOTA = "out of call volume quota"


class AzureOpenAIProvider(OpenAIProvider):
    """Azure OpenAI: the key goes in ``api-key``; errors carry ``code`` as a string ("429", "401") and the wait
    is often only in the message ("Please retry after 6 seconds")."""

    default_header = "api-key"
    exclusive_header = True

    def __init__(self) -> None:
        super().__init__("azure-openai", "AZURE_OPENAI")

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        """Azure's shapes on top of OpenAI's (never raises). Rate limits are per deployment, i.e. per model; the
        "out of call volume quota" 403 binds the whole resource key."""
        _, message = error_fields(body)
        if not message:
            message = text_field(json_body(body), "message")
        if status == 403 and _AZURE_QUOTA in message.lower():
            return Verdict(Failure.QUOTA_EXHAUSTED, None, "out of call volume quota")
        if status == 429 and openai_reset(headers) is None and (match := _AZURE_RETRY.search(message)):
            return rate_limit(parse_seconds(match.group(1)), per_model=True)
        return super().classify(status, headers, body)

    def request_model(self, path: str, body: bytes) -> str | None:
        """The deployment of ``/openai/deployments/{name}/...`` (Azure's per-model URL), else the body's
        ``"model"`` (the ``/openai/v1/`` API)."""
        match = _AZURE_DEPLOYMENT.search(path) if isinstance(path, str) else None
        if match is not None:
            return urllib.parse.unquote(match.group(1))
        return json_top_level_string(body, "model")


class CompatibleHost:
    """An OpenAI-compatible provider recognised by its API host (or, for local servers, its usual port)."""

    __slots__ = ("base_url", "env_prefix", "hosts", "name", "port")

    def __init__(self, name: str, env_prefix: str, hosts: tuple[str, ...], base_url: str, port: int | None = None):
        self.name = name
        self.env_prefix = env_prefix
        self.hosts = hosts
        self.base_url = base_url
        self.port = port

    def matches(self, host: str, port: int | None) -> bool:
        return any(host == h or host.endswith("." + h) for h in self.hosts) or (
            self.port is not None and port == self.port
        )


COMPATIBLE: tuple[CompatibleHost, ...] = (
    CompatibleHost("groq", "GROQ", ("api.groq.com",), "https://api.groq.com/openai/v1"),
    CompatibleHost("deepseek", "DEEPSEEK", ("api.deepseek.com",), "https://api.deepseek.com"),
    CompatibleHost("mistral", "MISTRAL", ("api.mistral.ai",), "https://api.mistral.ai/v1"),
    CompatibleHost("together", "TOGETHER", ("api.together.xyz", "api.together.ai"), "https://api.together.xyz/v1"),
    CompatibleHost("openrouter", "OPENROUTER", ("openrouter.ai",), "https://openrouter.ai/api/v1"),
    CompatibleHost("ollama", "OLLAMA", (), "http://localhost:11434/v1", port=11434),
)
_AZURE_HOSTS = ("openai.azure.com", "cognitiveservices.azure.com", "services.ai.azure.com")
_PROVIDERS: dict[str, OpenAIProvider] = {"openai": OpenAIProvider(), "azure-openai": AzureOpenAIProvider()}
_PROVIDERS.update({c.name: OpenAIProvider(c.name, c.env_prefix) for c in COMPATIBLE})


def openai_provider_for(host: str, port: int | None = None) -> OpenAIProvider:
    """The provider for an OpenAI-SDK base URL's host: Azure, a known compatible host, else OpenAI."""
    host = host.lower()
    if any(host == h or host.endswith("." + h) for h in _AZURE_HOSTS):
        return _PROVIDERS["azure-openai"]
    for compatible in COMPATIBLE:
        if compatible.matches(host, port):
            return _PROVIDERS[compatible.name]
    return _PROVIDERS["openai"]
